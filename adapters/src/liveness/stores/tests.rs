//! The cache around the stores: what is answered from memory, and that every revoking
//! write through the wrapped repositories ends that on this instance before it returns
//! (the other instances are `tests/api/instances.rs`'s business).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use application::ports::{MockPrincipalStore, MockSessionRepository, MockUserRepository};
use domain::{AuthEventType, ClientInfo, EventId};
use uuid::Uuid;

use super::*;
use crate::liveness::tests::{principal_of, user};

fn event(user_id: UserId) -> AuthEvent {
    AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        AuthEventType::SessionRevoked,
        Some(user_id),
        &ClientInfo::default(),
        Utc::now(),
    )
}

fn cache() -> Arc<InProcessLivenessCache> {
    Arc::new(InProcessLivenessCache::new(
        100,
        Duration::from_secs(60),
        true,
    ))
}

/// A store that answers `answer` and counts how often it is read.
struct Counted {
    answer: Option<Principal>,
    reads: AtomicUsize,
}

#[async_trait]
impl PrincipalStore for Counted {
    async fn load_live(
        &self,
        _user_id: UserId,
        _session_id: SessionId,
    ) -> anyhow::Result<Option<Principal>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.answer.clone())
    }
}

/// The cached store over a [`Counted`] one answering `answer`.
fn cached(
    cache: &Arc<InProcessLivenessCache>,
    answer: Option<Principal>,
) -> CachedPrincipalStore<Counted> {
    CachedPrincipalStore::new(
        Counted {
            answer,
            reads: AtomicUsize::new(0),
        },
        Arc::clone(cache),
    )
}

/// Loads `principal` through `store`; answers whether the inner store was read.
async fn reads_storage(store: &CachedPrincipalStore<Counted>, principal: &Principal) -> bool {
    let before = store.inner.reads.load(Ordering::SeqCst);
    let loaded = store
        .load_live(principal.user.id, principal.session.id)
        .await
        .expect("loads");
    assert_eq!(loaded.as_ref(), store.inner.answer.as_ref());
    store.inner.reads.load(Ordering::SeqCst) != before
}

#[tokio::test]
async fn a_principal_read_from_the_store_is_answered_from_the_cache_the_next_time() {
    let cache = cache();
    let principal = principal_of(&user());
    let store = cached(&cache, Some(principal.clone()));

    assert!(reads_storage(&store, &principal).await, "a miss first");
    assert!(!reads_storage(&store, &principal).await, "then a hit");
    assert!(!reads_storage(&store, &principal).await);
}

#[tokio::test]
async fn a_session_the_store_refuses_is_not_remembered() {
    let cache = cache();
    let principal = principal_of(&user());
    let store = cached(&cache, None);

    assert!(reads_storage(&store, &principal).await);
    assert!(reads_storage(&store, &principal).await, "read again");
}

#[tokio::test]
async fn a_store_failure_goes_to_the_caller_and_is_not_remembered() {
    let cache = cache();
    let principal = principal_of(&user());
    let mut inner = MockPrincipalStore::new();
    inner
        .expect_load_live()
        .times(2)
        .returning(|_, _| Err(anyhow::anyhow!("database down")));
    let store = CachedPrincipalStore::new(inner, cache);

    for _ in 0..2 {
        let result = store
            .load_live(principal.user.id, principal.session.id)
            .await;
        assert!(result.is_err(), "{result:?}");
    }
}

#[tokio::test]
async fn a_read_that_raced_with_an_invalidation_is_not_cached() {
    // The store read the session; meanwhile a revocation committed and forgot the user.
    // The stale read must not come back from the cache.
    let cache = cache();
    let principal = principal_of(&user());
    let mut inner = MockPrincipalStore::new();
    let (during, answer) = (Arc::clone(&cache), principal.clone());
    let user_id = principal.user.id;
    inner.expect_load_live().times(2).returning(move |_, _| {
        during.forget_user(user_id);
        Ok(Some(answer.clone()))
    });
    let store = CachedPrincipalStore::new(inner, Arc::clone(&cache));

    for _ in 0..2 {
        let loaded = store
            .load_live(principal.user.id, principal.session.id)
            .await
            .expect("loads");
        assert_eq!(loaded.as_ref(), Some(&principal));
    }
    // `times(2)`: the second load read the store again.
}

