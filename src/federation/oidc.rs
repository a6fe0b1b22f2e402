//! Signing in through an OpenID provider (`oidc`, and `google`, which is one): discovery, the
//! authorization request with `state`, `nonce` and PKCE S256, the code exchange and the ID
//! token's checks — by the `openidconnect` crate, through [`Upstream`]. What the crate leaves
//! to its caller is done here: `azp` and `iat`, and fetching the provider's keys again when a
//! token names a key we do not have (the provider rotated).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};

use super::FederationError;
use super::upstream::Upstream;

/// The discovery documents (with their key sets) of the providers in use, per issuer: fetched
/// again after this long, or at once when a token names an unknown key.
const METADATA_TTL: Duration = Duration::from_secs(600);
/// Issuers remembered at most; past it the oldest entry goes (a bound on what tenants can add).
const METADATA_CACHE_BOUND: usize = 256;
/// A key set fetched again for an unknown `kid` is fetched at most this often per issuer, and a
/// failed discovery is not tried again sooner: no upstream, and no crowd of anonymous sign-in
/// links, makes ovlt hammer an identity provider.
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How far an ID token's `iat` may lie from our clock.
const IAT_SKEW_SECS: i64 = 300;

/// What an upstream said about the person, once its answer has been checked.
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    // Built by `UpstreamIdentity::new`, which bounds what the upstream sent.
    pub subject: String,
    pub email: Option<String>,
    /// What the upstream claims; whether ovlt believes it is the provider's `trust_email`.
    pub email_verified: bool,
    pub name: Option<String>,
    /// How the upstream says it authenticated the person (believed only under `trust_amr`).
    pub amr: Vec<String>,
}

impl UpstreamIdentity {
    /// The identity, with the upstream's values bounded: a subject of at most 255 characters
    /// (OIDC Core §2), a name like registration's (at most 200 characters, no control characters).
    pub fn new(
        subject: String,
        email: Option<String>,
        email_verified: bool,
        name: Option<String>,
        amr: Vec<String>,
    ) -> Result<Self, FederationError> {
        if subject.is_empty() || subject.len() > 255 {
            return Err(FederationError::InvalidAnswer("the subject is empty or too long"));
        }
        let name = name
            .map(|name| name.chars().filter(|c| !c.is_control()).take(200).collect::<String>())
            .filter(|name| !name.trim().is_empty());
        let email = email.filter(|email| email.len() <= 254);
        let amr = amr.into_iter().take(10).collect();
        Ok(Self { subject, email, email_verified, name, amr })
    }
}

/// One provider's configuration, as a sign-in needs it.
pub struct OidcProvider<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub scopes: &'a [String],
}

/// What is known of an issuer: its metadata (with key set) when the last discovery worked.
struct Known {
    at: Instant,
    metadata: Option<CoreProviderMetadata>,
    /// When a fetch was last forced by an unknown `kid`.
    forced_at: Option<Instant>,
}

pub struct Discovery {
    http: Upstream,
    metadata: Mutex<HashMap<String, Known>>,
}

impl Discovery {
    pub fn new(http: Upstream) -> Self {
        Self { http, metadata: Mutex::new(HashMap::new()) }
    }

    /// The issuer's metadata: cached for ten minutes; `fresh` asks again (an unknown `kid`),
    /// at most once per refetch interval.
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata, FederationError> {
        let mut forced_at = None;
        if let Some(known) = self.lock().get(issuer) {
            let may_force = known.forced_at.is_none_or(|at| at.elapsed() >= REFETCH_INTERVAL);
            forced_at = known.forced_at;
            match &known.metadata {
                Some(metadata) if !fresh && known.at.elapsed() < METADATA_TTL => return Ok(metadata.clone()),
                Some(metadata) if fresh && !may_force => return Ok(metadata.clone()),
                None if known.at.elapsed() < REFETCH_INTERVAL => return Err(FederationError::Upstream),
                _ => {}
            }
        }
        if fresh {
            forced_at = Some(Instant::now());
        }
        let issuer_url = IssuerUrl::new(issuer.to_string()).map_err(|_| FederationError::Misconfigured)?;
        let discovered = CoreProviderMetadata::discover_async(issuer_url, &self.http).await.map_err(|e| {
            // The error may hold the answer's body: only its kind is logged.
            tracing::warn!(issuer, error = discovery_error_kind(&e), "upstream discovery failed");
            FederationError::Upstream
        });
        let mut cache = self.lock();
        // A failed refetch keeps what worked: one bad answer must not stop every tenant's sign-ins.
        if discovered.is_err()
            && let Some(known) = cache.get_mut(issuer)
            && let Some(metadata) = &known.metadata
        {
            known.forced_at = forced_at;
            return Ok(metadata.clone());
        }
        if cache.len() >= METADATA_CACHE_BOUND
            && !cache.contains_key(issuer)
            && let Some(oldest) = cache.iter().min_by_key(|(_, known)| known.at).map(|(issuer, _)| issuer.clone())
        {
            cache.remove(&oldest);
        }
        let metadata = discovered.as_ref().ok().cloned();
        cache.insert(issuer.to_string(), Known { at: Instant::now(), metadata, forced_at });
        discovered
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.metadata.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn client(&self, provider: &OidcProvider<'_>, metadata: CoreProviderMetadata) -> Result<Client, FederationError> {
        let redirect = RedirectUrl::new(provider.redirect_uri.clone()).map_err(|_| FederationError::Misconfigured)?;
        let secret = provider.client_secret.clone().map(ClientSecret::new);
        Ok(CoreClient::from_provider_metadata(metadata, ClientId::new(provider.client_id.to_string()), secret)
            .set_redirect_uri(redirect))
    }

    /// The URL to send the browser to.
    pub async fn authorize_url(
        &self,
        provider: &OidcProvider<'_>,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String, FederationError> {
        let client = self.client(provider, self.metadata(provider.issuer, false).await?)?;
        let (state, nonce) = (state.to_string(), nonce.to_string());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.into()));
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(provider.scopes.iter().filter(|s| *s != "openid").map(|s| Scope::new(s.clone())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.into())
    }

