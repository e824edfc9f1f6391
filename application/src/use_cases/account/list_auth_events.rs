//! Use case: the caller's own security log, newest first, keyset-paginated.

use domain::{AuthEvent, UserId};

use super::{Forbidden, ensure_own};
use crate::ports::{AuthEventLog, EventCursor};
use crate::principal::Principal;

/// The ports [`list_auth_events`] uses.
#[derive(Clone, Copy)]
pub struct ListAuthEventsPorts<'a> {
    /// The audit log.
    pub events: &'a dyn AuthEventLog,
}

/// The most events one page may hold.
pub const MAX_PAGE: u32 = 100;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;

/// Input of [`list_auth_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAuthEventsRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// Where the previous page ended, if any.
    pub after: Option<EventCursor>,
    /// Page size, 1..=100 (clamped).
    pub limit: u32,
}

/// One page of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthEventPage {
    /// The events, newest first.
    pub events: Vec<AuthEvent>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<EventCursor>,
}

/// Why the log could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListAuthEventsError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Lists one page of the caller's security log.
///
/// One more event than asked is read to know whether a next page exists, so the last
/// page never carries a cursor to an empty page.
///
/// # Errors
/// See [`ListAuthEventsError`].
pub async fn list_auth_events(
    ports: &ListAuthEventsPorts<'_>,
    principal: &Principal,
    request: ListAuthEventsRequest,
) -> Result<AuthEventPage, ListAuthEventsError> {
    ensure_own(principal, request.user_id)?;
    let limit = request.limit.clamp(1, MAX_PAGE);
    let mut events = ports
        .events
        .list_for_user(request.user_id, request.after, limit + 1)
        .await?;
    let next = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events.last().map(|e| EventCursor {
            created_at: e.created_at,
            id: e.id,
        })
    } else {
        None
    };
    Ok(AuthEventPage { events, next })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use domain::{AuthEventType, ClientInfo, EventId};
    use uuid::Uuid;

    use super::*;
    use crate::use_cases::test_support::{
        Mocks, assert_carries_unavailable, now, principal, someone_else, unavailable,
        untouchable_ports,
    };

    /// `n` events of `user_id`, newest first, one a minute.
    fn events(user_id: UserId, n: usize) -> Vec<AuthEvent> {
        (0..n)
            .map(|i| {
                let minutes = i64::try_from(i).expect("a small count");
                AuthEvent::success(
                    EventId::from_uuid(Uuid::now_v7()),
                    AuthEventType::Login,
                    Some(user_id),
                    &ClientInfo::default(),
                    now() - TimeDelta::minutes(minutes),
                )
            })
            .collect()
    }

    fn cursor_of(event: &AuthEvent) -> EventCursor {
        EventCursor {
            created_at: event.created_at,
            id: event.id,
        }
    }

    fn request(user_id: UserId, after: Option<EventCursor>, limit: u32) -> ListAuthEventsRequest {
        ListAuthEventsRequest {
            user_id,
            after,
            limit,
        }
    }

    /// The port is asked once, for the user's events after `after`, `asked` at most,
    /// and answers `stored`.
    fn lists(
        mocks: &mut Mocks,
        user_id: UserId,
        after: Option<EventCursor>,
        asked: u32,
        stored: Vec<AuthEvent>,
    ) {
        mocks
            .events
            .expect_list_for_user()
            .withf(move |user, from, limit| *user == user_id && *from == after && *limit == asked)
            .times(1)
            .returning(move |_, _, _| Ok(stored.clone()));
        mocks.events.expect_record().never();
    }

    #[tokio::test]
    async fn listing_another_users_events_is_forbidden_before_any_port_is_called() {
        let ports = untouchable_ports();

        let result = list_auth_events(
            &ports.for_list_auth_events(),
            &principal(),
            request(someone_else(), None, 50),
        )
        .await;

        assert!(
            matches!(result, Err(ListAuthEventsError::Forbidden(Forbidden))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn listing_asks_the_port_for_one_more_event_than_the_page_holds() {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 51, events(user_id, 3));
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, 50),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events.len(), 3);
    }

    #[tokio::test]
    async fn a_limit_of_zero_is_clamped_to_one() {
        let principal = principal();
        let user_id = principal.user.id;
        let stored = events(user_id, 2);
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 2, stored.clone());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, 0),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events, stored[..1]);
        assert_eq!(page.next, Some(cursor_of(&stored[0])));
    }

    #[tokio::test]
    async fn a_limit_over_one_hundred_is_clamped_to_one_hundred() {
        let principal = principal();
        let user_id = principal.user.id;
        let stored = events(user_id, 101);
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 101, stored.clone());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, u32::MAX),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events, stored[..100]);
        assert_eq!(page.next, Some(cursor_of(&stored[99])));
    }

    #[tokio::test]
    async fn a_limit_of_exactly_one_hundred_is_kept() {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 101, Vec::new());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, MAX_PAGE),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events, []);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn when_more_events_exist_the_page_holds_the_limit_and_next_is_the_cursor_of_its_last_event()
     {
        let principal = principal();
        let user_id = principal.user.id;
        let stored = events(user_id, 4);
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 4, stored.clone());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, 3),
        )
        .await
        .expect("the log is listed");

        assert_eq!(
            page.events,
            stored[..3],
            "newest first, as the port gave them"
        );
        assert_eq!(page.next, Some(cursor_of(&stored[2])));
    }

    #[tokio::test]
    async fn a_last_page_that_is_exactly_full_has_no_next_cursor() {
        let principal = principal();
        let user_id = principal.user.id;
        let stored = events(user_id, 3);
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 4, stored.clone());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, 3),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events, stored);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn a_short_last_page_has_no_next_cursor() {
        let principal = principal();
        let user_id = principal.user.id;
        let stored = events(user_id, 1);
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 4, stored.clone());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, 3),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events, stored);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn an_empty_log_gives_an_empty_page_without_a_cursor() {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, None, 51, Vec::new());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, DEFAULT_PAGE),
        )
        .await
        .expect("the log is listed");

        assert_eq!(
            page,
            AuthEventPage {
                events: Vec::new(),
                next: None
            }
        );
    }

    #[tokio::test]
    async fn the_cursor_of_the_previous_page_is_passed_through_to_the_port() {
        let principal = principal();
        let user_id = principal.user.id;
        let previous = events(user_id, 5);
        let after = cursor_of(&previous[2]);
        let stored = previous[3..].to_vec();
        let mut mocks = Mocks::default();
        lists(&mut mocks, user_id, Some(after), 3, stored.clone());
        let ports = mocks.into_ports();

        let page = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, Some(after), 2),
        )
        .await
        .expect("the log is listed");

        assert_eq!(page.events, stored);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn listing_when_the_log_is_unavailable_returns_unexpected_carrying_unavailable() {
        let principal = principal();
        let user_id = principal.user.id;
        let mut mocks = Mocks::default();
        mocks
            .events
            .expect_list_for_user()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        let ports = mocks.into_ports();

        let result = list_auth_events(
            &ports.for_list_auth_events(),
            &principal,
            request(user_id, None, 50),
        )
        .await;

        let Err(ListAuthEventsError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
