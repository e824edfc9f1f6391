use chrono::{TimeDelta, Utc};
use domain::{EmailAddress, PasswordHash};
use uuid::Uuid;

use super::*;

pub(super) fn principal_of(user: &User) -> Principal {
    let now = Utc::now();
    Principal {
        user: user.clone(),
        session: Session {
            id: SessionId::from_uuid(Uuid::now_v7()),
            user_id: user.id,
            created_at: now,
            expires_at: now + TimeDelta::hours(1),
            revoked_at: None,
            ip_address: None,
            user_agent: None,
        },
    }
}

pub(super) fn user() -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: EmailAddress::parse("jane.doe@example.com").expect("valid email"),
        password_hash: PasswordHash::from_phc("$argon2id$stored".into()),
        created_at: Utc::now(),
        last_login: None,
        is_active: true,
    }
}

fn cache() -> InProcessLivenessCache {
    InProcessLivenessCache::new(100, Duration::from_secs(60), true)
}

fn stamp_of(lookup: CacheLookup) -> CacheStamp {
    match lookup {
        CacheLookup::Miss(stamp) => stamp,
        CacheLookup::Hit(principal) => panic!("expected a miss, got {principal:?}"),
    }
}

/// Caches `principal` the way the use case does: a miss, then a put with its stamp.
fn warm(cache: &InProcessLivenessCache, principal: &Principal) {
    let stamp = stamp_of(cache.lookup(principal.user.id, principal.session.id));
    cache.put(stamp, principal);
}

fn hits(cache: &InProcessLivenessCache, principal: &Principal) -> bool {
    match cache.lookup(principal.user.id, principal.session.id) {
        CacheLookup::Hit(found) => {
            assert_eq!(&found, principal);
            true
        }
        CacheLookup::Miss(_) => false,
    }
}

#[test]
fn a_put_principal_is_answered_for_its_user_and_session_only() {
    let cache = cache();
    let jane = user();
    let principal = principal_of(&jane);
    warm(&cache, &principal);

    assert!(hits(&cache, &principal));
    let other_session = principal_of(&jane);
    assert!(!hits(&cache, &other_session));
    let other_user = principal_of(&user());
    assert!(matches!(
        cache.lookup(other_user.user.id, principal.session.id),
        CacheLookup::Miss(_)
    ));
}

#[test]
fn forgetting_a_user_drops_every_one_of_their_sessions_and_no_one_elses() {
    let cache = cache();
    let jane = user();
    let (first, second) = (principal_of(&jane), principal_of(&jane));
    let john = principal_of(&user());
    for principal in [&first, &second, &john] {
        warm(&cache, principal);
    }
    assert!(hits(&cache, &first) && hits(&cache, &second));

    cache.forget_user(jane.id);

    assert!(!hits(&cache, &first));
    assert!(!hits(&cache, &second));
    assert!(hits(&cache, &john));
}

#[test]
fn a_put_stamped_before_an_invalidation_is_dropped() {
    // A request read the session from storage; meanwhile a revocation committed and
    // forgot the user. The stale read must not come back.
    let cache = cache();
    let principal = principal_of(&user());
    let stamp = stamp_of(cache.lookup(principal.user.id, principal.session.id));

    cache.forget_user(UserId::from_uuid(Uuid::now_v7()));
    cache.put(stamp, &principal);

    assert!(!hits(&cache, &principal));
}

#[test]
fn an_entry_older_than_the_time_to_live_is_not_answered() {
    let cache = InProcessLivenessCache::new(100, Duration::ZERO, true);
    let principal = principal_of(&user());
    warm(&cache, &principal);

    assert!(!hits(&cache, &principal));
}

#[test]
fn a_cache_that_is_not_answering_misses_and_stores_nothing_until_switched_on_empty() {
    let cache = InProcessLivenessCache::new(100, Duration::from_secs(60), false);
    let principal = principal_of(&user());
    warm(&cache, &principal);
    assert!(!hits(&cache, &principal), "not answering");

    cache.set_answering(true);
    warm(&cache, &principal);
    assert!(hits(&cache, &principal));

    cache.set_answering(false);
    assert!(!hits(&cache, &principal), "off again");
    cache.set_answering(true);
    assert!(!hits(&cache, &principal), "switched on empty");
}

#[test]
fn a_cache_awaiting_proof_answers_only_while_the_last_proof_is_current() {
    let cache = cache();
    let principal = principal_of(&user());
    cache.await_proof();
    warm(&cache, &principal);
    assert!(
        !hits(&cache, &principal),
        "unproven: nothing stored or answered"
    );

    cache.prove_until(Instant::now() + Duration::from_secs(60));
    warm(&cache, &principal);
    assert!(hits(&cache, &principal), "proven");

    // The proof lapses (the listener's connection went silent): the entry is still
    // there, but not answered — requests read the database.
    cache.prove_until(Instant::now());
    assert!(!hits(&cache, &principal), "proof lapsed");
    assert!(!cache.is_answering());

    cache.prove_until(Instant::now() + Duration::from_secs(60));
    assert!(hits(&cache, &principal), "proven again");
}

#[test]
fn a_cache_that_never_awaited_proof_needs_none() {
    let cache = cache();
    let principal = principal_of(&user());
    warm(&cache, &principal);
    assert!(hits(&cache, &principal));
}

#[test]
fn a_user_keeps_at_most_a_bounded_number_of_sessions_newest_kept() {
    let cache = cache();
    let jane = user();
    let principals: Vec<Principal> = (0..MAX_SESSIONS_PER_USER + 2)
        .map(|_| principal_of(&jane))
        .collect();
    for principal in &principals {
        warm(&cache, principal);
    }

    assert!(!hits(&cache, &principals[0]));
    assert!(!hits(&cache, &principals[1]));
    assert!(principals[2..].iter().all(|p| hits(&cache, p)));
}
