//! The authenticated caller, as `authenticate` hands it to the other use cases.

use domain::{Session, User};

/// The authenticated caller: a live session of an active user.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The user, as stored now.
    pub user: User,
    /// The session the token belongs to.
    pub session: Session,
}
