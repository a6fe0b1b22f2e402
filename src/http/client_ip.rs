//! The client's IP address, and the per-IP rate limit on `/auth/*`.
//!
//! Behind a load balancer every peer is the proxy, so the client is read from
//! `X-Forwarded-For` — but only when the peer is in `OVLT_TRUSTED_PROXIES`; otherwise anyone
//! could pick their own address and escape the limit. The rightmost address that is not a
//! trusted proxy is the client (earlier entries are whatever the client claimed).
//!
//! The limit is a per-IP allowance per minute, kept in this instance's memory: it blunts
//! floods and spraying cheaply. The guarantees that must hold across instances (account
//! lockout, token rotation) are in the database.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;

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

/// Requests per client per minute, as a keyed GCRA limiter (governor): a client may spend a
/// minute's allowance in one burst, then earns a request back every `60 / n` seconds. A fixed
/// window would let a client make twice its allowance across a window's boundary, and would
/// make every waiting client come back in the same second.
pub struct RateLimiter<C: Clock = DefaultClock> {
    /// `None`: no limit (a limit of 0 turns it off).
    limiter: Option<PerClient<C>>,
    clock: C,
}

type PerClient<C> = governor::RateLimiter<IpAddr, HashMapStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    fn with_clock(per_minute: u32, clock: C) -> Self {
        let limiter = NonZeroU32::new(per_minute)
            .map(|n| governor::RateLimiter::new(Quota::per_minute(n), HashMapStateStore::default(), clock.clone()));
        Self { limiter, clock }
    }

    /// Counts a request; `Err(seconds)` to wait when over the limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(&bucket(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets the clients whose allowance is whole again, so the map holds only recently
    /// active clients (the maintenance task calls this every minute).
    pub fn forget_idle_clients(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
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
    if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied()
        && let Err(retry_after_secs) = state.rate_limiter.check(ip)
    {
        if !request.uri().path().starts_with("/oauth/") {
            return ApiError::RateLimited { retry_after_secs }.into_response();
        }
        let t = crate::pages::i18n::choose(None, request.headers());
        let mut page = crate::pages::error_page(
            t,
            StatusCode::TOO_MANY_REQUESTS,
            t.too_many_attempts_title,
            t.network_rate_limited,
        );
        page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        return page;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

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
    fn a_burst_spends_the_allowance_which_comes_back_evenly() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(2, clock.clone());
        let client = ip("192.0.2.1");
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_ok());
        assert_eq!(limiter.check(client), Err(30), "one request back every 30 s");
        assert!(limiter.check(ip("192.0.2.2")).is_ok(), "per IP");
        clock.advance(Duration::from_secs(29));
        assert_eq!(limiter.check(client), Err(1));
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_err(), "only one came back");
        clock.advance(Duration::from_secs(120));
        limiter.forget_idle_clients();
        assert!(limiter.check(client).is_ok());
        assert!(limiter.check(client).is_ok(), "a whole allowance again");
        assert!(RateLimiter::new(0).check(client).is_ok(), "0 turns it off");
        let limiter = RateLimiter::with_clock(1, clock);
        assert!(limiter.check(ip("2001:db8::1")).is_ok());
        assert!(limiter.check(ip("2001:db8::ffff")).is_err(), "one /64 is one client");
    }
}
