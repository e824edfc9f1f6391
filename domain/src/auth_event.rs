//! The audit log's vocabulary: event types, failure reasons, client details, events.
//!
//! This module owns the exact strings stored in `auth_events` (lowercase snake_case event
//! types, upper-case reason codes) and the 500-character cut of user agents. It must not
//! decide when to record an event or how to merge repeats into a `count`: that is the
//! application's job, and storage is an adapter's.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::{EventId, UserId};

/// What happened, as stored in `auth_events.event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthEventType {
    /// An account was created, or creation was refused.
    Signup,
    /// A successful login.
    Login,
    /// A login with wrong credentials, an unknown email or an inactive account.
    LoginFailed,
    /// A login refused by the per-account throttle.
    LoginThrottled,
    /// A request refused by the per-IP rate limit.
    RateLimited,
    /// The current session was ended by its user.
    Logout,
    /// Sessions were revoked ("log out everywhere" or another session by id).
    SessionRevoked,
    /// A password change, or a refused attempt.
    PasswordChanged,
    /// An account deactivation, or a refused attempt.
    AccountDeactivated,
    /// A token was refused (only recorded once its signature verified).
    TokenRejected,
}

impl AuthEventType {
    /// Every event type, in declaration order.
    pub const ALL: [AuthEventType; 10] = [
        Self::Signup,
        Self::Login,
        Self::LoginFailed,
        Self::LoginThrottled,
        Self::RateLimited,
        Self::Logout,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::AccountDeactivated,
        Self::TokenRejected,
    ];

    /// The stored form: lowercase snake_case (`login_failed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
            Self::RateLimited => "rate_limited",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::AccountDeactivated => "account_deactivated",
            Self::TokenRejected => "token_rejected",
        }
    }

    /// The event type whose stored form is exactly `s`.
    ///
    /// Case-sensitive on purpose: the original service may have stored upper-case enum
    /// names, and such a row must surface as unreadable rather than be silently accepted.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for AuthEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event failed, as stored in `auth_events.failure_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// Sign-up with an email that already has an account (active or not).
    EmailExists,
    /// Wrong password for an existing account.
    InvalidCredentials,
    /// Login with an email that has no account.
    UnknownEmail,
    /// Login to a deactivated account.
    AccountInactive,
    /// Refused by a rate limit or the per-account throttle.
    RateLimitExceeded,
    /// A new password broke the password policy.
    ValidationPassword,
    /// No usable `Authorization` header.
    AuthMissing,
    /// A token that is malformed, badly signed, or for another issuer or audience.
    AuthInvalid,
    /// A token past its `exp`.
    AuthExpired,
    /// A token missing a required claim, or with one of the wrong type.
    AuthInvalidClaims,
    /// A valid token whose session or user is no longer live.
    AuthRevoked,
}

impl FailureReason {
    /// Every reason, in declaration order.
    pub const ALL: [FailureReason; 11] = [
        Self::EmailExists,
        Self::InvalidCredentials,
        Self::UnknownEmail,
        Self::AccountInactive,
        Self::RateLimitExceeded,
        Self::ValidationPassword,
        Self::AuthMissing,
        Self::AuthInvalid,
        Self::AuthExpired,
        Self::AuthInvalidClaims,
        Self::AuthRevoked,
    ];

