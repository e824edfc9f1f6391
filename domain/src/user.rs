//! The user account as the domain sees it.
//!
//! This module owns the shape of an account. It must not know how accounts are stored or
//! how the hash was made: rows become a [`User`] in the persistence adapter, through
//! [`EmailAddress::parse`] like any other input.

use chrono::{DateTime, Utc};

use crate::{EmailAddress, PasswordHash, UserId};

/// A registered account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The account's id.
    pub id: UserId,
    /// The normalised, unique email address.
    pub email: EmailAddress,
    /// The current password's PHC hash.
    pub password_hash: PasswordHash,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the user last logged in (sign-up counts); `None` if never.
    pub last_login: Option<DateTime<Utc>>,
    /// `false` once the account is deactivated: it keeps its email but can no longer log
    /// in, and its tokens stop working.
    pub is_active: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn users_with_the_same_fields_are_equal_and_debug_hides_the_hash() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
        let user = User {
            id: UserId::from_uuid(Uuid::from_u128(7)),
            email: EmailAddress::parse("a@example.com").expect("valid email"),
            password_hash: PasswordHash::from_phc("$argon2id$secret".into()),
            created_at: at,
            last_login: Some(at),
            is_active: true,
        };
        assert_eq!(user, user.clone());
        let printed = format!("{user:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(printed.contains("a@example.com"));
    }
}
