//! Field types poem-openapi lacks: a secret string whose `Debug` never shows it, and an
//! RFC 3339 UTC timestamp written as `2026-01-14T10:00:00Z`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use domain::PlaintextPassword;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
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
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "password")))
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
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
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
