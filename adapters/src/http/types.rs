//! Field types poem-openapi lacks: a secret string whose `Debug` never shows it, an
//! RFC 3339 UTC timestamp written as `2026-01-14T10:00:00Z`, and strings whose schema
//! says what the service sends and accepts (format, bounds, fixed words) — the contract's
//! constraints live on the types, not in a patch of the document.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use domain::PlaintextPassword;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

use super::envelope::rfc3339;

/// A password in a request body: `string`/`password` in the spec, the domain's
/// [`PlaintextPassword`] in memory (NFKC, zeroized on drop, redacted in `Debug`), which
/// the use-case requests carry as it is.
#[derive(Debug, Clone)]
pub struct SecretInput(pub PlaintextPassword);

impl Type for SecretInput {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_password".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            // Contract: both password policies allow at most 128 characters (longer is
            // `VALIDATION_PASSWORD` at signup, a wrong password at login — not refused here).
            max_length: Some(128),
            ..MetaSchema::new_with_format("string", "password")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for SecretInput {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Self(PlaintextPassword::new(s))),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for SecretInput {
    fn to_json(&self) -> Option<Value> {
        // Never serialised back; should it ever be, it shows nothing.
        Some(Value::String("<redacted>".into()))
    }
}

/// A UTC instant, serialised as RFC 3339 with a `Z` and whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            // RFC 3339 with microseconds and an offset (`2026-01-14T10:00:00.123456+00:00`).
            max_length: Some(40),
            ..MetaSchema::new_with_format("string", "date-time")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| Self(t.with_timezone(&Utc)))
                .map_err(|_| ParseError::custom("expected an RFC 3339 timestamp")),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(rfc3339(self.0)))
    }
}

/// A string type whose schema is `$schema` (a `MetaSchema` built on a `string`): the
/// document says what the service sends and accepts, while parsing takes any string —
/// the rule is enforced where its error is defined (an over-long email is
/// `VALIDATION_EMAIL` from the use case, not a framework refusal).
macro_rules! described_string {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value.unwrap_or_default() {
                    Value::String(s) => Ok(Self(s)),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                Ok(Self(value.to_owned()))
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

fn string(build: impl FnOnce(&mut MetaSchema)) -> MetaSchema {
    let mut schema = MetaSchema::new("string");
    build(&mut schema);
    schema
}

fn words(words: &[&str]) -> MetaSchema {
    string(|s| s.enum_items = words.iter().map(|w| Value::from(*w)).collect())
}

described_string! {
    /// An email address. Contract: at most 254 characters after trimming (longer is
    /// `VALIDATION_EMAIL`).
    Email => string(|s| {
        s.format = Some("email");
        s.max_length = Some(254);
    })
}

described_string! {
    /// A request id: a UUID.
    RequestId => string(|s| {
        s.format = Some("uuid");
        s.max_length = Some(36);
    })
}

described_string! {
    /// A page cursor: base64url of `<microseconds>.<uuid>`, well under 256 characters.
    Cursor => string(|s| {
        s.pattern = Some("^[A-Za-z0-9_-]*$".into());
        s.max_length = Some(256);
    })
}

described_string! {
    /// Always `Bearer`.
    TokenType => words(&["Bearer"])
}

described_string! {
    /// `ok`.
    HealthStatus => words(&["ok"])
}

described_string! {
    /// `gatehouse`.
    ServiceName => words(&["gatehouse"])
}

described_string! {
    /// `ready`.
    ReadyStatus => words(&["ready"])
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::Type as _;

    use super::*;
    use crate::http::envelope::PasswordViolations;
    use domain::PasswordRule;

    fn inline(schema: MetaSchemaRef) -> MetaSchema {
        match schema {
            MetaSchemaRef::Inline(schema) => *schema,
            MetaSchemaRef::Reference(name) => panic!("{name} is a reference"),
        }
    }

    #[test]
    fn the_violations_bound_is_one_per_password_rule() {
        let mut registry = poem_openapi::registry::Registry::new();
        PasswordViolations::register(&mut registry);
        let violations = &registry.schemas["PasswordViolations"].properties[0].1;
        assert_eq!(
            inline(violations.clone()).max_items,
            Some(PasswordRule::ALL.len())
        );
    }

    #[test]
    fn described_strings_parse_any_string_whatever_their_schema_says() {
        let long = "a".repeat(300);
        let email = Email::parse_from_json(Some(Value::from(long.clone()))).expect("parsed");
        assert_eq!(email, Email(long.clone()));
        assert_eq!(inline(Email::schema_ref()).max_length, Some(254));
        let cursor = Cursor::parse_from_parameter("%%%").expect("parsed");
        assert_eq!(cursor, Cursor("%%%".into()));
        assert!(Email::parse_from_json(Some(Value::from(5))).is_err());
    }
}
