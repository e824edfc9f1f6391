//! Use case: authenticate — turn a bearer token into the principal behind it.

use domain::{
    AccessToken, AuthEvent, AuthEventType, Claims, ClaimsRejection, EventId, FailureReason, UserId,
};

use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::ports::{
    AuthEventLog, Clock, IdGenerator, PrincipalStore, TokenCodec, TokenDecodeError, UserRepository,
};
use crate::principal::Principal;

/// The ports [`authenticate`] uses.
#[derive(Clone, Copy)]
pub struct AuthenticatePorts<'a> {
    /// The owner of a refused token.
    pub users: &'a dyn UserRepository,
    /// The token's session with its user.
    pub principals: &'a dyn PrincipalStore,
    /// Where refused tokens are recorded.
    pub events: &'a dyn AuthEventLog,
    /// Verifies the token.
    pub tokens: &'a dyn TokenCodec,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The refusal event's id.
    pub ids: &'a dyn IdGenerator,
}

/// Input of [`authenticate`].
#[derive(Debug, Clone)]
pub struct AuthenticateRequest {
    /// The bearer token the request presents, as the transport read it.
    pub token: PresentedToken,
    /// Who is asking.
    pub caller: Caller,
}

/// What a request presents as its bearer token: `Ok(Some(token))`; `Ok(None)` when it
/// presents none (another scheme, or `Bearer` with nothing after it: `Missing`); `Err`
/// when its credentials cannot be read as one (`Invalid`, see [`UnreadableCredentials`]).
pub type PresentedToken = Result<Option<AccessToken>, UnreadableCredentials>;

/// The request's credentials cannot be read as one bearer token: more than one
/// `Authorization` header, a header over the transport's size cap, or one that is not
/// visible ASCII.
///
/// # Security
/// With repeated headers, which of them a proxy in front of us checked, logged or
/// stripped cannot be known (taking "the first" is how `Bearer A` + `Bearer junk` used to
/// pass), so none of them is believed: the request is refused as `Invalid` without any
/// being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadableCredentials;

/// Why a token was refused; each maps to one contract code.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// No bearer token: no header, another scheme, or `Bearer` with nothing after it.
    #[error("authentication required")]
    Missing,
    /// Unreadable credentials ([`UnreadableCredentials`]); or malformed, bad signature,
    /// wrong `alg`/`typ`/`kid`, a `crit` header, wrong `iss`/`aud`, `nbf` in the future.
    #[error("invalid token")]
    Invalid,
    /// `exp` has passed.
    #[error("expired token")]
    Expired,
    /// A required claim is missing or ill-typed.
    #[error("invalid token claims")]
    InvalidClaims,
    /// The session is unknown, revoked or expired, or the user is inactive.
    #[error("revoked token")]
    Revoked,
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AuthenticateError {
    fn reason(&self) -> Option<FailureReason> {
        match self {
            Self::Missing => Some(FailureReason::AuthMissing),
            Self::Invalid => Some(FailureReason::AuthInvalid),
            Self::Expired => Some(FailureReason::AuthExpired),
            Self::InvalidClaims => Some(FailureReason::AuthInvalidClaims),
            Self::Revoked => Some(FailureReason::AuthRevoked),
            Self::Unexpected(_) => None,
        }
    }
}

/// Checks a bearer token, in the contract's order (the transport has read the header:
/// a single one → size cap → scheme, see [`PresentedToken`]) → header and signature → required claims → `iss`, `aud`, `nbf` → `exp` → session and
/// user. The first failure decides the answer.
///
/// # Security
/// Every refused token is recorded as `token_rejected` with its reason. The event is
/// written into a user's log only when the token's signature verified and its subject is
/// a stored user, so a forged token cannot write into anyone's log. A request with no
/// token at all is not an event.
///
/// # Errors
/// See [`AuthenticateError`].
pub async fn authenticate(
    ports: &AuthenticatePorts<'_>,
    config: &AuthConfig,
    request: AuthenticateRequest,
) -> Result<Principal, AuthenticateError> {
    let (outcome, subject) = match &request.token {
        Ok(Some(token)) => check(ports, config, token).await,
        Ok(None) => (Err(AuthenticateError::Missing), None),
        Err(UnreadableCredentials) => (Err(AuthenticateError::Invalid), None),
    };
    match outcome {
        Ok(principal) => Ok(principal),
        Err(err) => {
            if let Some(reason) = err.reason().filter(|r| *r != FailureReason::AuthMissing) {
                let owner = match subject {
                    Some(id) => ports.users.find_by_id(id).await?.map(|u| u.id),
                    None => None,
                };
                let event = AuthEvent::failure(
                    EventId::from_uuid(ports.ids.new_id()),
                    AuthEventType::TokenRejected,
                    owner,
                    reason,
                    &request.caller.client_info(),
                    ports.clock.now(),
                );
                ports.events.record(&event).await?;
            }
            Err(err)
        }
    }
}