    /// The stored form: upper-case snake_case (`INVALID_CREDENTIALS`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::EmailExists => "EMAIL_EXISTS",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::UnknownEmail => "UNKNOWN_EMAIL",
            Self::AccountInactive => "ACCOUNT_INACTIVE",
            Self::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            Self::ValidationPassword => "VALIDATION_PASSWORD",
            Self::AuthMissing => "AUTH_MISSING",
            Self::AuthInvalid => "AUTH_INVALID",
            Self::AuthExpired => "AUTH_EXPIRED",
            Self::AuthInvalidClaims => "AUTH_INVALID_CLAIMS",
            Self::AuthRevoked => "AUTH_REVOKED",
        }
    }

    /// The reason whose stored form is exactly `s` (case-sensitive, like the column).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a request, as far as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientInfo {
    /// The client's IP address as text, if known.
    pub ip_address: Option<String>,
    /// The `User-Agent` header, cut to [`ClientInfo::USER_AGENT_MAX_CHARS`]; `None` when
    /// absent or empty.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The most user-agent characters kept: the header is attacker-controlled, and the
    /// log must stay bounded.
    pub const USER_AGENT_MAX_CHARS: usize = 500;

    /// Records `ip` as text and `user_agent` cut to 500 characters.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is recorded as the IPv4 address
    /// it is, as the rate limits count it, so that one client has one form in the log.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.filter(|ua| !ua.is_empty()).map(|ua| {
            match ua.char_indices().nth(Self::USER_AGENT_MAX_CHARS) {
                Some((cut, _)) => ua[..cut].to_owned(),
                None => ua.to_owned(),
            }
        });
        Self {
            ip_address: ip.map(|ip| ip.to_canonical().to_string()),
            user_agent,
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthEvent {
    /// The row's id.
    pub id: EventId,
    /// The user concerned; `None` when unknown (unknown email, forged token, per-IP limit).
    pub user_id: Option<UserId>,
    /// What happened.
    pub event_type: AuthEventType,
    /// Whether it succeeded.
    pub success: bool,
    /// Why it failed; `None` exactly when `success` is true.
    pub failure_reason: Option<FailureReason>,
    /// The client's IP address, if known.
    pub ip_address: Option<String>,
    /// The client's user agent (at most 500 characters), if sent.
    pub user_agent: Option<String>,
    /// When it happened (the first occurrence, for a merged row).
    pub created_at: DateTime<Utc>,
    /// How many occurrences this row stands for (≥ 1); repeated throttled attempts and
    /// rejected tokens are merged into one row, and "log out everywhere" counts the
    /// sessions it revoked.
    pub count: u32,
}

impl AuthEvent {
    /// A successful event, counted once.
    pub fn success(
        id: EventId,
        event_type: AuthEventType,
        user_id: Option<UserId>,
        client: &ClientInfo,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            user_id,
            event_type,
            success: true,
            failure_reason: None,
            ip_address: client.ip_address.clone(),
            user_agent: client.user_agent.clone(),
            created_at: at,
            count: 1,
        }
    }

    /// A failed event with its reason, counted once.
    pub fn failure(
        id: EventId,
        event_type: AuthEventType,
        user_id: Option<UserId>,
        reason: FailureReason,
        client: &ClientInfo,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            success: false,
            failure_reason: Some(reason),
            ..Self::success(id, event_type, user_id, client, at)
        }
    }

    /// The same event standing for `count` occurrences.
    ///
    /// A `count` of 0 is stored as 1: a row exists only because something happened, and
    /// the contract promises `count ≥ 1` to readers of the log.
    pub fn with_count(self, count: u32) -> Self {
        Self {
            count: count.max(1),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use uuid::Uuid;

    #[test]
    fn event_types_are_stored_as_the_contracts_snake_case_strings() {
        let strings: Vec<&str> = AuthEventType::ALL
            .iter()
            .map(AuthEventType::as_str)
            .collect();
        assert_eq!(
            strings,
            [
                "signup",
                "login",
                "login_failed",
                "login_throttled",
                "rate_limited",
                "logout",
                "session_revoked",
                "password_changed",
                "account_deactivated",
                "token_rejected"
            ]
        );
    }

    #[test]
    fn every_event_type_parses_back_from_its_string() {
        for event_type in AuthEventType::ALL {
            assert_eq!(AuthEventType::parse(event_type.as_str()), Some(event_type));
            assert_eq!(event_type.to_string(), event_type.as_str());
        }
        let distinct: HashSet<_> = AuthEventType::ALL.into_iter().collect();
        assert_eq!(distinct.len(), AuthEventType::ALL.len());
    }

    #[test]
    fn upper_case_or_unknown_event_types_do_not_parse() {
        for raw in [
            "LOGIN",
            "Login",
            "LoginFailed",
            "login-failed",
            "",
            " login",
            "unknown",
        ] {
            assert_eq!(AuthEventType::parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn failure_reasons_are_stored_as_the_contracts_codes() {
        let strings: Vec<&str> = FailureReason::ALL
            .iter()
            .map(FailureReason::as_str)
            .collect();
        assert_eq!(
            strings,
            [
                "EMAIL_EXISTS",
                "INVALID_CREDENTIALS",
                "UNKNOWN_EMAIL",
                "ACCOUNT_INACTIVE",
                "RATE_LIMIT_EXCEEDED",
                "VALIDATION_PASSWORD",
                "AUTH_MISSING",
                "AUTH_INVALID",
                "AUTH_EXPIRED",
                "AUTH_INVALID_CLAIMS",
                "AUTH_REVOKED"
            ]
        );
    }

    #[test]
    fn every_failure_reason_parses_back_and_nothing_else_does() {
        for reason in FailureReason::ALL {
            assert_eq!(FailureReason::parse(reason.as_str()), Some(reason));
            assert_eq!(reason.to_string(), reason.as_str());
        }
        for raw in ["auth_missing", "AUTH_FAILED", "", "EMAIL_EXISTS "] {
            assert_eq!(FailureReason::parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn table_of_user_agents_and_what_is_kept() {
        let at_limit = "a".repeat(500);
        let over = "b".repeat(501);
        let multibyte_over = "é".repeat(600);
        let cases: Vec<(Option<&str>, Option<String>)> = vec![
            (None, None),
            (Some(""), None),
            (Some("curl/8.5"), Some("curl/8.5".into())),
            (Some(&at_limit), Some(at_limit.clone())),
            (Some(&over), Some("b".repeat(500))),
            (Some(&multibyte_over), Some("é".repeat(500))),
        ];
        for (raw, expected) in cases {
            assert_eq!(ClientInfo::new(None, raw).user_agent, expected, "{raw:?}");
        }
    }

    #[test]
    fn ip_addresses_are_recorded_as_text_with_mapped_ipv4_unwrapped() {
        let cases = [
            (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), "192.0.2.1"),
            (
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                "2001:db8::1",
            ),
            (
                IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()),
                "192.0.2.1",
            ),
            (IpAddr::V6(Ipv6Addr::LOCALHOST), "::1"),
        ];
        for (ip, expected) in cases {
            assert_eq!(
                ClientInfo::new(Some(ip), None).ip_address.as_deref(),
                Some(expected)
            );
        }
        assert_eq!(ClientInfo::new(None, None), ClientInfo::default());
    }

    fn client() -> ClientInfo {
        ClientInfo::new(Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some("test-agent"))
    }

    #[test]
    fn a_success_event_has_no_reason_and_a_count_of_one() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
        let user = Some(UserId::from_uuid(Uuid::from_u128(9)));
        let id = EventId::from_uuid(Uuid::from_u128(1));
        let event = AuthEvent::success(id, AuthEventType::Login, user, &client(), at);
        assert_eq!(
            event,
            AuthEvent {
                id,
                user_id: user,
                event_type: AuthEventType::Login,
                success: true,
                failure_reason: None,
                ip_address: Some("127.0.0.1".into()),
                user_agent: Some("test-agent".into()),
                created_at: at,
                count: 1,
            }
        );
    }

    #[test]
    fn a_failure_event_carries_its_reason_and_a_count_of_one() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
        let id = EventId::from_uuid(Uuid::from_u128(2));
        let event = AuthEvent::failure(
            id,
            AuthEventType::LoginFailed,
            None,
            FailureReason::UnknownEmail,
            &client(),
            at,
        );
        assert!(!event.success);
        assert_eq!(event.failure_reason, Some(FailureReason::UnknownEmail));
        assert_eq!(event.user_id, None);
        assert_eq!(event.count, 1);
        assert_eq!(event.ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(event.created_at, at);
    }

    #[test]
    fn with_count_sets_the_count_and_never_goes_below_one() {
        let at = DateTime::from_timestamp(0, 0).expect("valid time");
        let id = EventId::from_uuid(Uuid::from_u128(3));
        let event = AuthEvent::success(id, AuthEventType::SessionRevoked, None, &client(), at);
        assert_eq!(event.clone().with_count(4).count, 4);
        assert_eq!(event.clone().with_count(u32::MAX).count, u32::MAX);
        assert_eq!(event.with_count(0).count, 1);
    }
}
