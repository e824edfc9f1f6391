//! Typed identifiers for users, sessions and audit events.
//!
//! Each id wraps a [`Uuid`] so that a session id can never be passed where a user id is
//! expected. This module must not generate ids: creating a UUID needs randomness or the
//! clock, which belong to the caller.

use std::fmt;

use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }

            /// The wrapped UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            /// The hyphenated lowercase form, as stored and as sent in JSON.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    };
}

uuid_id!(
    /// Identifies a user account.
    UserId
);
uuid_id!(
    /// Identifies a login session (the `sid` claim of its token).
    SessionId
);
uuid_id!(
    /// Identifies one row of the audit log.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    fn uuid() -> Uuid {
        Uuid::parse_str(RAW).expect("test uuid is valid")
    }

    #[test]
    fn ids_round_trip_their_uuid() {
        assert_eq!(UserId::from_uuid(uuid()).as_uuid(), uuid());
        assert_eq!(SessionId::from_uuid(uuid()).as_uuid(), uuid());
        assert_eq!(EventId::from_uuid(uuid()).as_uuid(), uuid());
    }

    #[test]
    fn ids_display_as_the_hyphenated_lowercase_uuid() {
        let upper = Uuid::parse_str(&RAW.to_uppercase()).expect("test uuid is valid");
        assert_eq!(UserId::from_uuid(upper).to_string(), RAW);
        assert_eq!(SessionId::from_uuid(uuid()).to_string(), RAW);
        assert_eq!(EventId::from_uuid(uuid()).to_string(), RAW);
    }

    #[test]
    fn ids_order_like_their_uuids() {
        let low = UserId::from_uuid(Uuid::from_u128(1));
        let high = UserId::from_uuid(Uuid::from_u128(2));
        assert!(low < high);
    }
}
