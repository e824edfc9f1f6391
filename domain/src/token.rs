//! Access-token policy and claims: what a token says and when its claims are acceptable.
//!
//! This module owns the claim set, issuing claims for a session, and the time and
//! audience rules (`iss`, `aud`, `nbf`, `exp` with bounded leeway). It must not encode,
//! sign or verify signatures (the JWT adapter does, behind the `TokenCodec` port) and must
//! not read the clock: `now` is always an argument.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{EmailAddress, SessionId, UserId};

/// A bearer access token as a client presented it: not yet verified, wiped from memory
/// when dropped.
///
/// # Security
/// There is no `Display` and `Debug` prints `AccessToken(<redacted>)`: a token is a
/// credential until it expires, so it must not reach a log by accident;
/// [`expose`](Self::expose) is the one deliberate way out.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(zeroize::Zeroizing<String>);

impl AccessToken {
    /// Takes ownership of the token's text (the credential after `Bearer `).
    pub fn new(token: String) -> Self {
        Self(zeroize::Zeroizing::new(token))
    }

    /// The token's text, for verification only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// How tokens are issued and which claims are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Token (and session) lifetime in seconds (`JWT_TTL_SECONDS`).
    pub ttl_seconds: i64,
    /// The `iss` written into tokens and required of them.
    pub issuer: String,
    /// The `aud` written into tokens and required of them.
    pub audience: String,
    /// Clock skew tolerated on `nbf` and `exp`, in seconds, at most
    /// [`TokenPolicy::MAX_LEEWAY_SECONDS`].
    pub leeway_seconds: i64,
}

/// Why a [`TokenPolicy`] cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenPolicyError {
    /// The lifetime is zero or negative.
    #[error("token lifetime must be a positive number of seconds")]
    NonPositiveTtl,
    /// The leeway is negative or above the maximum.
    #[error("token leeway must be between 0 and 30 seconds")]
    LeewayOutOfRange,
    /// The issuer is empty or blank.
    #[error("token issuer must not be empty")]
    EmptyIssuer,
    /// The audience is empty or blank.
    #[error("token audience must not be empty")]
    EmptyAudience,
}

/// Why otherwise well-formed claims are refused, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsRejection {
    /// `iss` is not the configured issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// `nbf` is later than now plus the leeway.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `exp` plus the leeway is not after now.
    #[error("token has expired")]
    Expired,
}

impl TokenPolicy {
    /// The largest clock leeway allowed: the contract caps it at 30 s, so that an expired
    /// or revoked-by-expiry token cannot live on for long on a skewed clock.
    pub const MAX_LEEWAY_SECONDS: i64 = 30;

    /// Validates and builds a policy.
    ///
    /// # Errors
    ///
    /// The first broken rule, checked in this order: `ttl_seconds > 0`
    /// ([`NonPositiveTtl`](TokenPolicyError::NonPositiveTtl)), `0 ≤ leeway_seconds ≤ 30`
    /// ([`LeewayOutOfRange`](TokenPolicyError::LeewayOutOfRange)), a non-blank issuer
    /// ([`EmptyIssuer`](TokenPolicyError::EmptyIssuer)) and audience
    /// ([`EmptyAudience`](TokenPolicyError::EmptyAudience)).
    pub fn new(
        ttl_seconds: i64,
        issuer: String,
        audience: String,
        leeway_seconds: i64,
    ) -> Result<Self, TokenPolicyError> {
        if ttl_seconds <= 0 {
            return Err(TokenPolicyError::NonPositiveTtl);
        }
        if !(0..=Self::MAX_LEEWAY_SECONDS).contains(&leeway_seconds) {
            return Err(TokenPolicyError::LeewayOutOfRange);
        }
        // Blank counts as empty: an all-space `iss` is a configuration mistake, not a name.
        if issuer.trim().is_empty() {
            return Err(TokenPolicyError::EmptyIssuer);
        }
        if audience.trim().is_empty() {
            return Err(TokenPolicyError::EmptyAudience);
        }
        Ok(Self {
            ttl_seconds,
            issuer,
            audience,
            leeway_seconds,
        })
    }

