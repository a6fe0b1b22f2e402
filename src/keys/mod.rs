//! Signing keys and the key ring every token goes through.
//!
//! One RSA-2048 key is active at a time; it signs access and ID tokens (RS256). Its `kid` is
//! the RFC 7638 SHA-256 thumbprint of its public JWK. The private half is stored sealed with
//! the master key. A rotated key is retired, not deleted: it stays in the JWKS and verifies
//! tokens for [`RETIRED_KEY_GRACE`], longer than the longest access-token lifetime.
//!
//! Signing uses a parsed aws-lc-rs key kept in memory: jsonwebtoken re-parses the private key
//! on every `encode`, which costs 1.8× the signature itself (shared/notes/perf.md). The JWS
//! compact form is assembled from jsonwebtoken's `Header` and verified by jsonwebtoken, so
//! the tests check our tokens with an independent implementation.
//!
//! Instances sharing a database learn of a rotation by reloading on an unknown `kid` (at most
//! every [`RELOAD_INTERVAL`]) and periodically, so a new key verifies everywhere at once and
//! the JWKS converges within a minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, RSAKeyParameters, RSAKeyType,
    ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, Header, TokenData, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::MasterKey;
use crate::crypto::secretbox;
use crate::store::keys::SigningKeyRow;
use crate::store::{self, Store};
use crate::types::Timestamp;

/// How long a retired key keeps verifying and stays published: longer than the longest
/// access-token TTL a tenant may set (one day).
pub const RETIRED_KEY_GRACE: Duration = Duration::from_secs(2 * 86_400);
/// At most one reload per this interval when a token names an unknown `kid`.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The keys in force: the active signer, every verifier, and the JWKS body.
pub struct KeySet {
    active_kid: String,
    active: RsaKeyPair,
    verifiers: HashMap<String, DecodingKey>,
    jwks: String,
}

pub struct KeyRing {
    store: Store,
    master_key: MasterKey,
    current: RwLock<Arc<KeySet>>,
    last_reload: Mutex<Instant>,
    rng: SystemRandom,
}

/// Why a token was refused (never shown to clients beyond `invalid_token`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed or unverifiable token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token signed by an unknown key")]
    UnknownKey,
}

impl KeyRing {
    /// Loads the keys, creating the first one when the database has none.
    pub async fn load(store: Store, master_key: MasterKey) -> anyhow::Result<Self> {
        ensure_active_key(&store, &master_key).await?;
        let set = load_key_set(&store, &master_key).await?;
        Ok(Self {
            store,
            master_key,
            current: RwLock::new(Arc::new(set)),
            last_reload: Mutex::new(Instant::now()),
            rng: SystemRandom::new(),
        })
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the keys from the database (after a rotation, here or elsewhere).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let set = load_key_set(&self.store, &self.master_key).await?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        *self.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        Ok(())
    }

    /// Signs `claims` as a JWS with the active key; `typ` is e.g. `at+jwt` (RFC 9068) or `JWT`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
        let set = self.current();
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(typ.to_string());
        header.kid = Some(set.active_kid.clone());
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let mut signature = vec![0; set.active.public_modulus_len()];
        set.active
            .sign(&RSA_PKCS1_SHA256, &self.rng, signing_input.as_bytes(), &mut signature)
            .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Verifies the signature (RS256 only) and the `validation` rules, reloading once when the
    /// token names a key this instance has not seen (a rotation on another instance).
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<TokenData<T>, TokenError> {
        let header = jsonwebtoken::decode_header(token)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        if let Some(data) = self.current().verify_with(&kid, token, validation) {
            return data;
        }
        // Claim the reload slot before awaiting, so a burst of unknown kids reloads once.
        let may_reload = {
            let mut last = self.last_reload.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.elapsed() >= RELOAD_INTERVAL;
            if due {
                *last = Instant::now();
            }
            due
        };
        if may_reload {
            if let Err(e) = self.reload().await {
                tracing::warn!(error = format!("{e:#}"), "cannot reload signing keys");
            }
            if let Some(data) = self.current().verify_with(&kid, token, validation) {
                return data;
            }
        }
        Err(TokenError::UnknownKey)
    }

