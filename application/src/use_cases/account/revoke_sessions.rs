//! Use cases: revoke one session, or every session ("log out everywhere").

use domain::{AuthEvent, AuthEventType, EventId, SessionId, UserId};

use super::{Forbidden, ensure_own};
use crate::caller::Caller;
use crate::ports::{Clock, IdGenerator, SessionRepository};
use crate::principal::Principal;

/// The ports [`revoke_session`] and [`revoke_all_sessions`] use.
#[derive(Clone, Copy)]
pub struct RevokeSessionsPorts<'a> {
    /// Where sessions are revoked.
    pub sessions: &'a dyn SessionRepository,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The event's id.
    pub ids: &'a dyn IdGenerator,
}

/// Input of [`revoke_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeSessionRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// The session to revoke.
    pub session_id: SessionId,
    /// Who is asking.
    pub caller: Caller,
}

/// Why a session could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// No live session with this id belongs to the caller (unknown, another user's,
    /// already revoked or expired).
    #[error("session not found")]
    NotFound,
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why the sessions could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeAllSessionsError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Revokes one of the caller's live sessions. Revoking the session of the request's
/// own token is allowed and is a logout (recorded as `logout`); any other is recorded as
/// `session_revoked`.
///
/// # Errors
/// See [`RevokeSessionError`]. Another user's session is `NotFound`, never `Forbidden`,
/// so session ids cannot be probed.
pub async fn revoke_session(
    ports: &RevokeSessionsPorts<'_>,
    principal: &Principal,
    request: RevokeSessionRequest,
) -> Result<(), RevokeSessionError> {
    ensure_own(principal, request.user_id)?;
    let now = ports.clock.now();
    let event_type = if request.session_id == principal.session.id {
        AuthEventType::Logout
    } else {
        AuthEventType::SessionRevoked
    };
    let event = AuthEvent::success(
        EventId::from_uuid(ports.ids.new_id()),
        event_type,
        Some(principal.user.id),
        &request.caller.client_info(),
        now,
    );
    let revoked = ports
        .sessions
        .revoke(request.session_id, request.user_id, now, &event)
        .await?;
    if revoked {
        Ok(())
    } else {
        Err(RevokeSessionError::NotFound)
    }
}

