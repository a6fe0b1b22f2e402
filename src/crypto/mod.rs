//! Small, audited building blocks for secrets: randomness from the OS, SHA-256 digests for
//! high-entropy secrets, constant-time comparison, Argon2id password hashing ([`password`]) and
//! AES-256-GCM sealing under the master key ([`secretbox`]). Nothing here is hand-rolled
//! crypto; it composes `getrandom`, `sha2`, `subtle`, `argon2` and `aes-gcm`.

pub mod password;
pub mod secretbox;

use aws_lc_rs::hmac;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::MasterKey;

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS RNG failing means the process cannot make any secret safely: stop, loudly.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

/// A 256-bit random token, base64url without padding (43 characters).
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Lower-case hex SHA-256 of a text: how high-entropy secrets (refresh tokens, codes, client
/// secrets) are stored and looked up.
pub fn sha256_hex(text: &str) -> String {
    sha256(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex HMAC-SHA256 of `data` under the master key, for low-entropy secrets that must
/// not be brute-forced from a copy of the database alone (backup codes). `purpose` separates uses.
pub fn keyed_digest(master_key: &MasterKey, purpose: &str, data: &str) -> String {
    // A subkey of its own (HKDF-extract style), so the master key is never itself an HMAC key
    // next to its use as the AES-GCM key.
    let master = hmac::Key::new(hmac::HMAC_SHA256, master_key.as_bytes());
    let key = hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&master, b"ovlt keyed digest v1").as_ref());
    let mut context = hmac::Context::with_key(&key);
    context.update(purpose.as_bytes());
    context.update(b"\0");
    context.update(data.as_bytes());
    context.sign().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a secret: how high-entropy secrets are stored and compared.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Compares two secrets without leaking where they differ, nor their lengths: both sides are
/// hashed first, so the comparison always runs over 32 bytes.
pub fn secrets_match(presented: &[u8], expected_digest: &[u8; 32]) -> bool {
    sha256(presented).ct_eq(expected_digest).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_match_only_the_exact_secret() {
        let digest = sha256(b"correct horse");
        assert!(secrets_match(b"correct horse", &digest));
        assert!(!secrets_match(b"correct hors", &digest));
        assert!(!secrets_match(b"", &digest));
    }
}