/// Every repository write that revokes a session or changes a user (what the use cases
/// log in, log out, revoke one or all, change a password and deactivate with).
#[derive(Debug, Clone, Copy)]
enum Write {
    Start,
    Revoke,
    RevokeAll,
    ChangePassword,
    Deactivate,
}

impl Write {
    const ALL: [Self; 5] = [
        Self::Start,
        Self::Revoke,
        Self::RevokeAll,
        Self::ChangePassword,
        Self::Deactivate,
    ];

    /// Expects this write once on the inner repositories, succeeding or failing.
    fn expect(
        self,
        sessions: &mut MockSessionRepository,
        users: &mut MockUserRepository,
        fails: bool,
    ) {
        let down = move || anyhow::anyhow!("database down");
        match self {
            Self::Start => {
                sessions.expect_start().times(1).returning(move |_| {
                    if fails {
                        Err(StartLoginError::Unexpected(down()))
                    } else {
                        Ok(())
                    }
                });
            }
            Self::Revoke => {
                sessions
                    .expect_revoke()
                    .times(1)
                    .returning(move |_, _, _, _| if fails { Err(down()) } else { Ok(true) });
            }
            Self::RevokeAll => {
                sessions
                    .expect_revoke_all()
                    .times(1)
                    .returning(move |_, _, _| if fails { Err(down()) } else { Ok(2) });
            }
            Self::ChangePassword => {
                users
                    .expect_change_password()
                    .times(1)
                    .returning(move |_, _, _, _, _, _| if fails { Err(down()) } else { Ok(true) });
            }
            Self::Deactivate => {
                users
                    .expect_deactivate()
                    .times(1)
                    .returning(move |_, _, _| if fails { Err(down()) } else { Ok(()) });
            }
        }
    }

    /// Performs this write on `principal` through the wrapped repositories; answers
    /// whether it failed.
    async fn perform(
        self,
        sessions: &ForgetAfterWrite<MockSessionRepository>,
        users: &ForgetAfterWrite<MockUserRepository>,
        principal: &Principal,
    ) -> bool {
        let (user_id, session_id) = (principal.user.id, principal.session.id);
        let (at, event) = (Utc::now(), event(user_id));
        let hash = PasswordHash::from_phc("$argon2id$new".into());
        match self {
            Self::Start => {
                let login = NewLogin {
                    session: principal.session.clone(),
                    verified: principal.user.password_hash.clone(),
                    last_login: at,
                    rehashed: None,
                    event,
                };
                sessions.start(&login).await.is_err()
            }
            Self::Revoke => sessions
                .revoke(session_id, user_id, at, &event)
                .await
                .is_err(),
            Self::RevokeAll => sessions.revoke_all(user_id, at, &event).await.is_err(),
            Self::ChangePassword => users
                .change_password(user_id, &hash, &hash, session_id, at, &event)
                .await
                .is_err(),
            Self::Deactivate => users.deactivate(user_id, at, &event).await.is_err(),
        }
    }
}

/// For each [`Write`]: a principal of `user_id` is answered from the cache, the write
/// goes through the wrapped repositories (its inner call succeeding or failing), and
/// the principal is read from storage again right after.
async fn each_revoking_write(user_id: UserId, cache: &Arc<InProcessLivenessCache>, fails: bool) {
    for write in Write::ALL {
        let principal = principal_of(&User {
            id: user_id,
            ..user()
        });
        let store = cached(cache, Some(principal.clone()));
        reads_storage(&store, &principal).await;
        assert!(
            !reads_storage(&store, &principal).await,
            "{write:?}: cached before the write"
        );
        let (mut sessions, mut users) = (MockSessionRepository::new(), MockUserRepository::new());
        write.expect(&mut sessions, &mut users, fails);
        let sessions = ForgetAfterWrite::new(sessions, Arc::clone(cache));
        let users = ForgetAfterWrite::new(users, Arc::clone(cache));

        let failed = write.perform(&sessions, &users, &principal).await;

        assert_eq!(failed, fails, "{write:?}: the inner outcome goes through");
        assert!(
            reads_storage(&store, &principal).await,
            "{write:?} (failing: {fails}): the principal is still answered from the cache"
        );
    }
}

