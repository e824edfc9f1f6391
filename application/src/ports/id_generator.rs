//! Port: new identifiers, so that no use case draws randomness or reads the clock
//! itself and tests can see which id went where.

use uuid::Uuid;

/// Makes the ids of new users, sessions, tokens and audit events.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync + 'static {
    /// A fresh id, unique and, for the storage's sake, ordered by creation time
    /// (UUIDv7 in production).
    fn new_id(&self) -> Uuid;
}
