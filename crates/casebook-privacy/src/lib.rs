//! Residents' personal data, sealed so that it can be erased without
//! breaking the proofs.
//!
//! The log is append-only and hash-chained, so personal data cannot be
//! deleted from it. Instead every personal field of an event (a household's
//! names, phone, address and circumstances; a tip's informant; a concern's
//! personal note) is encrypted with XChaCha20-Poly1305 under a key of its
//! own household (or, for a case raised by a whole hamlet, of the case)
//! before it is appended. The keys live in a [`KeyStore`], each wrapped by a
//! [`MasterKey`] that comes from configuration or the environment. Erasure
//! (`forget`) destroys a key: the ciphertext stays in the log, so the chain,
//! the Merkle tree and the signed heads still verify, but nothing can read
//! it any more.
//!
//! - `seal`: which fields are personal, the sealed envelope, and the
//!   placeholders shown where a field is erased or withheld.
//! - `codec`: the one mapping between domain events and log records, used
//!   by the API, the projections and the demo loader.
//! - `keystore`, `master`: the key files and the master key.
//!
//! The views never hold personal data: they decode with
//! [`Unsealer::Withhold`], which puts placeholders in place of every sealed
//! field without touching a key. Only answers built at request time (the
//! API's in-memory directory and case reads) decrypt.

mod codec;
mod error;
mod keystore;
mod master;
mod seal;

pub use codec::{decode, encode, event_id};
pub use error::{PrivacyError, Result};
pub use keystore::{KeyState, KeyStore, KEYS_DIR};
pub use master::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE};
pub use seal::{personal_fields, seal, unseal, Unsealer, SEALED_TAG};
