//! Asymmetric signing keys (`contract-v2.md` §2): their material (generation, the public
//! JWK and its RFC 7638 thumbprint, the jsonwebtoken keys) and the sealing of private
//! keys under `KEY_ENCRYPTION_SECRET` before they reach the database.
//!
//! Which key signs and which verify is the domain's schedule
//! ([`domain::signing_key::key_ring`]); storing keys is persistence's.

mod material;
mod seal;

pub use material::{KeyMaterial, KeyMaterialError, PublicJwk};
pub use seal::{KeyEncryptionKey, SealError};
