//! The session-cookie mode of `/auth/login` (`"mode": "session"`): the refresh token travels
//! only in an HttpOnly, SameSite=Lax cookie scoped to `/auth`, Secure in production, where
//! `/auth/refresh` and `/auth/logout` read it. Page scripts never see it.

use axum::http::{HeaderMap, HeaderValue, header};

pub const REFRESH_COOKIE: &str = "ovlt_refresh";

/// `Set-Cookie` carrying a refresh token for `max_age_seconds`.
pub fn set_refresh_cookie(token: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // Refresh tokens are base64url: nothing in them needs quoting.
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={token}; Path=/auth; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("base64url tokens are valid header text")
}

/// `Set-Cookie` that removes the refresh cookie.
pub fn clear_refresh_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{REFRESH_COOKIE}=; Path=/auth; Max-Age=0; HttpOnly; SameSite=Lax{secure}"))
        .expect("static header text")
}

/// The refresh token from the request's `Cookie` headers, if any.
pub fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    read_cookie(headers, REFRESH_COOKIE)
}

/// A cookie's non-empty value from the request's `Cookie` headers.
pub fn read_cookie(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    cookies(headers).find(|(name, _)| *name == cookie_name).map(|(_, value)| value.to_string())
}

/// Every `(name, value)` of the request's `Cookie` headers with a non-empty value.
pub fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name, value.trim()))
        .filter(|(_, value)| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; ovlt_refresh=tok-en_1; b=2"));
        assert_eq!(refresh_cookie(&headers).as_deref(), Some("tok-en_1"));
        let cookie = set_refresh_cookie("abc", 60, true);
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.ends_with("Secure"));
    }
}
