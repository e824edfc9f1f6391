//! Port: password hashing.
//!
//! # Security
//! Hashing is deliberately slow and memory-hard; adapters run it off the request
//! runtime with bounded concurrency and report saturation as [`crate::Unavailable`].

use async_trait::async_trait;
use domain::{PasswordHash, PlaintextPassword};

/// The outcome of verifying a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password does not match.
    Mismatch,
    /// It matches; `needs_rehash` when the hash was made with other parameters than the
    /// current ones.
    Match {
        /// Whether the stored hash should be replaced by a fresh one.
        needs_rehash: bool,
    },
}

/// Hashes and verifies passwords.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// A new hash (fresh salt, current parameters).
    ///
    /// # Errors
    /// [`crate::Unavailable`] in the chain when the hashing queue is full; otherwise an
    /// unexpected failure.
    async fn hash(&self, password: PlaintextPassword) -> anyhow::Result<PasswordHash>;

    /// Verifies `password` against `hash`.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`]; a stored hash that does not parse is an error, not a
    /// mismatch.
    async fn verify(
        &self,
        password: PlaintextPassword,
        hash: PasswordHash,
    ) -> anyhow::Result<PasswordCheck>;

    /// Does the work of one verification against a hash with the current parameters and
    /// throws the answer away.
    ///
    /// # Security
    /// Called for unknown emails so that they cost what a wrong password costs.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`].
    async fn verify_dummy(&self, password: PlaintextPassword) -> anyhow::Result<()>;

    /// The refusal a job would get right now ([`crate::Unavailable`] while the queue is
    /// full), so that a use case can refuse before doing other work for nothing. A job
    /// still reports saturation itself: the queue may fill in between.
    fn saturation(&self) -> Option<crate::Unavailable>;
}