    /// Trades the callback's code, checks the ID token, and says who signed in.
    pub async fn finish(
        &self,
        provider: &OidcProvider<'_>,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        let client = self.client(provider, self.metadata(provider.issuer, false).await?)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|_| FederationError::Misconfigured)?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(issuer = provider.issuer, error = token_error_kind(&e), "upstream code exchange failed");
                FederationError::Upstream
            })?;
        let id_token = tokens.id_token().ok_or(FederationError::InvalidAnswer("no ID token"))?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // A key we have not seen: the provider may have rotated. Its keys once more, then no.
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                let client = self.client(provider, self.metadata(provider.issuer, true).await?)?;
                id_token.claims(&client.id_token_verifier(), &nonce).map_err(refused)?.clone()
            }
            Err(e) => return Err(refused(e)),
        };
        check_azp_and_iat(&claims, provider.client_id)?;
        let mut identity = UpstreamIdentity::new(
            claims.subject().to_string(),
            claims.email().map(|email| email.to_string()),
            claims.email_verified() == Some(true),
            claims.name().and_then(|name| name.get(None)).map(|name| name.to_string()),
            claims.auth_method_refs().into_iter().flatten().map(|amr| amr.to_string()).collect(),
        )?;
        // Some providers keep the address out of the ID token: their userinfo has it, for the
        // same subject (the crate checks `sub`).
        if identity.email.is_none()
            && let Ok(request) = client.user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        {
            let info: CoreUserInfoClaims = request.request_async(&self.http).await.map_err(|e| {
                tracing::warn!(issuer = provider.issuer, error = userinfo_error_kind(&e), "upstream userinfo failed");
                FederationError::Upstream
            })?;
            let name = identity.name.take().or_else(|| info.name().and_then(|n| n.get(None)).map(|n| n.to_string()));
            identity = UpstreamIdentity::new(
                identity.subject,
                info.email().map(|email| email.to_string()),
                info.email_verified() == Some(true),
                name,
                identity.amr,
            )?;
        }
        Ok(identity)
    }
}

type Client = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn refused(e: ClaimsVerificationError) -> FederationError {
    let why = match e {
        ClaimsVerificationError::InvalidNonce(_) => "the ID token's nonce is not ours",
        ClaimsVerificationError::InvalidAudience(_) => "the ID token is for another client",
        ClaimsVerificationError::InvalidIssuer(_) => "the ID token is from another issuer",
        ClaimsVerificationError::Expired(_) => "the ID token has expired",
        ClaimsVerificationError::SignatureVerification(_) => "the ID token's signature does not verify",
        _ => "the ID token is not valid",
    };
    FederationError::InvalidAnswer(why)
}

/// OIDC Core §3.1.3.7, steps the crate leaves out: `azp`, when present, is this client, and is
/// present when the token has other audiences; `iat` is near now.
fn check_azp_and_iat(claims: &CoreIdTokenClaims, client_id: &str) -> Result<(), FederationError> {
    match claims.authorized_party() {
        Some(azp) if azp.as_str() != client_id => {
            return Err(FederationError::InvalidAnswer("the ID token was issued to another client"));
        }
        None if claims.audiences().len() > 1 => {
            return Err(FederationError::InvalidAnswer("the ID token has several audiences and no azp"));
        }
        _ => {}
    }
    let now = crate::types::Timestamp::now().0;
    if (claims.issue_time().timestamp() - now).abs() > IAT_SKEW_SECS {
        return Err(FederationError::InvalidAnswer("the ID token's iat is far from now"));
    }
    Ok(())
}

fn discovery_error_kind<E: std::error::Error>(e: &openidconnect::DiscoveryError<E>) -> &'static str {
    match e {
        openidconnect::DiscoveryError::Request(_) => "request",
        openidconnect::DiscoveryError::Response(..) => "status",
        openidconnect::DiscoveryError::Parse(_) => "parse",
        openidconnect::DiscoveryError::Validation(_) => "validation",
        _ => "other",
    }
}

fn userinfo_error_kind<E: std::error::Error>(e: &openidconnect::UserInfoError<E>) -> &'static str {
    match e {
        openidconnect::UserInfoError::ClaimsVerification(_) => "claims",
        openidconnect::UserInfoError::Parse(_) => "parse",
        openidconnect::UserInfoError::Request(_) => "request",
        openidconnect::UserInfoError::Response(..) => "status",
        _ => "other",
    }
}

fn token_error_kind<E: std::error::Error, T: openidconnect::ErrorResponse>(
    e: &openidconnect::RequestTokenError<E, T>,
) -> &'static str {
    match e {
        openidconnect::RequestTokenError::ServerResponse(_) => "refused",
        openidconnect::RequestTokenError::Request(_) => "request",
        openidconnect::RequestTokenError::Parse(..) => "parse",
        openidconnect::RequestTokenError::Other(_) => "other",
    }
}