    /// Checks the claims' issuer, audience and validity window at `now`.
    ///
    /// The order is the contract's: `iss`, `aud`, `nbf` (accepted while
    /// `nbf ≤ now + leeway`), then `exp` (accepted while `now < exp + leeway`). Times are
    /// compared in whole seconds, as JWT carries them (`now` is truncated towards the past).
    ///
    /// # Errors
    ///
    /// The first [`ClaimsRejection`] that applies.
    pub fn validate(&self, claims: &Claims, now: DateTime<Utc>) -> Result<(), ClaimsRejection> {
        if claims.iss != self.issuer {
            return Err(ClaimsRejection::WrongIssuer);
        }
        if claims.aud != self.audience {
            return Err(ClaimsRejection::WrongAudience);
        }
        let now = now.timestamp();
        // Saturating: `nbf` and `exp` come from a token, and a verified signature does not
        // make them sane (an `exp` near i64::MAX must not wrap round into the past).
        if claims.nbf > now.saturating_add(self.leeway_seconds) {
            return Err(ClaimsRejection::NotYetValid);
        }
        if now >= claims.exp.saturating_add(self.leeway_seconds) {
            return Err(ClaimsRejection::Expired);
        }
        Ok(())
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user (also sent as `user_id` for existing clients).
    pub sub: UserId,
    /// The user's email at issue time.
    pub email: String,
    /// The session this token belongs to.
    pub sid: SessionId,
    /// The token's own unique id.
    pub jti: Uuid,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Not before, seconds since the Unix epoch.
    pub nbf: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
}

impl Claims {
    /// The claims for a new token of `session_id` issued at `now`.
    ///
    /// `iat` = `nbf` = `now` in whole seconds, `exp` = `iat + ttl`; the session must be
    /// stored with [`Claims::expires_at`] so that both end together. `jti` is an argument
    /// because randomness belongs to the caller.
    pub fn issue(
        policy: &TokenPolicy,
        user_id: UserId,
        email: &EmailAddress,
        session_id: SessionId,
        jti: Uuid,
        now: DateTime<Utc>,
    ) -> Claims {
        let iat = now.timestamp();
        Claims {
            sub: user_id,
            email: email.as_str().to_owned(),
            sid: session_id,
            jti,
            iat,
            nbf: iat,
            exp: iat.saturating_add(policy.ttl_seconds),
            iss: policy.issuer.clone(),
            aud: policy.audience.clone(),
        }
    }

    /// `exp` as a time: the moment the token (and its session) stops being valid.
    ///
    /// An `exp` beyond what `chrono` can represent is clamped to its earliest or latest
    /// time, which keeps the comparison the caller makes meaningful.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or(if self.exp < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    const T0: i64 = 1_700_000_000;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("valid time")
    }

    fn policy(leeway: i64) -> TokenPolicy {
        TokenPolicy::new(3600, "gatehouse".into(), "todo-api".into(), leeway).expect("valid")
    }

    fn claims(policy: &TokenPolicy) -> Claims {
        let email = EmailAddress::parse("a@example.com").expect("valid email");
        Claims::issue(
            policy,
            UserId::from_uuid(Uuid::from_u128(1)),
            &email,
            SessionId::from_uuid(Uuid::from_u128(2)),
            Uuid::from_u128(3),
            at(T0),
        )
    }

    #[test]
    fn table_of_policy_parameters_and_whether_they_are_accepted() {
        use TokenPolicyError::*;
        let cases = [
            (86_400, "iss", "aud", 0, Ok(())),
            (1, "iss", "aud", 30, Ok(())),
            (0, "iss", "aud", 0, Err(NonPositiveTtl)),
            (-1, "iss", "aud", 0, Err(NonPositiveTtl)),
            (i64::MIN, "iss", "aud", 0, Err(NonPositiveTtl)),
            (60, "iss", "aud", -1, Err(LeewayOutOfRange)),
            (60, "iss", "aud", 31, Err(LeewayOutOfRange)),
            (60, "", "aud", 0, Err(EmptyIssuer)),
            (60, "  ", "aud", 0, Err(EmptyIssuer)),
            (60, "iss", "", 0, Err(EmptyAudience)),
            (60, "iss", "\t", 0, Err(EmptyAudience)),
            (0, "", "", 99, Err(NonPositiveTtl)),
        ];
        for (ttl, iss, aud, leeway, expected) in cases {
            let built = TokenPolicy::new(ttl, iss.into(), aud.into(), leeway);
            assert_eq!(
                built.map(|_| ()),
                expected,
                "{ttl} {iss:?} {aud:?} {leeway}"
            );
        }
    }

    #[test]
    fn issued_claims_start_now_and_end_after_the_ttl() {
        let policy = policy(5);
        let claims = claims(&policy);
        assert_eq!(claims.iat, T0);
        assert_eq!(claims.nbf, T0);
        assert_eq!(claims.exp, T0 + 3600);
        assert_eq!(claims.iss, "gatehouse");
        assert_eq!(claims.aud, "todo-api");
        assert_eq!(claims.email, "a@example.com");
        assert_eq!(claims.sub, UserId::from_uuid(Uuid::from_u128(1)));
        assert_eq!(claims.sid, SessionId::from_uuid(Uuid::from_u128(2)));
        assert_eq!(claims.jti, Uuid::from_u128(3));
        assert_eq!(claims.expires_at(), at(T0 + 3600));
    }

    #[test]
    fn issuing_truncates_now_to_whole_seconds() {
        let now = at(T0) + TimeDelta::milliseconds(999);
        let policy = policy(0);
        let email = EmailAddress::parse("a@example.com").expect("valid email");
        let claims = Claims::issue(
            &policy,
            UserId::from_uuid(Uuid::nil()),
            &email,
            SessionId::from_uuid(Uuid::nil()),
            Uuid::nil(),
            now,
        );
        assert_eq!(claims.iat, T0);
    }

