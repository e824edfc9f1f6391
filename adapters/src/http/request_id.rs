//! The request id: kept from an incoming `X-Request-ID` that is a UUID (echoed as
//! sent), otherwise a new UUID v7. It lives in a task-local for the request's duration so
//! that error envelopes and log lines deep in the stack carry it without threading it
//! through every signature.

use std::future::Future;

use uuid::Uuid;

/// The header carrying the id, in and out.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id to use for a request given its incoming header.
pub fn choose(incoming: Option<&str>) -> String {
    match incoming {
        // Only the canonical hyphenated form counts as a UUID here: braced, URN and
        // unhyphenated spellings are replaced, so every echoed id looks the same.
        Some(id) if id.len() == 36 && Uuid::parse_str(id).is_ok() => id.to_owned(),
        _ => Uuid::now_v7().to_string(),
    }
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The current request's id (a fresh one outside any request, e.g. in unit tests).
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Uuid::now_v7().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incoming_uuid_is_kept_as_sent() {
        let id = "0193E5A2-1C3F-7000-8000-000000000001";
        assert_eq!(choose(Some(id)), id);
    }

    #[test]
    fn anything_else_is_replaced_by_a_new_uuid() {
        for incoming in [None, Some(""), Some("abc"), Some("<script>")] {
            let id = choose(incoming);
            assert!(Uuid::parse_str(&id).is_ok(), "{id}");
            assert_ne!(Some(id.as_str()), incoming);
        }
    }

    #[tokio::test]
    async fn the_id_is_visible_inside_its_scope() {
        let seen = scope("x-1".into(), async { current() }).await;
        assert_eq!(seen, "x-1");
    }
}
