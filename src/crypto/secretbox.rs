//! Secrets at rest: AES-256-GCM under the master key.
//!
//! A sealed value is `nonce (12 bytes) ‖ ciphertext ‖ tag`. A fresh random nonce per seal is
//! safe far beyond the number of secrets ovlt stores. The associated data binds a ciphertext to
//! its purpose and row (e.g. `signing_key:<kid>`), so a sealed value copied into another row or
//! column fails to open instead of being used as something else.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::config::MasterKey;
use crate::crypto::random_bytes;

const NONCE_LEN: usize = 12;

pub fn seal(key: &MasterKey, plaintext: &[u8], associated_data: &str) -> Vec<u8> {
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.as_bytes()));
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let nonce = Nonce::from(nonce_bytes);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: plaintext, aad: associated_data.as_bytes() })
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce_bytes);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Opens a sealed value; fails for a wrong key, wrong associated data or any tampering.
pub fn open(key: &MasterKey, sealed: &[u8], associated_data: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(sealed.len() > NONCE_LEN, "sealed value is too short");
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_from(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.as_bytes()));
    cipher
        .decrypt(&nonce, Payload { msg: ciphertext, aad: associated_data.as_bytes() })
        .map_err(|_| anyhow::anyhow!("cannot open a sealed secret (wrong master key or tampered data)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_purpose() {
        let key = MasterKey::from_bytes([1; 32]);
        let sealed = seal(&key, b"private key bytes", "signing_key:abc");
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(open(&key, &sealed, "signing_key:abc").unwrap(), b"private key bytes");
        assert!(open(&key, &sealed, "signing_key:other").is_err());
        assert!(open(&MasterKey::from_bytes([2; 32]), &sealed, "signing_key:abc").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&key, &tampered, "signing_key:abc").is_err());
    }
}