    #[test]
    fn expires_at_clamps_an_unrepresentable_exp() {
        let mut claims = claims(&policy(0));
        claims.exp = i64::MAX;
        assert_eq!(claims.expires_at(), DateTime::<Utc>::MAX_UTC);
        claims.exp = i64::MIN;
        assert_eq!(claims.expires_at(), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn table_of_issuer_and_audience_checks() {
        use ClaimsRejection::*;
        let policy = policy(0);
        let good = claims(&policy);
        let cases = [
            (None, None, Ok(())),
            (Some("other"), None, Err(WrongIssuer)),
            (Some("Gatehouse"), None, Err(WrongIssuer)),
            (Some(""), None, Err(WrongIssuer)),
            (None, Some("other"), Err(WrongAudience)),
            (None, Some("todo-api "), Err(WrongAudience)),
            // issuer is checked before audience
            (Some("other"), Some("other"), Err(WrongIssuer)),
        ];
        for (iss, aud, expected) in cases {
            let mut c = good.clone();
            if let Some(iss) = iss {
                c.iss = iss.into();
            }
            if let Some(aud) = aud {
                c.aud = aud.into();
            }
            assert_eq!(policy.validate(&c, at(T0)), expected, "{iss:?} {aud:?}");
        }
    }

    #[test]
    fn table_of_nbf_boundaries() {
        use ClaimsRejection::*;
        // (leeway, nbf relative to now, result)
        let cases = [
            (0, -1, Ok(())),
            (0, 0, Ok(())),
            (0, 1, Err(NotYetValid)),
            (5, 5, Ok(())),
            (5, 6, Err(NotYetValid)),
            (30, 30, Ok(())),
            (30, 31, Err(NotYetValid)),
        ];
        for (leeway, offset, expected) in cases {
            let policy = policy(leeway);
            let mut c = claims(&policy);
            c.nbf = T0 + offset;
            assert_eq!(
                policy.validate(&c, at(T0)),
                expected,
                "leeway {leeway}, nbf now{offset:+}"
            );
        }
    }

    #[test]
    fn table_of_exp_boundaries() {
        use ClaimsRejection::*;
        // (leeway, now relative to exp, result)
        let cases = [
            (0, -1, Ok(())),
            (0, 0, Err(Expired)),
            (0, 1, Err(Expired)),
            (5, 4, Ok(())),
            (5, 5, Err(Expired)),
            (30, 29, Ok(())),
            (30, 30, Err(Expired)),
        ];
        for (leeway, offset, expected) in cases {
            let policy = policy(leeway);
            let c = claims(&policy);
            assert_eq!(
                policy.validate(&c, at(c.exp + offset)),
                expected,
                "leeway {leeway}, now exp{offset:+}"
            );
        }
    }

    #[test]
    fn a_fraction_of_a_second_before_exp_is_still_valid() {
        let policy = policy(0);
        let c = claims(&policy);
        let just_before = at(c.exp) - TimeDelta::milliseconds(1);
        assert_eq!(policy.validate(&c, just_before), Ok(()));
        assert_eq!(
            policy.validate(&c, at(c.exp)),
            Err(ClaimsRejection::Expired)
        );
    }

    #[test]
    fn checks_run_in_the_contracts_order() {
        use ClaimsRejection::*;
        let policy = policy(0);
        let mut c = claims(&policy);
        c.nbf = T0 + 100;
        c.exp = T0 - 100;
        assert_eq!(policy.validate(&c, at(T0)), Err(NotYetValid));
        c.aud = "other".into();
        assert_eq!(policy.validate(&c, at(T0)), Err(WrongAudience));
        c.iss = "other".into();
        assert_eq!(policy.validate(&c, at(T0)), Err(WrongIssuer));
    }

    #[test]
    fn extreme_nbf_and_exp_do_not_overflow() {
        use ClaimsRejection::*;
        let policy = policy(30);
        let mut c = claims(&policy);
        c.exp = i64::MAX;
        assert_eq!(policy.validate(&c, at(T0)), Ok(()));
        c.nbf = i64::MAX;
        assert_eq!(policy.validate(&c, at(T0)), Err(NotYetValid));
        c.nbf = i64::MIN;
        c.exp = i64::MIN;
        assert_eq!(policy.validate(&c, at(T0)), Err(Expired));
    }

    #[test]
    fn a_huge_ttl_saturates_instead_of_wrapping() {
        let policy = TokenPolicy::new(i64::MAX, "i".into(), "a".into(), 0).expect("valid");
        let c = claims(&policy);
        assert_eq!(c.exp, i64::MAX);
        assert_eq!(policy.validate(&c, at(T0)), Ok(()));
    }
}
