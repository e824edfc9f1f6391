//! Vocabularies that grow between releases — event types, failure reasons, error codes,
//! password rules — and how the contract declares them: open, with today's values listed
//! (contract v2, rule 4).
//!
//! A client generated from one release's spec must not fail on a value the next release
//! adds, so a field of a growing set is not a closed `enum` in the document but
//! `oneOf: [{$ref: <known values>}, {string of the set's shape, not one of them}]`
//! (`spec::open_growing_sets` adds the `not`, which poem-openapi cannot say). The two
//! branches never overlap, so exactly one matches any value; generators turn that into
//! "the known enum, or a plain string" (openapi-python-client `AuthEventType | str`,
//! openapi-ts `AuthEventType | string`, progenitor an untagged enum with a `String`
//! variant), where a closed enum raised or refused to decode.
//!
//! The known values come from the domain's `ALL` (or the `Enum` derive of [`ErrorCode`]),
//! so a value added there is listed in the spec with no other change. What the server
//! *sends* stays closed: [`Open`] holds a known value and nothing else, and parsing one
//! (in tests) accepts known values only.
//!
//! [`ErrorCode`]: super::envelope::ErrorCode

use std::borrow::Cow;

use domain::{AuthEventType, FailureReason, PasswordRule};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::envelope::ErrorCode;

/// The longest value of any growing set, today's and tomorrow's (the longest today is
/// 28 characters).
pub const MAX_LENGTH: usize = 64;

/// A growing set: its known values are the component `Self::schema_ref()` names, and
/// every value, known or future, has the shape [`OpenSet::PATTERN`].
pub trait OpenSet: Type + ParseFromJSON + ToJSON {
    /// The shape every value of the set has, now and later (the regular expression the
    /// open branch carries).
    const PATTERN: &'static str;
}

/// Lower-case snake_case: event types and password rules.
const LOWER_SNAKE: &str = "^[a-z][a-z0-9_]*$";
/// Upper-case snake_case: failure reasons and error codes.
const UPPER_SNAKE: &str = "^[A-Z][A-Z0-9_]*$";

/// A field of a growing set: the document lists today's values and admits any other of
/// the same shape; the server only ever holds (and sends) a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open<S>(pub S);

impl<S: OpenSet> Type for Open<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("open_{}", S::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let future = MetaSchema {
            max_length: Some(MAX_LENGTH),
            pattern: Some(S::PATTERN.into()),
            ..MetaSchema::new("string")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            one_of: vec![S::schema_ref(), MetaSchemaRef::Inline(Box::new(future))],
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
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

impl<S: OpenSet> ParseFromJSON for Open<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        // The server's own reading stays closed: only what it could have sent.
        S::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

impl<S: OpenSet> ToJSON for Open<S> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

impl<S> From<S> for Open<S> {
    fn from(known: S) -> Self {
        Self(known)
    }
}

impl OpenSet for ErrorCode {
    const PATTERN: &'static str = UPPER_SNAKE;
}

/// A component listing a domain vocabulary's values (`ALL`, each as `as_str`), with the
/// wire form of one value as its Rust type.
macro_rules! known_values {
    (
        $(#[$doc:meta])*
        $name:ident($domain:ty) as $component:literal,
        all: $all:expr,
        wire: $wire:expr,
        pattern: $pattern:expr,
        description: $description:literal $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub $domain);

        impl $name {
            fn wire(self) -> &'static str {
                let wire: fn(&$domain) -> &'static str = $wire;
                wire(&self.0)
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $component.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference($component.into())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>($component.into(), |_| MetaSchema {
                    description: Some($description),
                    enum_items: $all.iter().map(|v| Value::from(Self(*v).wire())).collect(),
                    ..MetaSchema::new("string")
                });
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
                    Value::String(s) => $all
                        .iter()
                        .map(|v| Self(*v))
                        .find(|v| v.wire() == s)
                        .ok_or_else(|| ParseError::custom(format!("unknown value `{s}`"))),
                    other => Err(ParseError::expected_type(other)),
                }
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::from(self.wire()))
            }
        }

        impl OpenSet for $name {
            const PATTERN: &'static str = $pattern;
        }
    };
}

known_values! {
    /// An event type (`signup`, `login_failed`, …), as the security log sends it.
    EventTypeName(AuthEventType) as "AuthEventType",
    all: AuthEventType::ALL,
    wire: AuthEventType::as_str,
    pattern: LOWER_SNAKE,
    description: "The event types this release records. The set grows in later releases: \
        `AuthEvent.event_type` may carry a value not listed here, which clients must accept \
        and keep (show it as it is, or as \"other\").",
}

