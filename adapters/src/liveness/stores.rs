//! The liveness cache around the storage adapters: a principal store that answers from
//! it, and repositories that empty it for a user after each of their writes that
//! revokes a session or changes the user.

use std::sync::Arc;

use application::Principal;
use application::ports::{
    CreateUserError, NewLogin, PrincipalStore, SessionRepository, StartLoginError, UserRepository,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AuthEvent, EmailKey, PasswordHash, Session, SessionId, User, UserId};

use super::{CacheLookup, InProcessLivenessCache};

/// A [`PrincipalStore`] that answers from the liveness cache what `inner` answered less
/// than the time to live ago, and caches what it reads from `inner`.
pub struct CachedPrincipalStore<S> {
    inner: S,
    cache: Arc<InProcessLivenessCache>,
}

impl<S> CachedPrincipalStore<S> {
    /// `inner` behind `cache`.
    pub fn new(inner: S, cache: Arc<InProcessLivenessCache>) -> Self {
        Self { inner, cache }
    }
}

#[async_trait]
impl<S: PrincipalStore> PrincipalStore for CachedPrincipalStore<S> {
    async fn load_live(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> anyhow::Result<Option<Principal>> {
        let stamp = match self.cache.lookup(user_id, session_id) {
            CacheLookup::Hit(principal) => return Ok(Some(principal)),
            CacheLookup::Miss(stamp) => stamp,
        };
        let loaded = self.inner.load_live(user_id, session_id).await?;
        // Only what the store answered; a refusal is not remembered (the next request
        // reads again), and a put that raced with an invalidation is dropped.
        if let Some(principal) = &loaded {
            self.cache.put(stamp, principal);
        }
        Ok(loaded)
    }
}

/// A repository whose writes that revoke a session or change a user forget that user in
/// the liveness cache once they are done — whatever their outcome (a failed call may
/// still have committed), and also when the caller stops waiting for them — before
/// they return. Reads go straight through.
pub struct ForgetAfterWrite<R> {
    inner: R,
    cache: Arc<InProcessLivenessCache>,
}

impl<R> ForgetAfterWrite<R> {
    /// `inner`, forgetting in `cache`.
    pub fn new(inner: R, cache: Arc<InProcessLivenessCache>) -> Self {
        Self { inner, cache }
    }

    /// Forgets `user_id` when dropped: after the write it is taken before, however that
    /// write ends (returned, failed, or abandoned half-way by a caller that went away).
    fn forget_after(&self, user_id: UserId) -> Forget<'_> {
        Forget {
            cache: &self.cache,
            user_id,
        }
    }
}

struct Forget<'a> {
    cache: &'a InProcessLivenessCache,
    user_id: UserId,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.cache.forget_user(self.user_id);
    }
}

#[async_trait]
impl<R: SessionRepository> SessionRepository for ForgetAfterWrite<R> {
    async fn start(&self, login: &NewLogin) -> Result<(), StartLoginError> {
        // The cached user's `last_login` (and maybe its hash) is stale once it is stored.
        let _forget = self.forget_after(login.session.user_id);
        self.inner.start(login).await
    }

    async fn find_by_id(&self, id: SessionId) -> anyhow::Result<Option<Session>> {
        self.inner.find_by_id(id).await
    }

    async fn revoke(
        &self,
        id: SessionId,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<bool> {
        let _forget = self.forget_after(user_id);
        self.inner.revoke(id, user_id, at, event).await
    }

    async fn list_live(&self, user_id: UserId, now: DateTime<Utc>) -> anyhow::Result<Vec<Session>> {
        self.inner.list_live(user_id, now).await
    }

    async fn revoke_all(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<u32> {
        let _forget = self.forget_after(user_id);
        self.inner.revoke_all(user_id, at, event).await
    }

    async fn prune_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        // Deletes only sessions that are over (expired or revoked): nothing a cached
        // principal could be answered for any more.
        self.inner.prune_before(cutoff).await
    }
}

#[async_trait]
impl<R: UserRepository> UserRepository for ForgetAfterWrite<R> {
    async fn find_by_email(&self, key: &EmailKey) -> anyhow::Result<Option<User>> {
        self.inner.find_by_email(key).await
    }

    async fn find_by_id(&self, id: UserId) -> anyhow::Result<Option<User>> {
        self.inner.find_by_id(id).await
    }

    async fn create_with_session(
        &self,
        user: &User,
        session: &Session,
        event: &AuthEvent,
    ) -> Result<(), CreateUserError> {
        // A new user: nothing of theirs can be cached yet.
        self.inner.create_with_session(user, session, event).await
    }

    async fn change_password(
        &self,
        user_id: UserId,
        expected: &PasswordHash,
        new_hash: &PasswordHash,
        keep: SessionId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<bool> {
        let _forget = self.forget_after(user_id);
        self.inner
            .change_password(user_id, expected, new_hash, keep, at, event)
            .await
    }

    async fn deactivate(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<()> {
        let _forget = self.forget_after(user_id);
        self.inner.deactivate(user_id, at, event).await
    }
}

#[cfg(test)]
mod tests;
