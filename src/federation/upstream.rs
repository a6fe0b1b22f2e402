//! The HTTP client for calls to identity providers: reqwest over rustls, following no redirects
//! (a token endpoint that redirects is misconfigured or hostile), a deadline on every call and
//! a bound on every answer. It is what the `openidconnect` crate sends its requests through.

use std::future::Future;
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
}

impl Upstream {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .user_agent(concat!("ovlt/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    pub(super) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, UpstreamError> {
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
