//! ID tokens (OIDC Core §2, §3.1.3.6): RS256, `typ: JWT`, audience the client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::has_scope;
use crate::app::AppState;
use crate::crypto;
use crate::types::{Session, Timestamp, User};

#[derive(Debug, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub azp: String,
    /// The browser (SSO) session: what RP-initiated logout ends.
    pub sid: String,
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// An ID token for `session` (a client session), with profile and email claims as its scope
/// grants, `nonce` as the authorization request sent it, and `at_hash` for the access token.
pub fn issue(
    state: &AppState,
    session: &Session,
    user: &User,
    nonce: Option<String>,
    access_token: &str,
    ttl: i64,
    now: Timestamp,
) -> anyhow::Result<String> {
    let scope = session.scope.as_deref().unwrap_or_default();
    let claims = IdTokenClaims {
        iss: state.config.issuer.clone(),
        sub: user.id.to_string(),
        aud: session.client_id.clone().unwrap_or_default(),
        exp: now.0 + ttl,
        iat: now.0,
        auth_time: session.auth_time.0,
        nonce,
        at_hash: Some(at_hash(access_token)),
        azp: session.client_id.clone().unwrap_or_default(),
        sid: session.sso_session_id.unwrap_or(session.id).to_string(),
        amr: session.amr.split(' ').map(str::to_string).collect(),
        name: has_scope(scope, "profile").then(|| user.name.clone()).flatten(),
        email: has_scope(scope, "email").then(|| user.email.clone()),
        email_verified: has_scope(scope, "email").then_some(user.email_verified),
    };
    state.keys.sign("JWT", &claims)
}

/// The left half of the access token's SHA-256, base64url (OIDC Core §3.1.3.6, RS256).
fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&crypto::sha256(access_token.as_bytes())[..16])
}
