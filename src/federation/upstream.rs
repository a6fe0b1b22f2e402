//! The HTTP client for calls to identity providers: reqwest over rustls, following no redirects
//! (a token endpoint that redirects is misconfigured or hostile), a deadline on every call and
//! a bound on every answer. It is what the `openidconnect` crate sends its requests through.
//!
//! Where a provider lives is a tenant administrator's input, and so are the endpoints its
//! metadata names: in production the client reaches only public addresses over https (checked
//! when names resolve, so DNS rebinding is checked too, and for IP literals before), unless the
//! operator allows private networks (`OVLT_UPSTREAM_PRIVATE_NETWORKS`, for an identity provider
//! on the same network). Otherwise any tenant could make the server call its neighbours.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Connecting and the whole exchange, each: an identity provider slower than this fails the
/// sign-in with a page rather than holding the browser.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery documents, key sets and token answers are a few kilobytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why an upstream call failed, without the answer's body (it may hold tokens).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the identity provider did not answer in time")]
    Timeout,
    #[error("the identity provider cannot be reached")]
    Unreachable,
    #[error("the identity provider's answer is too large")]
    TooLarge,
    #[error("the identity provider's address is not a public https address")]
    NotPublic,
    #[error("the call to the identity provider failed")]
    Other,
}

impl From<reqwest::Error> for UpstreamError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_connect() {
            Self::Unreachable
        } else {
            Self::Other
        }
    }
}

#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    /// Private, loopback and plain-http upstreams allowed (development, or the operator's choice).
    private_networks: bool,
}

impl Upstream {
    pub fn new(private_networks: bool) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .user_agent(concat!("ovlt/", env!("CARGO_PKG_VERSION")));
        if !private_networks {
            // A proxy would resolve names itself, past the check.
            builder = builder.dns_resolver(PublicOnly).no_proxy();
        }
        Ok(Self { client: builder.build()?, private_networks })
    }

    pub(super) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, UpstreamError> {
        if !self.private_networks && !is_public_https(request.uri()) {
            return Err(UpstreamError::NotPublic);
        }
        let (parts, body) = request.into_parts();
        let mut response =
            self.client.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body).send().await?;
        let mut answer = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(UpstreamError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        answer.body(body).map_err(|_| UpstreamError::Other)
    }
}

impl<'c> AsyncHttpClient<'c> for Upstream {
    type Error = UpstreamError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, UpstreamError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// An https URL whose host, when it is an IP address, is a public one (names are checked when
/// they resolve, by [`PublicOnly`]).
fn is_public_https(uri: &openidconnect::http::Uri) -> bool {
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    uri.scheme_str() == Some("https") && host.parse::<IpAddr>().map_or(!host.is_empty(), is_public)
}

/// A resolver that answers only the public addresses of a name.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| is_public(a.ip())).collect();
            if addresses.is_empty() {
                return Err(Box::new(UpstreamError::NotPublic) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local (the cloud
/// metadata services), shared, documentation, multicast or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded =
                |hi: u16, lo: u16| IpAddr::V4(std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // NAT64 (64:ff9b::/96), IPv4-compatible (::/96) and 6to4 (2002::/16) carry an IPv4
            // address that decides.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..6] == [0; 6] {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_over_https_pass() {
        for private in
            ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]
        {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for private in [
            "::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "2002:c0a8:0101::1",
            "2001:0:4136:e378::1",
            "198.18.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        assert!(is_public("8.8.8.8".parse().unwrap()) && is_public("2606:4700::1111".parse().unwrap()));
        let uri = |text: &str| text.parse::<openidconnect::http::Uri>().unwrap();
        assert!(is_public_https(&uri("https://accounts.google.com/.well-known/openid-configuration")));
        assert!(!is_public_https(&uri("http://accounts.google.com/")));
        assert!(!is_public_https(&uri("https://169.254.169.254/latest/meta-data")));
        assert!(!is_public_https(&uri("https://[::1]:8443/")));
    }
}
