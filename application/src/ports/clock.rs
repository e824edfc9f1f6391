//! Port: the current time, so that use cases are testable at any instant.

use chrono::{DateTime, Utc};

/// Wall-clock time in UTC.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}
