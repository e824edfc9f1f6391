//! Use case: the caller's live sessions.

use domain::{Session, UserId};

use super::{Forbidden, ensure_own};
use crate::ports::{Clock, SessionRepository};
use crate::principal::Principal;

/// The ports [`list_sessions`] uses.
#[derive(Clone, Copy)]
pub struct ListSessionsPorts<'a> {
    /// Sessions.
    pub sessions: &'a dyn SessionRepository,
    /// The time (which sessions are live).
    pub clock: &'a dyn Clock,
}

/// Why the sessions could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListSessionsError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The caller's sessions that are neither revoked nor expired, newest first. The
/// principal's own session is among them; the transport marks it `current`.
///
/// # Errors
/// See [`ListSessionsError`].
pub async fn list_sessions(
    ports: &ListSessionsPorts<'_>,
    principal: &Principal,
    user_id: UserId,
) -> Result<Vec<Session>, ListSessionsError> {
    ensure_own(principal, user_id)?;
    Ok(ports.sessions.list_live(user_id, ports.clock.now()).await?)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use domain::SessionId;
    use uuid::Uuid;

    use super::*;
    use crate::use_cases::test_support::{
        Mocks, assert_carries_unavailable, now, principal, someone_else, unavailable,
        untouchable_ports,
    };

    #[tokio::test]
    async fn listing_another_users_sessions_is_forbidden_before_any_port_is_called() {
        let ports = untouchable_ports();

        let result = list_sessions(&ports.for_list_sessions(), &principal(), someone_else()).await;

        assert!(
            matches!(result, Err(ListSessionsError::Forbidden(Forbidden))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn listing_asks_for_the_users_sessions_live_at_the_clocks_now_and_returns_them_as_given()
    {
        let principal = principal();
        let user_id = principal.user.id;
        let other = Session {
            id: SessionId::from_uuid(Uuid::now_v7()),
            created_at: now() - TimeDelta::minutes(1),
            ..principal.session.clone()
        };
        let live = vec![other, principal.session.clone()];
        let answer = live.clone();
        let mut mocks = Mocks::default();
        mocks
            .sessions
            .expect_list_live()
            .withf(move |user, at| *user == user_id && *at == now())
            .times(1)
            .returning(move |_, _| Ok(answer.clone()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let sessions = list_sessions(&ports.for_list_sessions(), &principal, user_id)
            .await
            .expect("the sessions are listed");

        assert_eq!(sessions, live);
    }

    #[tokio::test]
    async fn listing_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable() {
        let principal = principal();
        let mut mocks = Mocks::default();
        mocks
            .sessions
            .expect_list_live()
            .times(1)
            .returning(|_, _| Err(unavailable()));
        let ports = mocks.into_ports();

        let result = list_sessions(&ports.for_list_sessions(), &principal, principal.user.id).await;

        let Err(ListSessionsError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