/// The checks proper; also returns the token's subject once its signature verified.
async fn check(
    ports: &AuthenticatePorts<'_>,
    config: &AuthConfig,
    token: &AccessToken,
) -> (Result<Principal, AuthenticateError>, Option<UserId>) {
    let claims: Claims = match ports.tokens.decode(token.expose()) {
        Ok(claims) => claims,
        Err(TokenDecodeError::Invalid) => return (Err(AuthenticateError::Invalid), None),
        Err(TokenDecodeError::InvalidClaims { user_id }) => {
            return (Err(AuthenticateError::InvalidClaims), user_id);
        }
    };
    let subject = Some(claims.sub);
    let now = ports.clock.now();
    match config.token_policy.validate(&claims, now) {
        Ok(()) => {}
        Err(ClaimsRejection::Expired) => return (Err(AuthenticateError::Expired), subject),
        Err(
            ClaimsRejection::WrongIssuer
            | ClaimsRejection::WrongAudience
            | ClaimsRejection::NotYetValid,
        ) => return (Err(AuthenticateError::Invalid), subject),
    }
    // The store answers a session of this user that is not revoked, of an active user
    // (maybe read a moment ago: expiry is checked here, against the clock). The other
    // conditions are checked again, so that a store answering more than it should
    // cannot let a token through.
    match ports.principals.load_live(claims.sub, claims.sid).await {
        Ok(Some(principal))
            if principal.session.id == claims.sid
                && principal.session.user_id == claims.sub
                && principal.user.id == claims.sub
                && principal.session.is_live(now)
                && principal.user.is_active =>
        {
            (Ok(principal), subject)
        }
        Ok(_) => (Err(AuthenticateError::Revoked), subject),
        Err(err) => (Err(err.into()), subject),
    }
}

#[cfg(test)]
mod tests {
    use domain::{Session, User};
    use uuid::Uuid;

    use chrono::{DateTime, TimeDelta, Utc};
    use domain::SessionId;

    use super::*;
    use crate::use_cases::test_support::{
        Mocks, assert_carries_unavailable, assert_event, caller, capture_events, config, now, only,
        taken, unavailable, user,
    };

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJl";

    /// A stored user, a live session of theirs, and the claims of its token.
    struct Fixture {
        user: User,
        session: Session,
        claims: Claims,
    }

    /// Claims issued at `issued_at` (so `exp` = `issued_at` + 1 h) and their session,
    /// which ends with the token.
    fn issued_at(issued_at: DateTime<Utc>) -> Fixture {
        let user = user("jane.doe@example.com");
        let session_id = SessionId::from_uuid(Uuid::now_v7());
        let claims = Claims::issue(
            &config().token_policy,
            user.id,
            &user.email,
            session_id,
            Uuid::now_v7(),
            issued_at,
        );
        let session = Session {
            id: session_id,
            user_id: user.id,
            created_at: issued_at,
            expires_at: claims.expires_at(),
            revoked_at: None,
            ip_address: Some("198.51.100.1".into()),
            user_agent: None,
        };
        Fixture {
            user,
            session,
            claims,
        }
    }

    /// A token issued ten minutes ago: 50 minutes left.
    fn fixture() -> Fixture {
        issued_at(now() - TimeDelta::minutes(10))
    }

    fn presenting(token: PresentedToken) -> AuthenticateRequest {
        AuthenticateRequest {
            token,
            caller: caller(),
        }
    }

    fn bearer() -> AuthenticateRequest {
        presenting(Ok(Some(AccessToken::new(TOKEN.into()))))
    }

    fn decodes(mocks: &mut Mocks, outcome: Result<Claims, TokenDecodeError>) {
        mocks
            .tokens
            .expect_decode()
            .withf(|token| token == TOKEN)
            .times(1)
            .returning(move |_| outcome.clone());
    }

    /// The principal store answers `session` with `user` for the fixture's claims (both
    /// found, else nothing), once.
    fn loads(mocks: &mut Mocks, fixture: &Fixture, session: Option<Session>, user: Option<User>) {
        let (user_id, session_id) = (fixture.claims.sub, fixture.claims.sid);
        let found = session
            .zip(user)
            .map(|(session, user)| Principal { user, session });
        mocks
            .principals
            .expect_load_live()
            .withf(move |user, session| *user == user_id && *session == session_id)
            .times(1)
            .returning(move |_, _| Ok(found.clone()));
    }