/// Revokes every live session of the caller, the current one included, and records one
/// `session_revoked` event whose `count` is the number revoked.
///
/// # Errors
/// See [`RevokeAllSessionsError`].
pub async fn revoke_all_sessions(
    ports: &RevokeSessionsPorts<'_>,
    principal: &Principal,
    user_id: UserId,
    caller: &Caller,
) -> Result<u32, RevokeAllSessionsError> {
    ensure_own(principal, user_id)?;
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(ports.ids.new_id()),
        AuthEventType::SessionRevoked,
        Some(principal.user.id),
        &caller.client_info(),
        now,
    );
    Ok(ports.sessions.revoke_all(user_id, now, &event).await?)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use std::sync::Arc;

    use super::*;
    use crate::use_cases::test_support::{
        Captured, Mocks, assert_carries_unavailable, assert_event, caller, captured, now, only,
        principal, someone_else, taken, unavailable, untouchable_ports,
    };

    fn request(user_id: UserId, session_id: SessionId) -> RevokeSessionRequest {
        RevokeSessionRequest {
            user_id,
            session_id,
            caller: caller(),
        }
    }

    fn another_session() -> SessionId {
        SessionId::from_uuid(Uuid::now_v7())
    }

    /// `sessions.revoke` is called once, for `session_id` of `user_id` at now, and
    /// answers `revoked`; the event it is handed is kept. Nothing goes to the log
    /// directly: the event belongs to the revocation's transaction.
    fn revokes(
        mocks: &mut Mocks,
        session_id: SessionId,
        user_id: UserId,
        revoked: bool,
    ) -> Captured<AuthEvent> {
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
                Ok(revoked)
            });
        mocks.events.expect_record().never();
        events
    }

    /// `sessions.revoke_all` is called once, for `user_id` at now, and answers `count`;
    /// the event it is handed is kept.
    fn revokes_all(mocks: &mut Mocks, user_id: UserId, count: u32) -> Captured<AuthEvent> {
        let events = captured();
        let kept = Arc::clone(&events);
        mocks
            .sessions
            .expect_revoke_all()
            .withf(move |user, at, _| *user == user_id && *at == now())
            .times(1)
            .returning(move |_, _, event| {
                kept.lock()
                    .expect("capture lock poisoned")
                    .push(event.clone());
                Ok(count)
            });
        mocks.sessions.expect_revoke().never();
        mocks.events.expect_record().never();
        events
    }

    #[tokio::test]
    async fn revoking_a_session_of_another_user_id_is_forbidden_before_any_port_is_called() {
        let principal = principal();
        let ports = untouchable_ports();

        // Even naming the caller's own session: the path's user id decides.
        let result = revoke_session(
            &ports.for_revoke_sessions(),
            &principal,
            request(someone_else(), principal.session.id),
        )
        .await;

        assert!(
            matches!(result, Err(RevokeSessionError::Forbidden(Forbidden))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn revoking_the_current_session_is_a_logout_and_records_logout_with_the_revocation() {
        let principal = principal();
        let (session_id, user_id) = (principal.session.id, principal.user.id);
        let mut mocks = Mocks::default();
        let events = revokes(&mut mocks, session_id, user_id, true);
        let ports = mocks.into_ports();

        let result = revoke_session(
            &ports.for_revoke_sessions(),
            &principal,
            request(user_id, session_id),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
        assert_event(
            &only(taken(&events)),
            AuthEventType::Logout,
            Some(user_id),
            None,
        );
    }

    #[tokio::test]
    async fn revoking_another_session_of_the_caller_records_session_revoked_with_the_revocation() {
        let principal = principal();
        let user_id = principal.user.id;
        let target = another_session();
        let mut mocks = Mocks::default();
        let events = revokes(&mut mocks, target, user_id, true);
        let ports = mocks.into_ports();

        let result = revoke_session(
            &ports.for_revoke_sessions(),
            &principal,
            request(user_id, target),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
        // `assert_event` checks the caller's IP and user agent, not the session's.
        assert_event(
            &only(taken(&events)),
            AuthEventType::SessionRevoked,
            Some(user_id),
            None,
        );
    }

    #[tokio::test]
    async fn revoking_a_session_that_is_not_the_callers_live_one_returns_not_found() {
        let principal = principal();
        let user_id = principal.user.id;
        let target = another_session();
        let mut mocks = Mocks::default();
        revokes(&mut mocks, target, user_id, false);
        let ports = mocks.into_ports();

        let result = revoke_session(
            &ports.for_revoke_sessions(),
            &principal,
            request(user_id, target),
        )
        .await;

        assert!(
            matches!(result, Err(RevokeSessionError::NotFound)),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn revoking_a_session_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable()
     {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        mocks
            .sessions
            .expect_revoke()
            .times(1)
            .returning(|_, _, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = revoke_session(
            &ports.for_revoke_sessions(),
            &principal,
            request(user_id, another_session()),
        )
        .await;

        let Err(RevokeSessionError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn revoking_all_sessions_of_another_user_id_is_forbidden_before_any_port_is_called() {
        let ports = untouchable_ports();

        let result = revoke_all_sessions(
            &ports.for_revoke_sessions(),
            &principal(),
            someone_else(),
            &caller(),
        )
        .await;

        assert!(
            matches!(result, Err(RevokeAllSessionsError::Forbidden(Forbidden))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn revoking_all_sessions_hands_one_session_revoked_event_to_the_port_and_returns_its_count()
     {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        let events = revokes_all(&mut mocks, user_id, 3);
        let ports = mocks.into_ports();

        let revoked =
            revoke_all_sessions(&ports.for_revoke_sessions(), &principal, user_id, &caller())
                .await
                .expect("the sessions are revoked");

        assert_eq!(revoked, 3);
        // The port sets the count in its transaction; the use case hands it over as one.
        assert_event(
            &only(taken(&events)),
            AuthEventType::SessionRevoked,
            Some(user_id),
            None,
        );
    }

    #[tokio::test]
    async fn revoking_all_sessions_when_none_is_live_returns_zero() {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        revokes_all(&mut mocks, user_id, 0);
        let ports = mocks.into_ports();

        let revoked =
            revoke_all_sessions(&ports.for_revoke_sessions(), &principal, user_id, &caller())
                .await
                .expect("nothing to revoke is not an error");

        assert_eq!(revoked, 0);
    }

    #[tokio::test]
    async fn revoking_all_sessions_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        mocks
            .sessions
            .expect_revoke_all()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = revoke_all_sessions(
            &ports.for_revoke_sessions(),
            &principal,
            principal.user.id,
            &caller(),
        )
        .await;

        let Err(RevokeAllSessionsError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
