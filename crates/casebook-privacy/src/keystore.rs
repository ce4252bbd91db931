//! One key per household (or per hamlet-wide case), each in a file of its
//! own, wrapped by the master key.
//!
//! `<dir>/<id>.key` holds a 24-byte nonce and the household key encrypted
//! under the master key (XChaCha20-Poly1305, the id as associated data, so
//! a key file renamed to another household does not open). Erasure writes
//! the tombstone `<id>.erased` first, then overwrites the key file with
//! zeros, syncs it and removes it: a crash in between leaves a tombstone and
//! a key, and the next open finishes the erasure. A key file per household
//! (rather than a database) means a destroyed key leaves no old copy behind
//! in a log-structured store's dead segments.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chacha20poly1305::aead::{rand_core::RngCore, Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{io_error, PrivacyError, Result};
use crate::master::MasterKey;

/// The key store's directory, relative to the data directory.
pub const KEYS_DIR: &str = "keys";

/// A household key.
pub(crate) type DataKey = Zeroizing<[u8; 32]>;

const NONCE_BYTES: usize = 24;
const WRAP_CONTEXT: &[u8] = b"casebook household key v1 ";

/// Where a subject's key stands.
#[derive(Clone, Debug)]
pub enum KeyState {
    /// The key, ready to use.
    Present(Arc<DataKey>),
    /// The key was destroyed on purpose: the data is erased.
    Erased,
    /// No key was ever made (nothing personal was sealed for it).
    Absent,
}

/// The key files, with the keys already unwrapped kept in memory.
pub struct KeyStore {
    dir: PathBuf,
    master: MasterKey,
    cache: RwLock<HashMap<Uuid, Arc<DataKey>>>,
    /// Keys destroyed since the store opened; see [`KeyStore::erasures`].
    erasures: AtomicU64,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("dir", &self.dir).finish()
    }
}

impl KeyStore {
    /// Opens (creating) the key store in `dir`, finishing any erasure that
    /// a crash interrupted.
    pub fn open(dir: &Path, master: MasterKey) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let store = Self {
            dir: dir.to_path_buf(),
            master,
            cache: RwLock::new(HashMap::new()),
            erasures: AtomicU64::new(0),
        };
        store.finish_interrupted_erasures()?;
        Ok(store)
    }

    /// Where `subject`'s key stands.
    pub fn state(&self, subject: Uuid) -> Result<KeyState> {
        if let Some(key) = self.cached(subject) {
            return Ok(KeyState::Present(key));
        }
        if self.tombstone(subject).exists() {
            return Ok(KeyState::Erased);
        }
        let path = self.key_file(subject);
        let wrapped = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(KeyState::Absent),
            Err(err) => return Err(io_error(&path)(err)),
        };
        let key = Arc::new(self.unwrap_key(subject, &wrapped)?);
        self.remember(subject, Arc::clone(&key));
        // `forget` may have run since the tombstone was looked for: it
        // writes the tombstone before it empties the cache, so a key
        // remembered after that is found here and dropped again.
        if self.tombstone(subject).exists() {
            if let Ok(mut cache) = self.cache.write() {
                cache.remove(&subject);
            }
            return Ok(KeyState::Erased);
        }
        Ok(KeyState::Present(key))
    }

    /// `subject`'s key, made now if it has none. An erased subject gets no
    /// new key: what was erased stays erased.
    pub fn key_for_sealing(&self, subject: Uuid) -> Result<Arc<DataKey>> {
        match self.state(subject)? {
            KeyState::Present(key) => Ok(key),
            KeyState::Erased => Err(PrivacyError::Erased { subject }),
            KeyState::Absent => self.create(subject),
        }
    }

    /// Whether `subject`'s data was erased.
    pub fn is_erased(&self, subject: Uuid) -> bool {
        self.tombstone(subject).exists()
    }

    /// Destroys `subject`'s key for good. Answers whether a key was
    /// destroyed now (false if there was none, or it was already erased).
    pub fn forget(&self, subject: Uuid) -> Result<bool> {
        let tombstone = self.tombstone(subject);
        if !tombstone.exists() {
            write_synced(&tombstone, b"")?;
            sync_dir(&self.dir)?;
        }
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&subject);
        }
        let destroyed = self.destroy_key_file(subject);
        self.erasures.fetch_add(1, Ordering::SeqCst);
        destroyed
    }

    /// How many times [`KeyStore::forget`] has run since the store opened.
    /// It grows only once the key can no longer be read, so data opened
    /// after reading a count is stale as soon as the count moves: a cache
    /// of opened data keeps the count it read first and drops what it
    /// holds when the count differs.
    pub fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::SeqCst)
    }

    fn cached(&self, subject: Uuid) -> Option<Arc<DataKey>> {
        self.cache.read().ok()?.get(&subject).cloned()
    }

    fn remember(&self, subject: Uuid, key: Arc<DataKey>) {
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(subject, key);
        }
    }

    fn key_file(&self, subject: Uuid) -> PathBuf {
        self.dir.join(format!("{subject}.key"))
    }

    fn tombstone(&self, subject: Uuid) -> PathBuf {
        self.dir.join(format!("{subject}.erased"))
    }

    /// Makes, wraps and stores a new key; under the cache's write lock, so
    /// two callers cannot make two keys for one subject.
    fn create(&self, subject: Uuid) -> Result<Arc<DataKey>> {
        let mut cache = self.cache.write().map_err(|_| PrivacyError::Io {
            path: self.dir.display().to_string(),
            source: std::io::Error::other("the key cache lock is poisoned"),
        })?;
        if let Some(key) = cache.get(&subject) {
            return Ok(Arc::clone(key));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        let wrapped = self.wrap_key(subject, &key)?;
        let path = self.key_file(subject);
        let temporary = self.dir.join(format!("{subject}.key.new"));
        write_synced(&temporary, &wrapped)?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
        sync_dir(&self.dir)?;
        let key = Arc::new(key);
        cache.insert(subject, Arc::clone(&key));
        Ok(key)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.master.bytes().into())
    }

    fn wrap_key(&self, subject: Uuid, key: &DataKey) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let aad = wrap_aad(subject);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.as_ref(),
                    aad: &aad,
                },
            )
            .map_err(|_| PrivacyError::Unwrap { subject })?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn unwrap_key(&self, subject: Uuid, wrapped: &[u8]) -> Result<DataKey> {
        let failed = || PrivacyError::Unwrap { subject };
        if wrapped.len() <= NONCE_BYTES {
            return Err(failed());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_BYTES);
        let aad = wrap_aad(subject);
        let plain = Zeroizing::new(
            self.cipher()
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| failed())?,
        );
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| failed())?;
        Ok(Zeroizing::new(bytes))
    }

    /// Zeroes, syncs and removes a key file; true if there was one.
    fn destroy_key_file(&self, subject: Uuid) -> Result<bool> {
        let path = self.key_file(subject);
        let length = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(err) => return Err(io_error(&path)(err)),
        };
        let zeros = vec![0u8; usize::try_from(length).unwrap_or(0)];
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.write_all(&zeros).map_err(io_error(&path))?;
        file.sync_all().map_err(io_error(&path))?;
        std::fs::remove_file(&path).map_err(io_error(&path))?;
        sync_dir(&self.dir)?;
        Ok(true)
    }

    fn finish_interrupted_erasures(&self) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))?;
        for entry in entries {
            let name = entry.map_err(io_error(&self.dir))?.file_name();
            let name = name.to_string_lossy();
            let Some(id) = name.strip_suffix(".erased") else {
                continue;
            };
            if let Ok(subject) = Uuid::parse_str(id) {
                if self.destroy_key_file(subject)? {
                    tracing::warn!(%subject, "finished an erasure that a crash interrupted");
                }
            }
        }
        Ok(())
    }
}