known_values! {
    /// A failure reason (`INVALID_CREDENTIALS`, …), as the security log sends it.
    FailureReasonName(FailureReason) as "FailureReason",
    all: FailureReason::ALL,
    wire: FailureReason::as_str,
    pattern: UPPER_SNAKE,
    description: "The failure reasons this release records. The set grows in later \
        releases: `AuthEvent.failure_reason` may carry a value not listed here, which \
        clients must accept and keep.",
}

known_values! {
    /// A password rule's code (`min_length`, …), as `VALIDATION_PASSWORD` lists it.
    RuleName(PasswordRule) as "PasswordRule",
    all: PasswordRule::ALL,
    wire: PasswordRule::code,
    pattern: LOWER_SNAKE,
    description: "The password rules this release checks. The set may grow in later \
        releases: `PasswordRuleViolation.rule` may carry a value not listed here, which \
        clients must accept and keep (its `message` explains it).",
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered<S: OpenSet>() -> (Registry, MetaSchema) {
        let mut registry = Registry::new();
        Open::<S>::register(&mut registry);
        let name = S::name().into_owned();
        let schema = registry.schemas[&name].clone();
        (registry, schema)
    }

    fn listed<S: OpenSet>() -> Vec<Value> {
        registered::<S>().1.enum_items
    }

    #[test]
    fn every_domain_value_is_listed_in_its_known_values_component() {
        let events: Vec<Value> = AuthEventType::ALL
            .iter()
            .map(|t| Value::from(t.as_str()))
            .collect();
        assert_eq!(listed::<EventTypeName>(), events);
        let reasons: Vec<Value> = FailureReason::ALL
            .iter()
            .map(|r| Value::from(r.as_str()))
            .collect();
        assert_eq!(listed::<FailureReasonName>(), reasons);
        let rules: Vec<Value> = PasswordRule::ALL
            .iter()
            .map(|r| Value::from(r.code()))
            .collect();
        assert_eq!(listed::<RuleName>(), rules);
        assert!(listed::<ErrorCode>().contains(&Value::from("AUTH_REVOKED")));
    }

    #[test]
    fn every_known_value_has_the_shape_the_open_branch_promises() {
        // The two patterns, spelled out without a regex engine.
        fn matches(pattern: &str, value: &str) -> bool {
            let upper = match pattern {
                LOWER_SNAKE => false,
                UPPER_SNAKE => true,
                other => panic!("no checker for {other}"),
            };
            let letter = |c: char| {
                if upper {
                    c.is_ascii_uppercase()
                } else {
                    c.is_ascii_lowercase()
                }
            };
            let mut chars = value.chars();
            chars.next().is_some_and(letter)
                && chars.all(|c| letter(c) || c.is_ascii_digit() || c == '_')
        }
        fn check<S: OpenSet>() {
            for value in listed::<S>() {
                let value = value.as_str().expect("a string");
                assert!(matches(S::PATTERN, value), "{value} against {}", S::PATTERN);
                assert!(value.len() <= MAX_LENGTH, "{value}");
            }
        }
        check::<EventTypeName>();
        check::<FailureReasonName>();
        check::<RuleName>();
        check::<ErrorCode>();
    }

    #[test]
    fn an_open_field_is_one_of_the_known_values_or_a_string_of_their_shape() {
        let MetaSchemaRef::Inline(schema) = Open::<EventTypeName>::schema_ref() else {
            panic!("an open field is written inline");
        };
        assert_eq!(schema.ty, "");
        let [known, future] = schema.one_of.as_slice() else {
            panic!("two branches: {:?}", schema.one_of);
        };
        assert_eq!(known, &MetaSchemaRef::Reference("AuthEventType".into()));
        let MetaSchemaRef::Inline(future) = future else {
            panic!("the open branch is inline");
        };
        assert_eq!(future.ty, "string");
        assert_eq!(future.pattern.as_deref(), Some(LOWER_SNAKE));
        assert_eq!(future.max_length, Some(MAX_LENGTH));
        assert!(future.enum_items.is_empty());
    }

    #[test]
    fn the_server_writes_and_reads_known_values_only() {
        let login = Open(EventTypeName(AuthEventType::LoginFailed));
        assert_eq!(login.to_json(), Some(Value::from("login_failed")));
        assert_eq!(
            Open::<EventTypeName>::parse_from_json(Some(Value::from("login_failed")))
                .expect("known"),
            login
        );
        assert!(
            Open::<EventTypeName>::parse_from_json(Some(Value::from("some_future_event"))).is_err()
        );
        assert!(Open::<ErrorCode>::parse_from_json(Some(Value::from("SOME_FUTURE_CODE"))).is_err());
        assert_eq!(
            Open(ErrorCode::AuthRevoked).to_json(),
            Some(Value::from("AUTH_REVOKED"))
        );
    }
}
