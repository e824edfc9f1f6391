//! The liveness cache: recently accepted principals in process, so that an authenticated
//! request usually needs no database round trip. It hangs on the storage adapters, not
//! in the core: [`CachedPrincipalStore`] answers `PrincipalStore::load_live` from it, and
//! [`ForgetAfterWrite`] wraps the repositories whose writes revoke a session or change a
//! user. The use cases know nothing of it.
//!
//! # Security
//! The contract allows a cache of session liveness only with an invalidation that reaches
//! every instance within one second:
//! - on this instance, [`ForgetAfterWrite`] forgets the user right after each revoking
//!   write (whatever its outcome: a failed call may still have committed), before the
//!   repository call returns — so before the response is sent;
//! - on the others, PostgreSQL `NOTIFY` on [`crate::persistence::LIVENESS_CHANNEL`] (sent
//!   by the persistence adapter inside the revoking transaction, so it is delivered
//!   exactly when the change commits) reaches [`spawn_postgres_listener`], which forgets
//!   the user. While that listener is not subscribed the cache answers nothing and stores
//!   nothing, and it starts empty every time it is subscribed again (notifications may
//!   have been missed in between);
//! - a listener connection can also die without an error (a NAT that forgot it): the
//!   listener proves its connection with a notification it sends itself, several times
//!   a second, and the cache answers only while the last proof is recent
//!   ([`InProcessLivenessCache::prove_until`]); unproven, requests read the database;
//! - every entry also dies after a time to live (`SESSION_CACHE_TTL_SECONDS`, at most
//!   the contract's one second).
//!
//! A read that raced with an invalidation cannot put a revoked session back: every
//! invalidation bumps an epoch, and a put whose stamp predates it is dropped. Only what
//! the store answered (a session not revoked, of an active user) is ever stored; the use
//! case checks the session's expiry on every answer.

mod postgres;
mod stores;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use application::Principal;
use domain::{Session, SessionId, User, UserId};
use quick_cache::sync::Cache;

pub use postgres::spawn_postgres_listener;
pub use stores::{CachedPrincipalStore, ForgetAfterWrite};

/// Taken on a miss, before the database is read, and handed back to
/// [`InProcessLivenessCache::put`]: a put whose stamp predates an invalidation is
/// dropped, so a read that raced with a revocation cannot put the revoked session back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStamp(u64);

/// What the cache knows of a session.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned by value and taken apart at once: boxing the hit would cost an allocation per answer"
)]
pub enum CacheLookup {
    /// The principal as the store answered it.
    Hit(Principal),
    /// Not cached (or the cache cannot answer now): read the store, then `put` with
    /// this stamp.
    Miss(CacheStamp),
}

/// Sessions kept per user; the oldest goes when a new one comes (a miss refills it).
const MAX_SESSIONS_PER_USER: usize = 8;

/// What is cached for one user: the user as last read, and their sessions that were live
/// when read, each with the instant it was read.
struct UserEntry {
    user: User,
    sessions: Vec<(Session, Instant)>,
}

/// A bounded in-process cache of principals keyed by user.
pub struct InProcessLivenessCache {
    entries: Cache<UserId, Arc<UserEntry>>,
    ttl: Duration,
    /// Bumped by every invalidation; read without the lock for stamps.
    epoch: AtomicU64,
    /// Whether invalidations are known to reach this cache (on PostgreSQL: the listener
    /// is subscribed).
    answering: AtomicBool,
    /// Until when (nanoseconds after `origin`) the invalidation channel is proven to
    /// deliver; `u64::MAX` when no proof is needed (a single instance).
    proven_until: AtomicU64,
    /// The instant `proven_until` counts from.
    origin: Instant,
    /// Serialises puts against invalidations so that the epoch check and the insert are
    /// one step. Lookups never take it.
    writes: Mutex<()>,
}

