//! Request-body validation: `serde_json::from_slice` plus the field checker built from
//! the operations' metadata (`RouteIndex::body_errors`) on arbitrary bytes, for every
//! operation with a JSON body.
//!
//! `body_errors` only runs after the framework refused a body, so it always returns at
//! least one entry. A body that is not a JSON object is named `body`, alone; for an
//! object every missing or non-string field is named, and `body` appears only as the
//! catch-all ("does not match the expected schema") when no field is wrong.

#![no_main]

use std::sync::LazyLock;

use adapters::http::RouteIndex;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static INDEX: LazyLock<RouteIndex> = LazyLock::new(RouteIndex::new);

const CATCH_ALL: &str = "does not match the expected schema";
const USER: &str = "/api/0194a3b2-7c1d-7e3f-8a9b-0c1d2e3f4a51";

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = serde_json::from_slice::<Value>(data);
    let password = format!("{USER}/password");
    let operations: [(&str, &str, &[&str]); 4] = [
        ("POST", "/api/auth/signup", &["email", "password"]),
        ("POST", "/api/auth/login", &["email", "password"]),
        ("PUT", &password, &["current_password", "new_password"]),
        ("DELETE", USER, &["password"]),
    ];
    for (method, path, fields) in operations {
        let errors = INDEX.body_errors(method, path, data);
        let named_body = errors.iter().any(|(field, _)| field == "body");
        match &parsed {
            Ok(Value::Object(object)) => {
                let mut expected: Vec<(String, String)> = fields
                    .iter()
                    .filter_map(|&name| match object.get(name) {
                        None => Some((name.to_owned(), "is required".to_owned())),
                        Some(Value::String(_)) => None,
                        Some(other) => Some((
                            name.to_owned(),
                            format!("must be a string, not {}", kind(other)),
                        )),
                    })
                    .collect();
                if expected.is_empty() {
                    expected.push(("body".to_owned(), CATCH_ALL.to_owned()));
                } else {
                    assert!(!named_body, "{method} {path}: {errors:?}");
                }
                let mut actual = errors.clone();
                actual.sort();
                expected.sort();
                assert_eq!(actual, expected, "{method} {path}");
            }
            Ok(other) => {
                assert_eq!(
                    errors,
                    [(
                        "body".to_owned(),
                        format!("must be an object, not {}", kind(other))
                    )],
                    "{method} {path}"
                );
            }
            Err(_) => {
                assert_eq!(errors.len(), 1, "{method} {path}: {errors:?}");
                let (field, message) = &errors[0];
                assert_eq!(field, "body");
                if data.is_empty() {
                    assert_eq!(message, "a JSON body is required");
                } else {
                    assert!(message.starts_with("is not valid JSON (line "), "{message}");
                }
            }
        }
    }
});
