//! The checked-in contract must be exactly what the code generates.
//!
//! When the API changes on purpose, regenerate it with
//! `UPDATE_CONTRACTS=1 cargo test -p gatehouse-tests --test api contract`
//! (or `cargo run -p adapters --bin gatehouse -- openapi > contracts/auth.yaml`)
//! and commit the file with the change.

use std::path::PathBuf;

use serde_json::Value;

pub fn contract_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/auth.yaml")
}

#[test]
fn contracts_auth_yaml_matches_the_generated_spec() {
    let generated = adapters::http::openapi_yaml().expect("the document");
    let path = contract_path();
    if std::env::var_os("UPDATE_CONTRACTS").is_some() {
        std::fs::write(&path, &generated).expect("write contracts/auth.yaml");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "contracts/auth.yaml differs from the spec the code generates.\n\
         If the API change is intended, run:\n  UPDATE_CONTRACTS=1 cargo test -p gatehouse-tests --test api contract\n\
         and commit contracts/auth.yaml."
    );
}

#[test]
fn every_operation_is_documented_for_sdk_generators() {
    let spec = adapters::http::openapi_document().expect("the document");
    assert_eq!(spec["servers"][0]["url"], "/");
    assert_eq!(spec["servers"].as_array().map(Vec::len), Some(1));
    let mut ids = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path} is written in full");
        for (method, op) in item.as_object().expect("operations") {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path}: operationId");
            ids.push(id.to_owned());
            for field in ["summary", "description"] {
                assert!(
                    op[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{id}: {field}"
                );
            }
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id}: tags"
            );
            assert!(op.get("security").is_some(), "{id}: security declared");
            for (status, response) in op["responses"].as_object().expect("responses") {
                assert!(
                    response.pointer("/headers/X-Request-ID").is_some(),
                    "{id} {status}: X-Request-ID"
                );
                if status == "204" {
                    assert!(response.get("content").is_none(), "{id} 204 has no body");
                    continue;
                }
                assert!(
                    response
                        .pointer("/content/application~1json/schema")
                        .is_some(),
                    "{id} {status}: JSON schema"
                );
                assert!(
                    response
                        .pointer("/content/application~1json/example")
                        .is_some(),
                    "{id} {status}: example"
                );
                assert!(
                    response.pointer("/headers/X-Request-ID").is_some(),
                    "{id} {status}: X-Request-ID"
                );
                let needs = match status.as_str() {
                    "401" => Some("WWW-Authenticate"),
                    "429" | "503" => Some("Retry-After"),
                    _ => None,
                };
                if let Some(header) = needs {
                    assert!(
                        response["headers"].get(header).is_some(),
                        "{id} {status}: {header}"
                    );
                }
            }
        }
    }
    ids.sort();
    let expected: Vec<&str> = vec![
        "changePassword",
        "deactivateAccount",
        "getCurrentUser",
        "getHealth",
        "getProfile",
        "getReadiness",
        "listAuthEvents",
        "listSessions",
        "logIn",
        "logOut",
        "revokeAllSessions",
        "revokeSession",
        "signUp",
    ];
    assert_eq!(ids, expected);
    assert_eq!(
        spec.pointer("/components/securitySchemes/bearerAuth/bearerFormat"),
        Some(&Value::from("JWT"))
    );
}
