//! Redaction of credentials in URLs, for every message that names one (`DATABASE_URL`
//! today; `SMTP_URL`, `REDIS_URL` later).
//!
//! It must not decide anything: it only rewrites text meant for people. It parses with
//! the `url` crate (already in the build through sea-orm and sqlx) instead of by hand, so
//! that what it calls userinfo is what the drivers do.
//!
//! # Security
//! A URL's userinfo (`user:password@`) and the values of query parameters that carry a
//! credential (`password=`, `sslpassword=`, `token=` …) are replaced by `***`. A value
//! that does not parse as a URL is not shown at all when it could hold either.

use url::Url;

/// What stands in for a redacted credential.
pub const REDACTED: &str = "***";

/// Query parameters whose value is a credential (compared without case).
const SECRET_PARAMETERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "sslpassword",
    "secret",
    "token",
    "auth",
    "api_key",
    "apikey",
    "key",
];

/// `raw` with its userinfo and secret query values replaced by `***`: safe to print.
///
/// A URL without either is returned unchanged; one that does not parse is replaced by a
/// short notice when it contains `@` or `?` (it might hold a credential), and returned
/// unchanged otherwise (it cannot).
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return if raw.contains('@') || raw.contains('?') {
            "(not shown: it does not parse as a URL and may hold a credential)".to_owned()
        } else {
            raw.to_owned()
        };
    };
    let has_userinfo = !url.username().is_empty() || url.password().is_some();
    let has_secret_query = url.query_pairs().any(|(key, _)| is_secret_parameter(&key));
    if !has_userinfo && !has_secret_query {
        return raw.to_owned();
    }
    if has_userinfo {
        // Both fail only for URLs that cannot have userinfo, which then have none.
        let _ = url.set_password(None);
        let _ = url.set_username(REDACTED);
    }
    if has_secret_query {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret_parameter(&key) {
                    REDACTED.to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// `message` (say, a driver's error) with every occurrence of `raw_url`, and of the
/// password and secret query values in it, redacted: drivers echo the connection string
/// they could not use. A bare user name is left (it is not a secret, and `postgres` would
/// otherwise blot out every mention of the scheme).
pub fn scrub(message: &str, raw_url: &str) -> String {
    if raw_url.is_empty() {
        return message.to_owned();
    }
    let mut out = message.replace(raw_url, &redact_url(raw_url));
    if let Ok(url) = Url::parse(raw_url) {
        let mut secrets: Vec<String> = Vec::new();
        if let Some(password) = url.password() {
            secrets.push(password.to_owned());
            secrets.push(decoded(password));
        }
        for (key, value) in url.query_pairs() {
            if is_secret_parameter(&key) {
                secrets.push(value.into_owned());
            }
        }
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

fn is_secret_parameter(key: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

fn decoded(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map_or_else(|| part.to_owned(), |(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_replaced_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db.internal:5432/gatehouse?sslmode=require"),
            "postgres://***@db.internal:5432/gatehouse?sslmode=require"
        );
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(
            redact_url("smtp://apikey@mail.example.com:587"),
            "smtp://***@mail.example.com:587"
        );
    }

    #[test]
    fn secret_query_parameters_are_replaced() {
        let redacted =
            redact_url("postgres://db/gatehouse?user=bob&Password=hunter2&sslmode=require");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(redacted.contains("user=bob"), "{redacted}");
        assert!(redacted.contains("sslmode=require"), "{redacted}");
    }

    #[test]
    fn a_url_without_credentials_is_unchanged() {
        for url in [
            "sqlite://gatehouse.db",
            "sqlite:gatehouse.db?mode=rwc",
            "sqlite::memory:",
            "postgres://db.internal/gatehouse",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn an_unparseable_url_that_may_hold_a_credential_is_not_shown() {
        let redacted = redact_url("postgres://bob:hunter2@localhost:notaport/db");
        assert!(!redacted.contains("hunter2"), "{redacted}");
        assert!(!redacted.contains("bob"), "{redacted}");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn scrub_removes_the_url_and_its_credentials_from_a_message() {
        let url = "postgres://bob:hunter%402@db:5432/gatehouse";
        let message = format!(
            "The connection string '{url}' cannot be used; password hunter@2 for bob refused"
        );
        let scrubbed = scrub(&message, url);
        assert!(!scrubbed.contains("hunter"), "{scrubbed}");
        assert!(
            scrubbed.contains("postgres://***@db:5432/gatehouse"),
            "{scrubbed}"
        );
    }
}
