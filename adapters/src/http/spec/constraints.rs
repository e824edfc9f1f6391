//! Bounds, formats, patterns and enums for every string, integer and array in the
//! document — what the service really sends and accepts, written down so that clients,
//! linters (OWASP API4: unbounded inputs) and property-based tests know it.
//!
//! poem-openapi only says what the Rust types say (`String`, `u32`); the limits live in
//! the domain and the handlers. Each entry below names where its bound comes from.

use domain::PasswordRule;
use serde_json::{Map, Value, json};

/// The longest UUID in its canonical hyphenated form.
const UUID_CHARS: u64 = 36;
/// RFC 3339 with microseconds and an offset (`2026-01-14T10:00:00.123456+00:00`).
const TIMESTAMP_CHARS: u64 = 40;
/// The longest textual IP address (IPv4-mapped IPv6).
const IP_CHARS: u64 = 45;
/// The longest error message or field message the service writes.
const MESSAGE_CHARS: u64 = 1000;
/// Cursors are base64url of `<microseconds>.<uuid>`, well under this.
const CURSOR_CHARS: u64 = 256;
/// Tokens over 8 KiB are refused before they are parsed (contract).
const TOKEN_CHARS: u64 = 8192;
/// A JWT in compact serialisation: three base64url parts.
const JWT_PATTERN: &str = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$";
const BASE64URL_PATTERN: &str = "^[A-Za-z0-9_-]*$";

/// Constraints of a string property or parameter, by its name.
fn string_constraints(name: &str) -> Option<Value> {
    Some(match name {
        "user_id" | "session_id" | "event_id" | "request_id" => {
            json!({ "format": "uuid", "maxLength": UUID_CHARS })
        }
        "created_at" | "expires_at" | "last_login" | "timestamp" => {
            json!({ "format": "date-time", "maxLength": TIMESTAMP_CHARS })
        }
        // Contract: at most 254 characters (longer is VALIDATION_EMAIL).
        "email" => json!({ "format": "email", "maxLength": 254 }),
        // Contract: both password policies allow at most 128 characters.
        "password" | "current_password" | "new_password" => {
            json!({ "format": "password", "maxLength": 128 })
        }
        "token" => json!({ "pattern": JWT_PATTERN, "maxLength": TOKEN_CHARS }),
        "token_type" => json!({ "enum": ["Bearer"] }),
        "ip_address" => json!({ "pattern": "^[0-9A-Fa-f.:]+$", "maxLength": IP_CHARS }),
        // Contract: user agents are cut to 500 characters.
        "user_agent" => json!({ "maxLength": 500 }),
        "next_cursor" | "cursor" => {
            json!({ "pattern": BASE64URL_PATTERN, "maxLength": CURSOR_CHARS })
        }
        "message" => json!({ "maxLength": MESSAGE_CHARS }),
        // A body field path (`email`, `body`) or a parameter's own name.
        "field" => json!({ "pattern": r"^[A-Za-z0-9_.\[\]]+$", "maxLength": 128 }),
        "rule" => {
            let codes: Vec<&str> = PasswordRule::ALL.iter().map(PasswordRule::code).collect();
            json!({ "enum": codes })
        }
        "version" => json!({ "pattern": r"^\d+\.\d+\.\d+", "maxLength": 64 }),
        _ => return None,
    })
}

/// Constraints of an integer property by its name, over the defaults from its format.
fn integer_constraints(name: &str) -> Option<Value> {
    Some(match name {
        // Repeats within a minute are folded into one row; a row is at least one event.
        "count" => json!({ "minimum": 1 }),
        "expires_in" => json!({ "minimum": 1 }),
        _ => return None,
    })
}

/// `maxItems` of an array property, by schema and property.
fn max_items(schema: &str, property: &str) -> Option<u64> {
    match (schema, property) {
        // `limit` is at most 100.
        ("AuthEventList", "data") => Some(100),
        // One entry per invalid body field or parameter; no request has this many.
        ("ErrorDetails" | "FieldErrors", "fields") => Some(32),
        ("ErrorDetails" | "PasswordViolations", "violations") => {
            Some(PasswordRule::ALL.len() as u64)
        }
        // SessionList.data is not paginated: one entry per live session (the spectral
        // configuration says so).
        _ => None,
    }
}

