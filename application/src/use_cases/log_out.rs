//! Use case: log out — revoke the session the caller's token belongs to.

use domain::{AuthEvent, AuthEventType, EventId};

use crate::caller::Caller;
use crate::ports::{Clock, IdGenerator, SessionRepository};
use crate::principal::Principal;

/// The ports [`log_out`] uses.
#[derive(Clone, Copy)]
pub struct LogOutPorts<'a> {
    /// Where the session is revoked.
    pub sessions: &'a dyn SessionRepository,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The event's id.
    pub ids: &'a dyn IdGenerator,
}

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogOutError {
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Revokes the caller's current session at once, recording `logout` in the same
/// transaction. Logging out a session that a concurrent request already revoked
/// succeeds and records nothing more (the token is dead either way).
///
/// # Errors
/// See [`LogOutError`].
pub async fn log_out(
    ports: &LogOutPorts<'_>,
    principal: &Principal,
    caller: &Caller,
) -> Result<(), LogOutError> {
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(ports.ids.new_id()),
        AuthEventType::Logout,
        Some(principal.user.id),
        &caller.client_info(),
        now,
    );
    ports
        .sessions
        .revoke(principal.session.id, principal.user.id, now, &event)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use std::sync::Arc;

    use chrono::TimeDelta;
    use domain::{Session, SessionId};

    use super::*;
    use crate::use_cases::test_support::{
        Mocks, assert_carries_unavailable, assert_event, caller, captured, now, only, taken,
        unavailable, user,
    };

    fn principal() -> Principal {
        let user = user("jane.doe@example.com");
        let session = Session {
            id: SessionId::from_uuid(Uuid::now_v7()),
            user_id: user.id,
            created_at: now() - TimeDelta::minutes(5),
            expires_at: now() + TimeDelta::minutes(55),
            revoked_at: None,
            ip_address: Some("198.51.100.1".into()),
            user_agent: None,
        };
        Principal { user, session }
    }

    #[tokio::test]
    async fn logout_revokes_the_callers_session_now_and_records_logout_in_the_same_call() {
        let principal = principal();
        let (session_id, user_id) = (principal.session.id, principal.user.id);
        let mut mocks = Mocks::default();
        let events = captured();
        let kept = Arc::clone(&events);
        mocks
            .sessions
            .expect_revoke()
            .withf(move |id, user, at, _| *id == session_id && *user == user_id && *at == now())
            .times(1)
            .returning(move |_, _, _, event| {
                kept.lock()
                    .expect("capture lock poisoned")
                    .push(event.clone());
                Ok(true)
            });
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_out(&ports.for_log_out(), &principal, &caller()).await;

        assert!(result.is_ok(), "{result:?}");
        assert_event(
            &only(taken(&events)),
            AuthEventType::Logout,
            Some(user_id),
            None,
        );
    }

    #[tokio::test]
    async fn logout_of_a_session_revoked_concurrently_still_succeeds_and_records_nothing_more() {
        let mut mocks = Mocks::default();
        mocks
            .sessions
            .expect_revoke()
            .times(1)
            .returning(|_, _, _, _| Ok(false));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_out(&ports.for_log_out(), &principal(), &caller()).await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn logout_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable() {
        let mut mocks = Mocks::default();
        mocks
            .sessions
            .expect_revoke()
            .times(1)
            .returning(|_, _, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_out(&ports.for_log_out(), &principal(), &caller()).await;

        let Err(LogOutError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
