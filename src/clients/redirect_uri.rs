//! Which redirect URIs a client may register. Requests must then name one of them exactly
//! (RFC 6749 §3.1.2, RFC 9700 §4.1.1: no pattern or prefix matching).

use url::{Host, Url};

/// An absolute URL without fragment: `https`; `http` only for a loopback host (or any host in
/// development); or a private-use scheme of a native app (`com.example.app:/cb`, RFC 8252 §7.1).
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
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_registrable;

    #[test]
    fn https_loopback_http_and_native_schemes_are_registrable() {
        for uri in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth",
        ] {
            assert!(is_registrable(uri, false), "{uri}");
        }
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
