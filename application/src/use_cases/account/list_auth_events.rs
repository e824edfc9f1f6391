//! Use case: the caller's own security log, newest first, keyset-paginated.

use domain::{AuthEvent, UserId};

use super::{Forbidden, ensure_own};
use crate::Principal;
use crate::ports::EventCursor;
use crate::service::Ports;

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
    /// Anything else (may carry [`crate::Unavailable`]).
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
    ports: &Ports,
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
