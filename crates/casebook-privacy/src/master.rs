//! The master key that wraps every household key.
//!
//! It comes from the environment (`CASEBOOK_MASTER_KEY`, 64 hex digits) or
//! from a key file named in the configuration. A new installation with
//! neither gets a file made for it, so that `casebook serve` works on its
//! defaults; production keeps that file (or the variable) away from the
//! data directory, so that a copy of the data alone reads no personal data.
//! The key is never printed: its `Debug` shows nothing of it.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chacha20poly1305::aead::{rand_core::RngCore, OsRng};
use zeroize::Zeroizing;

use crate::error::{io_error, PrivacyError, Result};

/// The environment variable that holds the master key (64 hex digits).
pub const MASTER_KEY_ENV: &str = "CASEBOOK_MASTER_KEY";

/// The default master key file, relative to the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// 32 secret bytes. Cloning copies the secret; every copy is zeroed on drop.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Parses 64 hex digits (surrounding white space ignored). The error
    /// says what is wrong without repeating the value.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = Zeroizing::new(text.trim().to_owned());
        if text.len() != 64 {
            return Err(PrivacyError::MasterKey(format!(
                "got {} characters",
                text.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.as_bytes(), bytes.as_mut())
            .map_err(|_| PrivacyError::MasterKey("not hexadecimal".to_owned()))?;
        Ok(Self(bytes))
    }

    /// Reads the key file at `path`, or makes one (readable by its owner
    /// only, synced) if there is none.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&Zeroizing::new(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                key.write_new(path)?;
                tracing::warn!(
                    path = %path.display(),
                    "made a new master key file; in production keep it (or {MASTER_KEY_ENV}) away from the data directory"
                );
                Ok(key)
            }
            Err(err) => Err(io_error(path)(err)),
        }
    }

    /// The secret bytes.
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn write_new(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io_error(path))?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(self.0.as_ref())));
        file.write_all(text.as_bytes()).map_err(io_error(path))?;
        file.sync_all().map_err(io_error(path))?;
        if let Some(parent) = path.parent() {
            crate::keystore::sync_dir(parent)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let made = MasterKey::load_or_create(&path).unwrap();
        let read = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(made.bytes(), read.bytes());
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn a_bad_key_is_refused_without_echoing_it() {
        let secret = "zz".repeat(32);
        let err = MasterKey::from_hex(&secret).unwrap_err().to_string();
        assert!(err.contains("not hexadecimal"), "{err}");
        assert!(!err.contains(&secret));
        let err = MasterKey::from_hex("abc").unwrap_err().to_string();
        assert!(err.contains("got 3 characters"), "{err}");
        assert_eq!(
            format!("{:?}", MasterKey::generate()),
            "MasterKey(<secret>)"
        );
    }
}
