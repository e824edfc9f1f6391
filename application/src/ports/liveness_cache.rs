//! Port: a cache of authenticated principals, so that a request with a token the
//! instance has recently accepted need not read its session and user again.
//!
//! # Security
//! The contract allows such a cache only if every revocation reaches it: on the
//! instance that revokes before its response is sent (the use cases call
//! [`LivenessCache::forget_user`] right after the write), and on every other instance
//! within one second (the adapter's business, e.g. PostgreSQL `LISTEN/NOTIFY`). The
//! cache only ever holds principals that were live and active when read; the use case
//! re-checks the session's expiry on every hit.

use domain::{SessionId, UserId};

use crate::principal::Principal;

/// Taken on a miss, before the database is read, and handed back to
/// [`LivenessCache::put`]: a put whose stamp predates an invalidation is dropped, so a
/// read that raced with a revocation cannot put the revoked session back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStamp(pub u64);

/// What the cache knows of a session.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheLookup {
    /// The principal as it was read from storage (live and active then).
    Hit(Box<Principal>),
    /// Not cached (or the cache cannot answer now): read storage, then `put` with this
    /// stamp.
    Miss(CacheStamp),
}

/// Recently accepted principals by user and session.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait LivenessCache: Send + Sync + 'static {
    /// The principal of `session_id`, if cached for `user_id` and not older than the
    /// adapter's time to live. MUST answer `Miss` while the adapter cannot guarantee
    /// that invalidations reach it (e.g. its notification channel is down).
    fn lookup(&self, user_id: UserId, session_id: SessionId) -> CacheLookup;

    /// Caches `principal`, read from storage after `stamp` was taken. MUST drop it when
    /// an invalidation happened since `stamp`.
    fn put(&self, stamp: CacheStamp, principal: &Principal);

    /// Drops everything cached for `user_id` (its sessions and its user record), on
    /// this instance, before returning.
    fn forget_user(&self, user_id: UserId);
}

/// A cache that never holds anything: every lookup misses (the cache switched off).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLivenessCache;

impl LivenessCache for NoLivenessCache {
    fn lookup(&self, _user_id: UserId, _session_id: SessionId) -> CacheLookup {
        CacheLookup::Miss(CacheStamp(0))
    }

    fn put(&self, _stamp: CacheStamp, _principal: &Principal) {}

    fn forget_user(&self, _user_id: UserId) {}
}
