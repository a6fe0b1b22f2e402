//! The admin and master keys a running server needs.
//!
//! In production both come from the environment (`Config` refuses to load without them). In
//! development a missing key is generated once into the data directory with mode 0600 and read
//! back on later starts, so `cargo run` works with no configuration and keeps its keys across
//! restarts. The log says where a key lives, never what it is.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;

use super::{Config, MasterKey, Secret};
use crate::crypto;

/// Where a key came from, for the log and for `ovlt config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// The resolved keys of a running server.
#[derive(Debug, Clone)]
pub struct Keys {
    pub admin_key: Secret,
    pub admin_key_source: KeySource,
    pub master_key: MasterKey,
    pub master_key_source: KeySource,
}

pub const ADMIN_KEY_FILE: &str = "admin.key";
pub const MASTER_KEY_FILE: &str = "master.key";

/// Takes the keys from the config, or (development only) reads or creates them in the data dir.
pub fn load_or_generate(config: &Config) -> anyhow::Result<Keys> {
    let (admin_key, admin_key_source) = match &config.admin_key {
        Some(key) => (key.clone(), KeySource::Environment),
        None => {
            let (text, source) = read_or_create(&config.data_dir.join(ADMIN_KEY_FILE), || {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>())
            })?;
            (Secret::new(text), source)
        }
    };
    let (master_key, master_key_source) = match &config.master_key {
        Some(key) => (key.clone(), KeySource::Environment),
        None => {
            let path = config.data_dir.join(MASTER_KEY_FILE);
            let (text, source) =
                read_or_create(&path, || MasterKey::from_bytes(crypto::random_bytes::<32>()).to_base64())?;
            let key = MasterKey::parse(&text)
                .map_err(|why| anyhow::anyhow!("{}: not a valid master key ({why})", path.display()))?;
            (key, source)
        }
    };
    Ok(Keys { admin_key, admin_key_source, master_key, master_key_source })
}

/// Reads the key file, or creates it (0600, never overwriting one a concurrent start wrote).
fn read_or_create(path: &Path, generate: impl FnOnce() -> String) -> anyhow::Result<(String, KeySource)> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let key = generate();
            file.write_all(key.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            Ok((key, KeySource::Generated(path.to_path_buf())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text =
                std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let key = text.trim().to_string();
            anyhow::ensure!(!key.is_empty(), "{} is empty; delete it to generate a new key", path.display());
            Ok((key, KeySource::File(path.to_path_buf())))
        }
        Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
    }
}

/// Creates the data directory if needed, readable only by its owner when ovlt creates it.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_config(dir: &Path) -> Config {
        let data_dir = dir.display().to_string();
        Config::from_lookup(|name| (name == "OVLT_DATA_DIR").then(|| data_dir.clone())).unwrap()
    }

    #[test]
    fn development_keys_are_generated_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let config = dev_config(&dir.path().join("data"));

        let first = load_or_generate(&config).unwrap();
        assert!(matches!(first.admin_key_source, KeySource::Generated(_)));
        assert!(matches!(first.master_key_source, KeySource::Generated(_)));
        assert!(first.admin_key.expose().len() >= 43);

        let second = load_or_generate(&config).unwrap();
        assert_eq!(second.admin_key, first.admin_key);
        assert_eq!(second.master_key, first.master_key);
        assert!(matches!(second.admin_key_source, KeySource::File(_)));

        #[cfg(unix)]
        for file in [ADMIN_KEY_FILE, MASTER_KEY_FILE] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("data").join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    #[test]
    fn keys_from_the_environment_are_used_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = dev_config(dir.path());
        config.admin_key = Some(Secret::new("from-env"));
        config.master_key = Some(MasterKey::from_bytes([1; 32]));
        let keys = load_or_generate(&config).unwrap();
        assert_eq!(keys.admin_key.expose(), "from-env");
        assert_eq!(keys.master_key_source, KeySource::Environment);
        assert!(!dir.path().join(ADMIN_KEY_FILE).exists());
    }
}
