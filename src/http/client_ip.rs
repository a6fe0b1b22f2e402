//! The client's IP address, and the per-IP rate limit on `/auth/*`.
//!
//! Behind a load balancer every peer is the proxy, so the client is read from
//! `X-Forwarded-For` — but only when the peer is in `OVLT_TRUSTED_PROXIES`; otherwise anyone
//! could pick their own address and escape the limit. The rightmost address that is not a
//! trusted proxy is the client (earlier entries are whatever the client claimed).
//!
//! The limit is a fixed one-minute window per IP, kept in this instance's memory: it blunts
//! floods and spraying cheaply. The guarantees that must hold across instances (account
//! lockout, token rotation) are in the database.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;

/// The resolved client address, put in the request's extensions for extractors and audit.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Resolves the client IP once per request.
pub async fn resolve_client_ip(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let ip = client_ip(
            peer,
            request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()),
            &state.config.trusted_proxies,
        );
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(chain) = forwarded_for else { return peer };
    chain
        .split(',')
        .rev()
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// Fixed-window request counter per IP.
pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    counts: HashMap<IpAddr, (u64, u32)>,
    swept: u64,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, windows: Mutex::new(Windows::default()) }
    }

    /// Counts a request; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, ip: IpAddr, now_seconds: u64) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let window = now_seconds / 60;
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        // Old windows are dropped once per minute, not on every request.
        if windows.swept != window {
            windows.counts.retain(|_, (w, _)| *w == window);
            windows.swept = window;
        }
        let entry = windows.counts.entry(bucket(ip)).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        if entry.1 > self.per_minute { Err(60 - now_seconds % 60) } else { Ok(()) }
    }
}

/// IPv4 addresses count one by one; IPv6 per /64, the block one subscriber usually holds.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

/// Middleware for `/auth/*` and the hosted forms: 429 with `Retry-After` over the limit — our
/// JSON `rate_limited` for the API, a page for a person at a hosted form (`/oauth/*`).
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if let Err(retry_after_secs) = state.rate_limiter.check(ip, now) {
            if !request.uri().path().starts_with("/oauth/") {
                return ApiError::RateLimited { retry_after_secs }.into_response();
            }
            let mut page = crate::pages::error_page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "Too many requests came from your network. Please wait a minute and try again.",
            );
            page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return page;
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("1.2.3.4, 198.51.100.7, 10.0.0.5"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("garbage"), &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn the_limit_resets_each_minute() {
        let limiter = RateLimiter::new(2);
        let client = ip("192.0.2.1");
        assert!(limiter.check(client, 120).is_ok());
        assert!(limiter.check(client, 130).is_ok());
        assert_eq!(limiter.check(client, 135), Err(45));
        assert!(limiter.check(ip("192.0.2.2"), 135).is_ok(), "per IP");
        assert!(limiter.check(client, 180).is_ok(), "next window");
        assert!(RateLimiter::new(0).check(client, 0).is_ok(), "0 turns it off");
        let limiter = RateLimiter::new(1);
        assert!(limiter.check(ip("2001:db8::1"), 0).is_ok());
        assert!(limiter.check(ip("2001:db8::ffff"), 0).is_err(), "one /64 is one client");
    }
}
