//! Login sessions: one per issued token, the thing logout and revocation act on.
//!
//! This module owns what makes a session live. It must not read the clock: `now` is an
//! argument, so that the rule is testable at its exact boundaries.

use chrono::{DateTime, Utc};

use crate::{SessionId, UserId};

/// A login session; its token is accepted only while the session is live.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The session's id (the token's `sid` claim).
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the user logged in.
    pub created_at: DateTime<Utc>,
    /// The token's `exp`: a session lives exactly as long as its token.
    pub expires_at: DateTime<Utc>,
    /// When it was ended by logout or revocation; `None` while not revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client's IP address at login, if known.
    pub ip_address: Option<String>,
    /// The client's user agent at login (at most 500 characters), if sent.
    pub user_agent: Option<String>,
}

impl Session {
    /// Whether the session is usable at `now`: not revoked, and `now` is strictly before
    /// `expires_at`.
    ///
    /// A revocation counts whatever its timestamp, even one after `now`: revoking is
    /// immediate, and a clock skew between instances must not revive a session.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use uuid::Uuid;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("valid time")
    }

    fn session(expires_at: DateTime<Utc>, revoked_at: Option<DateTime<Utc>>) -> Session {
        Session {
            id: SessionId::from_uuid(Uuid::from_u128(1)),
            user_id: UserId::from_uuid(Uuid::from_u128(2)),
            created_at: at(1_000),
            expires_at,
            revoked_at,
            ip_address: Some("192.0.2.1".into()),
            user_agent: None,
        }
    }

    #[test]
    fn table_of_liveness_around_expiry_and_revocation() {
        let expiry = at(2_000);
        let ns = TimeDelta::nanoseconds(1);
        let cases = [
            (at(1_000), None, true),
            (expiry - ns, None, true),
            (expiry, None, false),
            (expiry + ns, None, false),
            (at(1_000), Some(at(1_500)), false),
            (at(1_000), Some(at(1_000)), false),
            (at(1_000), Some(at(1_999)), false),
        ];
        for (now, revoked_at, live) in cases {
            assert_eq!(
                session(expiry, revoked_at).is_live(now),
                live,
                "now {now}, revoked {revoked_at:?}"
            );
        }
    }
}