    /// The user lookup for the owner of a refused token's event.
    fn finds_user(mocks: &mut Mocks, id: UserId, found: Option<User>) {
        mocks
            .users
            .expect_find_by_id()
            .withf(move |wanted| *wanted == id)
            .returning(move |_| Ok(found.clone()));
    }

    fn nothing_is_decoded_or_looked_up(mocks: &mut Mocks) {
        mocks.tokens.expect_decode().never();
        mocks.principals.expect_load_live().never();
        mocks.users.expect_find_by_id().never();
    }

    /// Authenticates `claims` as a verified token whose subject is `user`, expecting a
    /// refusal before the session is looked at; answers the result and the events.
    async fn refuse_before_the_session_check(
        claims: Claims,
        user: &User,
    ) -> (Result<Principal, AuthenticateError>, Vec<AuthEvent>) {
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Ok(claims));
        mocks.principals.expect_load_live().never();
        finds_user(&mut mocks, user.id, Some(user.clone()));
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;
        (result, taken(&events))
    }

    /// Authenticates the fixture's valid claims with the principal store answering
    /// `session` and `user` (nothing unless both are given), `user` being the stored one.
    async fn authenticate_against(
        fixture: &Fixture,
        session: Option<Session>,
        user: Option<User>,
    ) -> (Result<Principal, AuthenticateError>, Vec<AuthEvent>) {
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Ok(fixture.claims.clone()));
        loads(&mut mocks, fixture, session, user.clone());
        finds_user(&mut mocks, fixture.claims.sub, user);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;
        (result, taken(&events))
    }

    #[tokio::test]
    async fn a_valid_token_of_a_live_session_and_an_active_user_authenticates_as_them_and_records_nothing()
     {
        let fixture = fixture();

        let (result, events) = authenticate_against(
            &fixture,
            Some(fixture.session.clone()),
            Some(fixture.user.clone()),
        )
        .await;

        let principal = result.expect("token accepted");
        assert_eq!(principal.user, fixture.user);
        assert_eq!(principal.session, fixture.session);
        assert_eq!(events, []);
    }

    #[tokio::test]
    async fn a_token_whose_nbf_is_in_the_future_by_no_more_than_the_leeway_is_accepted() {
        let mut fixture = fixture();
        fixture.claims.nbf = now().timestamp() + 30;

        let (result, events) = authenticate_against(
            &fixture,
            Some(fixture.session.clone()),
            Some(fixture.user.clone()),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
        assert_eq!(events, []);
    }

    #[tokio::test]
    async fn a_request_without_a_bearer_token_is_missing_and_decodes_and_records_nothing() {
        let mut mocks = Mocks::default();
        nothing_is_decoded_or_looked_up(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), presenting(Ok(None))).await;

        assert!(
            matches!(result, Err(AuthenticateError::Missing)),
            "{result:?}"
        );
    }

    /// Repeated `Authorization` headers, one over 8 KiB, one that is not visible ASCII
    /// (see the HTTP adapter's `security` module).
    #[tokio::test]
    async fn unreadable_credentials_are_invalid_without_being_decoded_and_are_recorded_without_a_user()
     {
        let mut mocks = Mocks::default();
        nothing_is_decoded_or_looked_up(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(
            &ports.for_authenticate(),
            &config(),
            presenting(Err(UnreadableCredentials)),
        )
        .await;

        assert!(
            matches!(result, Err(AuthenticateError::Invalid)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::TokenRejected,
            None,
            Some(FailureReason::AuthInvalid),
        );
    }

    #[tokio::test]
    async fn a_token_the_codec_refuses_is_invalid_and_recorded_without_a_user() {
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Err(TokenDecodeError::Invalid));
        mocks.principals.expect_load_live().never();
        // A forged token names whoever it likes: it must not reach anyone's log.
        mocks.users.expect_find_by_id().never();
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        assert!(
            matches!(result, Err(AuthenticateError::Invalid)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::TokenRejected,
            None,
            Some(FailureReason::AuthInvalid),
        );
    }

    #[tokio::test]
    async fn a_verified_token_from_another_issuer_is_invalid_and_recorded_for_its_subject() {
        let Fixture {
            user, mut claims, ..
        } = fixture();
        claims.iss = "someone-else".into();

        let (result, events) = refuse_before_the_session_check(claims, &user).await;

        assert!(
            matches!(result, Err(AuthenticateError::Invalid)),
            "{result:?}"
        );
        assert_event(
            &only(events),
            AuthEventType::TokenRejected,
            Some(user.id),
            Some(FailureReason::AuthInvalid),
        );
    }

    #[tokio::test]
    async fn a_verified_token_for_another_audience_is_invalid_and_recorded_for_its_subject() {
        let Fixture {
            user, mut claims, ..
        } = fixture();
        claims.aud = "todo-api".into();

        let (result, events) = refuse_before_the_session_check(claims, &user).await;

        assert!(
            matches!(result, Err(AuthenticateError::Invalid)),
            "{result:?}"
        );
        assert_event(
            &only(events),
            AuthEventType::TokenRejected,
            Some(user.id),
            Some(FailureReason::AuthInvalid),
        );
    }

    #[tokio::test]
    async fn a_token_whose_nbf_is_further_in_the_future_than_the_leeway_is_invalid() {
        let Fixture {
            user, mut claims, ..
        } = fixture();
        claims.nbf = now().timestamp() + 31;

        let (result, events) = refuse_before_the_session_check(claims, &user).await;

        assert!(
            matches!(result, Err(AuthenticateError::Invalid)),
            "{result:?}"
        );
        assert_event(
            &only(events),
            AuthEventType::TokenRejected,
            Some(user.id),
            Some(FailureReason::AuthInvalid),
        );
    }

    #[tokio::test]
    async fn a_token_from_another_issuer_is_invalid_even_when_it_has_expired_too() {
        let Fixture {
            user, mut claims, ..
        } = issued_at(now() - TimeDelta::days(2));
        claims.iss = "someone-else".into();

        let (result, _) = refuse_before_the_session_check(claims, &user).await;

        assert!(
            matches!(result, Err(AuthenticateError::Invalid)),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_expired_token_is_expired_and_recorded_for_its_subject_without_looking_at_the_session()
     {
        // exp was 31 s ago: past the 30 s leeway.
        let Fixture { user, claims, .. } = issued_at(now() - TimeDelta::seconds(3600 + 31));

        let (result, events) = refuse_before_the_session_check(claims, &user).await;

        assert!(
            matches!(result, Err(AuthenticateError::Expired)),
            "{result:?}"
        );
        assert_event(
            &only(events),
            AuthEventType::TokenRejected,
            Some(user.id),
            Some(FailureReason::AuthExpired),
        );
    }

    #[tokio::test]
    async fn a_token_whose_exp_passed_exactly_the_leeway_ago_is_expired() {
        let Fixture { user, claims, .. } = issued_at(now() - TimeDelta::seconds(3600 + 30));

        let (result, _) = refuse_before_the_session_check(claims, &user).await;

        assert!(
            matches!(result, Err(AuthenticateError::Expired)),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn an_expired_token_of_a_user_who_no_longer_exists_is_recorded_without_a_user() {
        let Fixture { user, claims, .. } = issued_at(now() - TimeDelta::days(2));
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Ok(claims));
        mocks.principals.expect_load_live().never();
        finds_user(&mut mocks, user.id, None);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        assert!(
            matches!(result, Err(AuthenticateError::Expired)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::TokenRejected,
            None,
            Some(FailureReason::AuthExpired),
        );
    }

    #[tokio::test]
    async fn a_verified_token_missing_a_claim_is_invalid_claims_and_recorded_for_its_readable_subject()
     {
        let user = user("jane.doe@example.com");
        let mut mocks = Mocks::default();
        decodes(
            &mut mocks,
            Err(TokenDecodeError::InvalidClaims {
                user_id: Some(user.id),
            }),
        );
        mocks.principals.expect_load_live().never();
        finds_user(&mut mocks, user.id, Some(user.clone()));
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        assert!(
            matches!(result, Err(AuthenticateError::InvalidClaims)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::TokenRejected,
            Some(user.id),
            Some(FailureReason::AuthInvalidClaims),
        );
    }

    #[tokio::test]
    async fn invalid_claims_without_a_readable_subject_are_recorded_without_a_user() {
        let mut mocks = Mocks::default();
        decodes(
            &mut mocks,
            Err(TokenDecodeError::InvalidClaims { user_id: None }),
        );
        mocks.principals.expect_load_live().never();
        mocks.users.expect_find_by_id().never();
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        assert!(
            matches!(result, Err(AuthenticateError::InvalidClaims)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::TokenRejected,
            None,
            Some(FailureReason::AuthInvalidClaims),
        );
    }

    /// Asserts a refusal as revoked, recorded once with `owner`.
    fn assert_revoked(
        result: &Result<Principal, AuthenticateError>,
        events: Vec<AuthEvent>,
        owner: Option<UserId>,
    ) {
        assert!(
            matches!(result, Err(AuthenticateError::Revoked)),
            "{result:?}"
        );
        assert_event(
            &only(events),
            AuthEventType::TokenRejected,
            owner,
            Some(FailureReason::AuthRevoked),
        );
    }

    #[tokio::test]
    async fn a_token_of_an_unknown_session_is_revoked_and_recorded_for_its_subject() {
        let fixture = fixture();

        let (result, events) =
            authenticate_against(&fixture, None, Some(fixture.user.clone())).await;

        assert_revoked(&result, events, Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_token_of_a_revoked_session_is_revoked_and_recorded_for_its_subject() {
        let fixture = fixture();
        let session = Session {
            revoked_at: Some(now() - TimeDelta::minutes(1)),
            ..fixture.session.clone()
        };

        let (result, events) =
            authenticate_against(&fixture, Some(session), Some(fixture.user.clone())).await;

        assert_revoked(&result, events, Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_token_of_a_session_that_has_expired_is_revoked_and_recorded_for_its_subject() {
        let fixture = fixture();
        let session = Session {
            expires_at: now() - TimeDelta::seconds(1),
            ..fixture.session.clone()
        };

        let (result, events) =
            authenticate_against(&fixture, Some(session), Some(fixture.user.clone())).await;

        assert_revoked(&result, events, Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_token_within_its_exp_leeway_is_revoked_because_its_session_has_ended() {
        // exp is now: the claims pass (30 s leeway) but the session, which ends with the
        // token and has no leeway, is over.
        let fixture = issued_at(now() - TimeDelta::seconds(3600));
        assert_eq!(fixture.session.expires_at, now());

        let (result, events) = authenticate_against(
            &fixture,
            Some(fixture.session.clone()),
            Some(fixture.user.clone()),
        )
        .await;

        assert_revoked(&result, events, Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_token_naming_another_users_session_is_revoked_and_recorded_for_the_tokens_subject() {
        let fixture = fixture();
        let someone_else = user("someone.else@example.com");
        let session = Session {
            user_id: someone_else.id,
            ..fixture.session.clone()
        };

        let (result, events) =
            authenticate_against(&fixture, Some(session), Some(fixture.user.clone())).await;

        assert_revoked(&result, events, Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_principal_answered_with_another_user_is_not_trusted_but_revoked() {
        // The store (or a cache in it) answering for the wrong user must not let the
        // token through as someone else.
        let fixture = fixture();
        let stranger = user("someone.else@example.com");
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Ok(fixture.claims.clone()));
        loads(
            &mut mocks,
            &fixture,
            Some(fixture.session.clone()),
            Some(stranger),
        );
        finds_user(&mut mocks, fixture.user.id, Some(fixture.user.clone()));
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        assert_revoked(&result, taken(&events), Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_token_of_an_inactive_user_is_revoked_and_recorded_for_that_user() {
        let fixture = fixture();
        let inactive = User {
            is_active: false,
            ..fixture.user.clone()
        };

        let (result, events) =
            authenticate_against(&fixture, Some(fixture.session.clone()), Some(inactive)).await;

        assert_revoked(&result, events, Some(fixture.user.id));
    }

    #[tokio::test]
    async fn a_token_of_a_user_who_no_longer_exists_is_revoked_and_recorded_without_a_user() {
        let fixture = fixture();

        let (result, events) =
            authenticate_against(&fixture, Some(fixture.session.clone()), None).await;

        assert_revoked(&result, events, None);
    }

    #[tokio::test]
    async fn when_the_principal_store_is_unavailable_authentication_is_unexpected_and_records_nothing()
     {
        let fixture = fixture();
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Ok(fixture.claims.clone()));
        mocks
            .principals
            .expect_load_live()
            .times(1)
            .returning(|_, _| Err(unavailable()));
        mocks.users.expect_find_by_id().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        let Err(AuthenticateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn when_a_refused_tokens_owner_cannot_be_looked_up_the_refusal_is_unexpected() {
        let Fixture { claims, .. } = issued_at(now() - TimeDelta::days(2));
        let mut mocks = Mocks::default();
        decodes(&mut mocks, Ok(claims));
        mocks
            .users
            .expect_find_by_id()
            .times(1)
            .returning(|_| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = authenticate(&ports.for_authenticate(), &config(), bearer()).await;

        let Err(AuthenticateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
