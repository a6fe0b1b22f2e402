//! Which redirect URIs a client may register, and which requested URI matches a registered
//! one: exactly (RFC 6749 §3.1.2, RFC 9700 §4.1.1: no pattern or prefix matching), except
//! that a native app's loopback IP redirect may name any port (RFC 8252 §7.3): the port it
//! listens on is only known when it starts.

use url::{Host, Url};

/// An absolute URL without fragment: `https`; `http` only for a loopback IP literal (or any
/// host in development); or a private-use scheme of a native app (`com.example.app:/cb`,
/// RFC 8252 §7.1). `http://localhost` is refused in production: the name may resolve
/// elsewhere or be answered by another program (RFC 8252 §8.3).
pub fn is_registrable(uri: &str, development: bool) -> bool {
    if uri.len() > 2000 || uri.trim() != uri {
        return false;
    }
    let Ok(url) = Url::parse(uri) else { return false };
    if url.fragment().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => url.host().is_some_and(|host| development || is_loopback(&host)),
        scheme => scheme.contains('.'),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(_) => false,
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Whether a requested redirect URI matches a registered one: the same string, or (when
/// `any_loopback_port`) for an `http` loopback IP redirect the same URI on another port.
pub fn matches(registered: &str, requested: &str, any_loopback_port: bool) -> bool {
    if registered == requested {
        return true;
    }
    if !any_loopback_port {
        return false;
    }
    let (Ok(mut registered), Ok(mut requested)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback = registered.scheme() == "http" && registered.host().is_some_and(|h| is_loopback(&h));
    // Compare everything but the port, as the URL parser normalised both.
    loopback && registered.set_port(None).is_ok() && requested.set_port(None).is_ok() && registered == requested
}

#[cfg(test)]
mod tests {
    use super::{is_registrable, matches};

    #[test]
    fn https_loopback_http_and_native_schemes_are_registrable() {
        for uri in
            ["https://app.example.com/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "com.example.app:/oauth"]
        {
            assert!(is_registrable(uri, false), "{uri}");
        }
    }

    #[test]
    fn localhost_is_for_development_only() {
        assert!(!is_registrable("http://localhost/cb", false));
        assert!(is_registrable("http://localhost:5173/cb", true));
    }

    #[test]
    fn a_loopback_ip_redirect_matches_on_any_port_and_nothing_else_does() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", true));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", false));
        assert!(matches("http://127.0.0.1:8080/cb", "http://127.0.0.1:9/cb", true));
        assert!(matches("http://[::1]/cb?x=1", "http://[::1]:4000/cb?x=1", true));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/other", true));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.2:51234/cb", true));
        assert!(!matches("http://localhost/cb", "http://localhost:51234/cb", true));
        assert!(!matches("https://app.example.com/cb", "https://app.example.com:8443/cb", true));
        assert!(!matches("http://127.0.0.1/cb", "https://127.0.0.1:8443/cb", true));
    }

    #[test]
    fn plain_http_fragments_and_relative_uris_are_not() {
        for uri in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "/cb",
            "javascript:alert(1)",
            "https://",
            " https://a.example/cb",
        ] {
            assert!(!is_registrable(uri, false), "{uri}");
        }
        assert!(is_registrable("http://app.example.com/cb", true));
    }
}
