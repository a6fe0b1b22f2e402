//! Cookies: reading the request's and writing `Set-Cookie`, through the `cookie` crate; and the
//! session-cookie mode of `/auth/login` (`"mode": "session"`), where the refresh token travels
//! only in an HttpOnly, SameSite=Lax cookie that page scripts never see, read by
//! `/auth/refresh` and `/auth/logout`. In development it is `ovlt_refresh` scoped to `/auth`; in
//! production `__Host-ovlt_refresh`, Secure, `Path=/`: the prefix makes browsers refuse one set
//! by a sibling subdomain, which could otherwise plant its own session (a narrower path would
//! even be sent first). docs/decisions/0009.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

/// Where a cookie is sent: host-only and Secure on `/` (production, with the `__Host-` prefix),
/// or under `path` over plain http (development).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    SecureHost,
    Path(&'static str),
}

/// `Set-Cookie` for an HttpOnly, SameSite=Lax cookie that lives `max_age_seconds` (0 removes it).
pub fn set_cookie(name: &str, value: &str, scope: Scope, max_age_seconds: i64) -> HeaderValue {
    let mut cookie = Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(max_age_seconds));
    cookie = match scope {
        Scope::SecureHost => cookie.path("/").secure(true),
        Scope::Path(path) => cookie.path(path),
    };
    HeaderValue::from_str(&cookie.build().to_string()).expect("cookie names and base64url values are header text")
}

/// The refresh cookie's name and scope: in production (`secure`) host-only, see above.
fn refresh_cookie_name(secure: bool) -> (&'static str, Scope) {
    if secure { ("__Host-ovlt_refresh", Scope::SecureHost) } else { ("ovlt_refresh", Scope::Path("/auth")) }
}

/// `Set-Cookie` carrying a refresh token for `max_age_seconds`.
pub fn set_refresh_cookie(token: &str, max_age_seconds: i64, secure: bool) -> HeaderValue {
    let (name, scope) = refresh_cookie_name(secure);
    set_cookie(name, token, scope, max_age_seconds)
}

/// `Set-Cookie` that removes the refresh cookie.
pub fn clear_refresh_cookie(secure: bool) -> HeaderValue {
    let (name, scope) = refresh_cookie_name(secure);
    set_cookie(name, "", scope, 0)
}

/// The refresh token from the request's `Cookie` headers, if any.
pub fn refresh_cookie(headers: &HeaderMap, secure: bool) -> Option<String> {
    read_cookie(headers, refresh_cookie_name(secure).0)
}

/// A cookie's non-empty value from the request's `Cookie` headers.
pub fn read_cookie(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    parsed(headers).find(|cookie| cookie.name() == cookie_name).map(|cookie| cookie.value().to_string())
}

/// Every `(name, value)` of the request's `Cookie` headers with a non-empty value; pairs that do
/// not parse are skipped.
pub fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (String, String)> {
    parsed(headers).map(|cookie| (cookie.name().to_string(), cookie.value().to_string()))
}

fn parsed(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'_>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| !cookie.value().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; ovlt_refresh=tok-en_1; b=2; broken; c="));
        assert_eq!(refresh_cookie(&headers, false).as_deref(), Some("tok-en_1"));
        assert_eq!(refresh_cookie(&headers, true), None, "production reads only the prefixed cookie");
        assert_eq!(read_cookie(&headers, "c"), None, "an empty value is no cookie");
    }

    #[test]
    fn set_cookies_carry_their_scope() {
        let parse = |value: HeaderValue| Cookie::parse(value.to_str().unwrap().to_string()).unwrap();
        let production = parse(set_refresh_cookie("abc", 60, true));
        assert_eq!((production.name(), production.value()), ("__Host-ovlt_refresh", "abc"));
        assert_eq!((production.path(), production.secure()), (Some("/"), Some(true)));
        assert_eq!((production.http_only(), production.same_site()), (Some(true), Some(SameSite::Lax)));
        assert_eq!(production.max_age(), Some(cookie::time::Duration::seconds(60)));
        let development = parse(clear_refresh_cookie(false));
        assert_eq!((development.name(), development.value()), ("ovlt_refresh", ""));
        assert_eq!((development.path(), development.secure()), (Some("/auth"), None));
        assert_eq!(development.max_age(), Some(cookie::time::Duration::ZERO));
    }
}
