//! Errors shared by every use case.
//!
//! A use case's own error enum names each outcome a client must be told about; anything
//! else is `Unexpected(anyhow::Error)`. Adapters mark a temporary failure (database
//! unreachable, hashing pool saturated) by putting [`Unavailable`] into that error's
//! chain, so the HTTP layer can answer 503 with `Retry-After` instead of 500 without
//! every port growing its own "unavailable" variant.

use std::fmt;

/// A dependency is temporarily unable to serve; the client should retry later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable {
    /// What the client is told to wait before retrying, in seconds.
    pub retry_after_secs: u64,
    /// Which dependency (for logs only, never for clients).
    pub what: &'static str,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} temporarily unavailable", self.what)
    }
}

impl std::error::Error for Unavailable {}

impl Unavailable {
    /// Finds an [`Unavailable`] marker anywhere in an error's cause chain.
    pub fn find_in(err: &anyhow::Error) -> Option<Unavailable> {
        err.chain()
            .find_map(|cause| cause.downcast_ref::<Unavailable>())
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_is_found_under_added_context() {
        let err = anyhow::Error::new(Unavailable {
            retry_after_secs: 3,
            what: "database",
        })
        .context("loading the user");
        assert_eq!(
            Unavailable::find_in(&err).map(|u| u.retry_after_secs),
            Some(3)
        );
    }

    #[test]
    fn a_plain_error_is_not_unavailable() {
        assert_eq!(Unavailable::find_in(&anyhow::anyhow!("boom")), None);
    }
}
