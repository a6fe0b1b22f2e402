//! The session-cookie mode of `/auth/login` (`"mode": "session"`): the refresh token travels
//! only in an HttpOnly, SameSite=Lax cookie that page scripts never see, read by
//! `/auth/refresh` and `/auth/logout`. In development it is `ovlt_refresh` scoped to `/auth`; in
//! production `__Host-ovlt_refresh`, Secure, `Path=/`: the prefix makes browsers refuse one set
//! by a sibling subdomain, which could otherwise plant its own session (a narrower path would
//! even be sent first). docs/decisions/0009.

use axum::http::{HeaderMap, HeaderValue, header};

/// The refresh cookie's name and scope: in production (`secure`) host-only, see above.
fn refresh_cookie_name(secure: bool) -> (&'static str, &'static str) {
    if secure { ("__Host-ovlt_refresh", "Path=/; Secure") } else { ("ovlt_refresh", "Path=/auth") }
}

/// `Set-Cookie` carrying a refresh token for `max_age_seconds`.
pub fn set_refresh_cookie(token: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let (name, scope) = refresh_cookie_name(secure);
    // Refresh tokens are base64url: nothing in them needs quoting.
    HeaderValue::from_str(&format!("{name}={token}; {scope}; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax"))
        .expect("base64url tokens are valid header text")
}

/// `Set-Cookie` that removes the refresh cookie.
pub fn clear_refresh_cookie(secure: bool) -> HeaderValue {
    let (name, scope) = refresh_cookie_name(secure);
    HeaderValue::from_str(&format!("{name}=; {scope}; Max-Age=0; HttpOnly; SameSite=Lax")).expect("static header text")
}

/// The refresh token from the request's `Cookie` headers, if any.
pub fn refresh_cookie(headers: &HeaderMap, secure: bool) -> Option<String> {
    read_cookie(headers, refresh_cookie_name(secure).0)
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
        assert_eq!(refresh_cookie(&headers, false).as_deref(), Some("tok-en_1"));
        assert_eq!(refresh_cookie(&headers, true), None, "production reads only the prefixed cookie");
        let cookie = set_refresh_cookie("abc", 60, true);
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("__Host-ovlt_refresh=abc; Path=/; Secure;"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    }
}