/// Response bodies whose strings are fixed words.
fn fixed_words(schema: &str, property: &str) -> Option<Value> {
    match (schema, property) {
        ("HealthResponse", "status") => Some(json!(["ok"])),
        ("HealthResponse", "service") => Some(json!(["gatehouse"])),
        ("ReadyResponse", "status") => Some(json!(["ready"])),
        _ => None,
    }
}

fn merge(target: &mut Map<String, Value>, extra: Value) {
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            target.insert(k, v);
        }
    }
}

/// poem-openapi writes Rust's unsigned formats (`uint32`, `uint64`), which are not
/// OpenAPI formats: write `int64` with the bounds the Rust type has.
pub(super) fn fix_integer(schema: &mut Map<String, Value>) {
    if schema.get("type").and_then(Value::as_str) != Some("integer") {
        return;
    }
    let max = match schema.get("format").and_then(Value::as_str) {
        Some("uint32") => json!(u32::MAX),
        Some("int32") => json!(i32::MAX),
        _ => json!(i64::MAX),
    };
    let unsigned = matches!(
        schema.get("format").and_then(Value::as_str),
        Some("uint32" | "uint64")
    );
    schema.insert("format".into(), json!("int64"));
    if !schema.contains_key("minimum") {
        schema.insert(
            "minimum".into(),
            if unsigned { json!(0) } else { json!(i64::MIN) },
        );
    }
    schema.entry("maximum").or_insert(max);
}

/// Applies the tables above to one property (or parameter) schema called `name`.
pub(super) fn constrain(owner: &str, name: &str, schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("string") => {
            if let Some(words) = fixed_words(owner, name) {
                obj.insert("enum".into(), words);
            } else if let Some(extra) = string_constraints(name) {
                merge(obj, extra);
            }
        }
        Some("integer") => {
            fix_integer(obj);
            if let Some(extra) = integer_constraints(name) {
                merge(obj, extra);
            }
        }
        Some("array") => {
            if let Some(max) = max_items(owner, name) {
                obj.insert("maxItems".into(), json!(max));
            }
        }
        _ => {}
    }
}

/// Every property of every component schema.
pub(super) fn constrain_schemas(schemas: &mut Map<String, Value>) {
    for (schema_name, schema) in schemas.iter_mut() {
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for (name, prop) in props.iter_mut() {
                constrain(schema_name, name, prop);
            }
        }
    }
}

/// The schema of a response header, by header name.
pub(super) fn header_schema(name: &str) -> Option<Value> {
    Some(match name {
        "X-Request-ID" => json!({ "type": "string", "format": "uuid", "maxLength": UUID_CHARS }),
        "WWW-Authenticate" => json!({ "type": "string", "pattern": "^Bearer", "maxLength": 256 }),
        "Cache-Control" => json!({ "type": "string", "enum": ["no-store"] }),
        "Retry-After" => {
            json!({ "type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX })
        }
        "RateLimit-Limit" | "RateLimit-Remaining" | "RateLimit-Reset" => {
            json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX })
        }
        // One of CORS_ORIGINS, echoed (never `*`).
        "Access-Control-Allow-Origin" => {
            json!({ "type": "string", "format": "uri", "maxLength": 2048 })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_formats_become_int64_with_the_rust_bounds() {
        let mut s = json!({ "type": "integer", "format": "uint32" });
        fix_integer(s.as_object_mut().expect("object"));
        assert_eq!(
            s,
            json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX })
        );
        let mut s = json!({ "type": "integer", "format": "uint32", "minimum": 1, "maximum": 100 });
        fix_integer(s.as_object_mut().expect("object"));
        assert_eq!(s["minimum"], 1);
        assert_eq!(s["maximum"], 100);
    }

    #[test]
    fn every_password_rule_is_in_the_rule_enum() {
        let mut s = json!({ "type": "string" });
        constrain("PasswordRuleViolation", "rule", &mut s);
        let codes = s["enum"].as_array().expect("enum");
        for rule in PasswordRule::ALL {
            assert!(codes.contains(&json!(rule.code())), "{}", rule.code());
        }
    }
}