fn wrap_aad(subject: Uuid) -> Vec<u8> {
    [WRAP_CONTEXT, subject.as_bytes().as_slice()].concat()
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(io_error(path))?;
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

/// Makes a directory's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, master: &MasterKey) -> KeyStore {
        KeyStore::open(dir, master.clone()).unwrap()
    }

    #[test]
    fn a_key_is_made_once_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate();
        let subject = Uuid::new_v4();
        let made = store(dir.path(), &master).key_for_sealing(subject).unwrap();
        let again = store(dir.path(), &master);
        let KeyState::Present(read) = again.state(subject).unwrap() else {
            panic!("the key is gone after a reopen");
        };
        assert_eq!(made.as_ref(), read.as_ref());
        assert!(matches!(
            again.state(Uuid::new_v4()).unwrap(),
            KeyState::Absent
        ));
    }

    #[test]
    fn another_master_key_opens_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let subject = Uuid::new_v4();
        store(dir.path(), &MasterKey::generate())
            .key_for_sealing(subject)
            .unwrap();
        let other = store(dir.path(), &MasterKey::generate());
        assert!(matches!(
            other.state(subject),
            Err(PrivacyError::Unwrap { .. })
        ));
    }

    #[test]
    fn a_key_file_moved_to_another_household_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        store(dir.path(), &master).key_for_sealing(a).unwrap();
        std::fs::rename(
            dir.path().join(format!("{a}.key")),
            dir.path().join(format!("{b}.key")),
        )
        .unwrap();
        assert!(matches!(
            store(dir.path(), &master).state(b),
            Err(PrivacyError::Unwrap { .. })
        ));
    }

    #[test]
    fn forgetting_destroys_the_key_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate();
        let subject = Uuid::new_v4();
        let keys = store(dir.path(), &master);
        let key = keys.key_for_sealing(subject).unwrap();
        assert_eq!(keys.erasures(), 0);
        assert!(keys.forget(subject).unwrap());
        assert_eq!(keys.erasures(), 1, "an erasure is counted");
        assert!(
            !keys.forget(subject).unwrap(),
            "a second forget destroys nothing"
        );
        assert!(matches!(keys.state(subject).unwrap(), KeyState::Erased));
        assert!(matches!(
            keys.key_for_sealing(subject),
            Err(PrivacyError::Erased { .. })
        ));
        assert!(!dir.path().join(format!("{subject}.key")).exists());
        let reopened = store(dir.path(), &master);
        assert!(matches!(reopened.state(subject).unwrap(), KeyState::Erased));
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(32).any(|w| w == key.as_slice()));
        }
    }

    #[test]
    fn an_erasure_cut_short_by_a_crash_is_finished_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate();
        let subject = Uuid::new_v4();
        store(dir.path(), &master).key_for_sealing(subject).unwrap();
        std::fs::write(dir.path().join(format!("{subject}.erased")), b"").unwrap();
        let reopened = store(dir.path(), &master);
        assert!(!dir.path().join(format!("{subject}.key")).exists());
        assert!(matches!(reopened.state(subject).unwrap(), KeyState::Erased));
    }
}