impl InProcessLivenessCache {
    /// A cache of at most `capacity` users whose entries live `ttl`. `answering` is
    /// `false` when a listener must subscribe first ([`Self::set_answering`]).
    pub fn new(capacity: usize, ttl: Duration, answering: bool) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
            ttl,
            epoch: AtomicU64::new(0),
            answering: AtomicBool::new(answering),
            proven_until: AtomicU64::new(u64::MAX),
            origin: Instant::now(),
            writes: Mutex::new(()),
        }
    }

    /// Starts (`true`) or stops (`false`) answering; either way the cache is emptied,
    /// and puts stamped before are dropped.
    pub fn set_answering(&self, answering: bool) {
        self.invalidate(|| {
            self.entries.clear();
            self.answering.store(answering, Ordering::SeqCst);
        });
    }

    /// From now on the cache answers only while a proof that invalidations reach it is
    /// current ([`Self::prove_until`]); until the first one, it answers nothing.
    pub fn await_proof(&self) {
        self.proven_until.store(0, Ordering::SeqCst);
    }

    /// Invalidations are known to reach the cache until `deadline`: everything committed
    /// before the proof was sent has been delivered (see `postgres::watch_health`).
    pub fn prove_until(&self, deadline: Instant) {
        let nanos = deadline.saturating_duration_since(self.origin).as_nanos();
        // `u64::MAX` means "no proof needed": a real deadline stays below it.
        let nanos = u64::try_from(nanos)
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1);
        self.proven_until.store(nanos, Ordering::SeqCst);
    }

    /// Whether lookups may hit: answering, and the invalidation channel proven now.
    pub fn is_answering(&self) -> bool {
        self.is_answering_at(Instant::now())
    }

    fn is_answering_at(&self, now: Instant) -> bool {
        if !self.answering.load(Ordering::SeqCst) {
            return false;
        }
        let proven_until = self.proven_until.load(Ordering::SeqCst);
        proven_until == u64::MAX
            || u128::from(proven_until) > now.duration_since(self.origin).as_nanos()
    }

    /// Runs `change` under the write lock after bumping the epoch.
    fn invalidate(&self, change: impl FnOnce()) {
        // A poisoned lock only means another invalidation panicked midway; the epoch
        // bump below still makes every older stamp void.
        let _guard = self
            .writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        change();
    }

    fn stamp(&self) -> CacheStamp {
        CacheStamp(self.epoch.load(Ordering::SeqCst))
    }

    /// The principal of `session_id`, if cached for `user_id` less than the time to live
    /// ago and the cache is answering; else a miss with the stamp for the `put` after
    /// the read.
    pub fn lookup(&self, user_id: UserId, session_id: SessionId) -> CacheLookup {
        // The stamp is taken first: an invalidation after it voids the caller's put.
        let stamp = self.stamp();
        let now = Instant::now();
        if !self.is_answering_at(now) {
            return CacheLookup::Miss(stamp);
        }
        let Some(entry) = self.entries.get(&user_id) else {
            return CacheLookup::Miss(stamp);
        };
        match entry
            .sessions
            .iter()
            .find(|(session, _)| session.id == session_id)
        {
            Some((session, read_at)) if now.duration_since(*read_at) < self.ttl => {
                CacheLookup::Hit(Principal {
                    user: entry.user.clone(),
                    session: session.clone(),
                })
            }
            _ => CacheLookup::Miss(stamp),
        }
    }

    /// Caches `principal`, read after `stamp` was taken; dropped if an invalidation
    /// happened since, or the cache is not answering.
    pub fn put(&self, stamp: CacheStamp, principal: &Principal) {
        let _guard = self
            .writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.is_answering() || self.epoch.load(Ordering::SeqCst) != stamp.0 {
            return;
        }
        let now = Instant::now();
        let user_id = principal.user.id;
        let mut sessions: Vec<(Session, Instant)> = match self.entries.get(&user_id) {
            Some(entry) => entry
                .sessions
                .iter()
                .filter(|(session, read_at)| {
                    session.id != principal.session.id && now.duration_since(*read_at) < self.ttl
                })
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        if sessions.len() >= MAX_SESSIONS_PER_USER {
            sessions.drain(..=sessions.len() - MAX_SESSIONS_PER_USER);
        }
        sessions.push((principal.session.clone(), now));
        self.entries.insert(
            user_id,
            Arc::new(UserEntry {
                user: principal.user.clone(),
                sessions,
            }),
        );
    }

    /// Drops everything cached for `user_id` (their sessions and their user record), and
    /// voids every stamp taken before.
    pub fn forget_user(&self, user_id: UserId) {
        self.invalidate(|| {
            self.entries.remove(&user_id);
        });
    }
}

#[cfg(test)]
mod tests;