#[tokio::test]
async fn after_each_revoking_write_the_users_principals_are_read_from_storage_again() {
    let cache = cache();
    each_revoking_write(UserId::from_uuid(Uuid::now_v7()), &cache, false).await;
}

#[tokio::test]
async fn a_revoking_write_that_fails_forgets_too_since_it_may_have_committed() {
    let cache = cache();
    each_revoking_write(UserId::from_uuid(Uuid::now_v7()), &cache, true).await;
}

#[tokio::test]
async fn a_revoking_write_forgets_only_its_own_user() {
    let cache = cache();
    let bystander = principal_of(&user());
    let store = cached(&cache, Some(bystander.clone()));
    reads_storage(&store, &bystander).await;

    each_revoking_write(UserId::from_uuid(Uuid::now_v7()), &cache, false).await;

    assert!(!reads_storage(&store, &bystander).await, "still cached");
}

#[tokio::test]
async fn reads_and_signups_through_the_wrapped_repositories_leave_the_cache_alone() {
    let cache = cache();
    let principal = principal_of(&user());
    let store = cached(&cache, Some(principal.clone()));
    reads_storage(&store, &principal).await;
    let (user_id, at) = (principal.user.id, Utc::now());
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_find_by_id()
        .times(1)
        .returning(|_| Ok(None));
    sessions
        .expect_list_live()
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    sessions.expect_prune_before().times(1).returning(|_| Ok(0));
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().times(1).returning(|_| Ok(None));
    users
        .expect_find_by_email()
        .times(1)
        .returning(|_| Ok(None));
    users
        .expect_create_with_session()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let sessions = ForgetAfterWrite::new(sessions, Arc::clone(&cache));
    let users = ForgetAfterWrite::new(users, Arc::clone(&cache));

    sessions.find_by_id(principal.session.id).await.expect("ok");
    sessions.list_live(user_id, at).await.expect("ok");
    sessions.prune_before(at).await.expect("ok");
    users.find_by_id(user_id).await.expect("ok");
    users
        .find_by_email(principal.user.email.key())
        .await
        .expect("ok");
    let newcomer = user();
    let session = principal_of(&newcomer).session;
    users
        .create_with_session(&newcomer, &session, &event(newcomer.id))
        .await
        .expect("ok");

    assert!(!reads_storage(&store, &principal).await, "still cached");
}

/// A session repository whose revocations never finish.
struct Stalls;

#[async_trait]
impl SessionRepository for Stalls {
    async fn start(&self, _login: &NewLogin) -> Result<(), StartLoginError> {
        unreachable!("not used")
    }
    async fn find_by_id(&self, _id: SessionId) -> anyhow::Result<Option<Session>> {
        unreachable!("not used")
    }
    async fn revoke(
        &self,
        _id: SessionId,
        _user_id: UserId,
        _at: DateTime<Utc>,
        _event: &AuthEvent,
    ) -> anyhow::Result<bool> {
        std::future::pending().await
    }
    async fn list_live(
        &self,
        _user_id: UserId,
        _now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Session>> {
        unreachable!("not used")
    }
    async fn revoke_all(
        &self,
        _user_id: UserId,
        _at: DateTime<Utc>,
        _event: &AuthEvent,
    ) -> anyhow::Result<u32> {
        unreachable!("not used")
    }
    async fn prune_before(&self, _cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        unreachable!("not used")
    }
}

#[tokio::test]
async fn a_revoking_write_its_caller_stopped_waiting_for_still_forgets() {
    // The client went away mid-request: the write may still commit.
    let cache = cache();
    let principal = principal_of(&user());
    let store = cached(&cache, Some(principal.clone()));
    reads_storage(&store, &principal).await;
    let sessions = ForgetAfterWrite::new(Stalls, Arc::clone(&cache));

    let abandoned = tokio::time::timeout(
        Duration::from_millis(20),
        sessions.revoke(
            principal.session.id,
            principal.user.id,
            Utc::now(),
            &event(principal.user.id),
        ),
    )
    .await;

    assert!(abandoned.is_err(), "the write never finished");
    assert!(reads_storage(&store, &principal).await);
}