    /// The JWKS document (RFC 7517): the active key and the retired keys still in grace.
    pub fn jwks(&self) -> String {
        self.current().jwks.clone()
    }
}

impl KeySet {
    fn verify_with<T: DeserializeOwned>(
        &self,
        kid: &str,
        token: &str,
        validation: &Validation,
    ) -> Option<Result<TokenData<T>, TokenError>> {
        let key = self.verifiers.get(kid)?;
        Some(jsonwebtoken::decode(token, key, validation).map_err(TokenError::from))
    }

    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }
}

/// Makes a new active key, retiring the current one (`ovlt keys rotate`). Returns its kid.
pub async fn rotate(store: &Store, master_key: &MasterKey) -> anyhow::Result<String> {
    let row = generate_key(master_key.clone()).await?;
    let mut tx = store.begin().await?;
    store::keys::retire_active_key(&mut *tx, Timestamp::now()).await?;
    store::keys::insert_active_key(&mut *tx, &row).await?;
    tx.commit().await?;
    tracing::info!(key.kid = %row.kid, "rotated the signing key");
    Ok(row.kid)
}

async fn ensure_active_key(store: &Store, master_key: &MasterKey) -> anyhow::Result<()> {
    let usable = store::keys::list_usable_keys(store.pool(), Timestamp::now()).await?;
    if usable.iter().any(|k| k.status == "active") {
        return Ok(());
    }
    let row = generate_key(master_key.clone()).await?;
    match store::keys::insert_active_key(store.pool(), &row).await {
        Ok(()) => {
            tracing::info!(key.kid = %row.kid, "generated the first signing key");
            Ok(())
        }
        // Another instance starting at the same moment made it first: use theirs.
        Err(e) if store::unique_violation(&e).is_some() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn load_key_set(store: &Store, master_key: &MasterKey) -> anyhow::Result<KeySet> {
    let since = Timestamp(Timestamp::now().unix_seconds() - RETIRED_KEY_GRACE.as_secs() as i64);
    let rows = store::keys::list_usable_keys(store.pool(), since).await?;
    let mut verifiers = HashMap::new();
    let mut jwks = JwkSet { keys: Vec::new() };
    let mut active = None;
    for row in rows {
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).context("stored public JWK")?;
        verifiers.insert(row.kid.clone(), DecodingKey::from_jwk(&jwk)?);
        jwks.keys.push(jwk);
        if row.status == "active" {
            let der = secretbox::open(master_key, &row.private_key, &format!("signing_key:{}", row.kid))
                .context("cannot open the signing key: is OVLT_MASTER_KEY the one it was created with?")?;
            let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| anyhow::anyhow!("stored signing key: {e}"))?;
            active = Some((row.kid, pair));
        }
    }
    let (active_kid, active) = active.context("no active signing key")?;
    Ok(KeySet { active_kid, active, verifiers, jwks: serde_json::to_string(&jwks)? })
}

/// Generates an RSA-2048 key (≈ 0.1 s of CPU, so on the blocking pool) and its sealed row.
async fn generate_key(master_key: MasterKey) -> anyhow::Result<SigningKeyRow> {
    tokio::task::spawn_blocking(move || {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
        let der = pair.as_der().map_err(|_| anyhow::anyhow!("RSA key encoding failed"))?;
        let public = pair.public_key();
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            }),
        };
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        Ok(SigningKeyRow {
            private_key: secretbox::seal(&master_key, der.as_ref(), &format!("signing_key:{kid}")),
            public_jwk: serde_json::to_string(&jwk)?,
            kid,
            algorithm: "RS256".into(),
            status: "active".into(),
            retired_at: None,
            created_at: Timestamp::now().unix_seconds(),
        })
    })
    .await?
}
