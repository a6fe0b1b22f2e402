//! Signing in with GitHub: OAuth 2.0 (no OpenID Connect) through the `oauth2` crate, with PKCE
//! S256, then who the person is from GitHub's REST API — the account's numeric `id` as subject
//! (a login can be renamed and taken by someone else), and the primary address only when GitHub
//! has verified it. With a `base_url` (GitHub Enterprise Server, or a test stand-in) the
//! endpoints are that server's: `/login/oauth/*` and the API under `/api/v3`.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};
use openidconnect::http::{Method, Request, header};
use serde::Deserialize;

use super::FederationError;
use super::oidc::UpstreamIdentity;
use super::upstream::Upstream;
use crate::store::identity_providers::ProviderRow;

const GITHUB: &str = "https://github.com";
const GITHUB_API: &str = "https://api.github.com";

pub struct GitHub {
    http: Upstream,
}

/// An OAuth client with its authorization and token endpoints set.
type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

struct Endpoints {
    authorize: String,
    token: String,
    api: String,
}

fn endpoints(provider: &ProviderRow) -> Endpoints {
    let base = provider.base_url.as_deref().unwrap_or(GITHUB);
    let api = match &provider.base_url {
        Some(base) => format!("{base}/api/v3"),
        None => GITHUB_API.to_string(),
    };
    Endpoints {
        authorize: format!("{base}/login/oauth/authorize"),
        token: format!("{base}/login/oauth/access_token"),
        api,
    }
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHub {
    pub fn new(http: Upstream) -> Self {
        Self { http }
    }

    fn client(provider: &ProviderRow, secret: Option<String>, redirect_uri: &str) -> Result<Client, FederationError> {
        let endpoints = endpoints(provider);
        let bad = |_| FederationError::Misconfigured;
        let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
            .set_auth_uri(AuthUrl::new(endpoints.authorize).map_err(bad)?)
            .set_token_uri(TokenUrl::new(endpoints.token).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(bad)?)
            .set_auth_type(oauth2::AuthType::RequestBody);
        if let Some(secret) = secret {
            client = client.set_client_secret(ClientSecret::new(secret));
        }
        Ok(client)
    }

    pub fn authorize_url(
        &self,
        provider: &ProviderRow,
        redirect_uri: &str,
        state: &str,
        pkce_verifier: &str,
    ) -> Result<String, FederationError> {
        let client = Self::client(provider, None, redirect_uri)?;
        let state = state.to_string();
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.into()));
        let (url, _) = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(provider.scopes.iter().map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.into())
    }

    pub async fn finish(
        &self,
        provider: &ProviderRow,
        secret: Option<String>,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        let client = Self::client(provider, secret, redirect_uri)?;
        // GitHub answers a refused code with 200 and an `error` member: that fails to parse as a
        // token answer, which is the refusal it is.
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|_| FederationError::Upstream)?;
        let token = tokens.access_token().secret();
        let api = endpoints(provider).api;
        let user: GitHubUser = self.get(&format!("{api}/user"), token).await?;
        let emails: Vec<GitHubEmail> = self.get(&format!("{api}/user/emails"), token).await?;
        let primary = emails.into_iter().find(|e| e.primary && e.verified);
        UpstreamIdentity::new(
            user.id.to_string(),
            primary.as_ref().map(|e| e.email.clone()),
            primary.is_some(),
            user.name,
            Vec::new(),
        )
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str, token: &str) -> Result<T, FederationError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(url)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header("x-github-api-version", "2022-11-28")
            .body(Vec::new())
            .map_err(|_| FederationError::Misconfigured)?;
        let answer = self.http.send(request).await.map_err(|_| FederationError::Upstream)?;
        if !answer.status().is_success() {
            return Err(FederationError::Upstream);
        }
        serde_json::from_slice(answer.body())
            .map_err(|_| FederationError::InvalidAnswer("GitHub's answer is not valid"))
    }
}
