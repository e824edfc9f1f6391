//! Port: password hashing.
//!
//! # Security
//! Hashing is deliberately slow and memory-hard; adapters run it off the request
//! runtime with bounded concurrency and report saturation as [`crate::errors::Unavailable`].

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
    /// [`crate::errors::Unavailable`] in the chain when the hashing queue is full; otherwise an
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

    /// Admits one more request into hashing, to be held from before the work that
    /// leads to its hash (a login's user lookup) until the hash is done, or refuses it
    /// with [`crate::errors::Unavailable`] while as many as the adapter can hash and queue are
    /// already admitted or its queue is full. A use case asks first, so that under a
    /// flood a refused request costs its answer and nothing else: no database work, no
    /// memory held while waiting for a connection. A job still reports saturation
    /// itself: other callers (signups) may fill the queue in between.
    ///
    /// # Errors
    /// [`crate::errors::Unavailable`], as above.
    fn admit(&self) -> Result<HashAdmission, crate::errors::Unavailable>;
}

/// A request's place in hashing, from [`PasswordHasher::admit`]; dropping it gives the
/// place back.
#[must_use = "the place is given back when this is dropped"]
pub struct HashAdmission {
    _held: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl HashAdmission {
    /// A place that is `held` until dropped (the adapter's counter guard).
    pub fn new(held: impl std::any::Any + Send + Sync) -> Self {
        Self {
            _held: Some(Box::new(held)),
        }
    }

    /// A place of an adapter that admits everyone.
    pub fn unbounded() -> Self {
        Self { _held: None }
    }
}

impl std::fmt::Debug for HashAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashAdmission")
    }
}
