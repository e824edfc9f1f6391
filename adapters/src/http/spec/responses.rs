//! What every response of every operation has in common, and the links between
//! operations — set outside the handlers (by the outermost layer), so poem-openapi
//! cannot see them.

use serde_json::{Map, Value, json};

/// Statuses any operation can answer, whatever it does: the outermost layer refuses
/// bodies over 64 KiB and bodies that arrive too slowly on every route before the
/// handler runs, and a panic anywhere is
/// caught and answered in the envelope.
const ALWAYS: [(&str, &str); 3] = [
    (
        "408",
        "`REQUEST_TIMEOUT`: the request body did not arrive within the body read timeout (`HTTP_BODY_READ_TIMEOUT_SECONDS`, 10 s by default); the connection is closed after this answer.",
    ),
    (
        "413",
        "`PAYLOAD_TOO_LARGE`: the request body is over 64 KiB (refused before it is read, on every route).",
    ),
    ("500", "`INTERNAL_ERROR`."),
];

/// Adds the statuses of [`ALWAYS`] an operation does not declare yet.
pub(super) fn add_always_statuses(responses: &mut Map<String, Value>) {
    for (status, description) in ALWAYS {
        if !responses.contains_key(status) {
            responses.insert(
                status.into(),
                json!({
                    "description": description,
                    "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/ErrorEnvelope" }
                    } }
                }),
            );
        }
    }
}

/// Header names in their usual case, with their descriptions and schemas, plus
/// `X-Request-ID` and the CORS header every response can carry.
pub(super) fn finish_headers(operation_id: &str, response: &mut Map<String, Value>) {
    let headers = response.entry("headers").or_insert_with(|| json!({}));
    let Some(headers) = headers.as_object_mut() else {
        return;
    };
    let named: Vec<(String, Value)> = std::mem::take(headers).into_iter().collect();
    for (name, header) in named {
        let (name, description) = match name.to_ascii_lowercase().as_str() {
            "cache-control" => ("Cache-Control", "`no-store`: the body carries a token."),
            "www-authenticate" => (
                "WWW-Authenticate",
                "`Bearer`, with `error=\"invalid_token\"` when a token was sent and refused (RFC 6750).",
            ),
            "retry-after" => ("Retry-After", "Seconds to wait before retrying."),
            _ => {
                headers.insert(name, header);
                continue;
            }
        };
        headers.insert(name.into(), header_object(name, description, true));
    }
    headers.insert(
        "X-Request-ID".into(),
        header_object(
            "X-Request-ID",
            "The request's id (an incoming UUID is echoed); also in logs and error bodies.",
            true,
        ),
    );
    headers.insert(
        "Access-Control-Allow-Origin".into(),
        header_object(
            "Access-Control-Allow-Origin",
            "The request's `Origin`, only when it is one of `CORS_ORIGINS` (never `*`); absent otherwise.",
            false,
        ),
    );
    if matches!(operation_id, "signUp" | "logIn") {
        for (name, description) in [
            (
                "RateLimit-Limit",
                "Requests this client IP may make in a burst (absent when the limit is off).",
            ),
            ("RateLimit-Remaining", "Requests left in the burst now."),
            (
                "RateLimit-Reset",
                "Seconds until the full burst is available again.",
            ),
        ] {
            headers.insert(name.into(), header_object(name, description, false));
        }
    }
}

fn header_object(name: &str, description: &str, required: bool) -> Value {
    json!({
        "description": description,
        "required": required,
        "schema": header_schema(name).unwrap_or_else(|| json!({ "type": "string" })),
    })
}

/// Where a response's values can be used next (OpenAPI links): the ids a signup or
/// login answers open every one of the account's own routes, a listed session can be
/// revoked, and `next_cursor` opens the next page.
pub(super) fn links(operation_id: &str, status: &str) -> Option<Value> {
    let user = "$response.body#/user_id";
    match (operation_id, status) {
        ("signUp", "201") | ("logIn", "200") => Some(json!({
            "GetProfile": {
                "operationId": "getProfile",
                "parameters": { "user_id": user },
                "description": "The new session's user: their profile."
            },
            "ListAuthEvents": {
                "operationId": "listAuthEvents",
                "parameters": { "user_id": user },
                "description": "Their security log."
            },
            "ListSessions": {
                "operationId": "listSessions",
                "parameters": { "user_id": user },
                "description": "Their live sessions."
            },
            "RevokeSession": {
                "operationId": "revokeSession",
                "parameters": { "user_id": user, "session_id": "$response.body#/session_id" },
                "description": "Revoke this very session."
            },
            "ChangePassword": {
                "operationId": "changePassword",
                "parameters": { "user_id": user },
                "description": "Change their password."
            },
            "RevokeAllSessions": {
                "operationId": "revokeAllSessions",
                "parameters": { "user_id": user },
                "description": "Log out everywhere, this session included."
            },
            "DeactivateAccount": {
                "operationId": "deactivateAccount",
                "parameters": { "user_id": user },
                "description": "Deactivate the account (needs its password)."
            }
        })),
        ("listSessions", "200") => Some(json!({
            "RevokeSession": {
                "operationId": "revokeSession",
                "parameters": {
                    "user_id": "$request.path.user_id",
                    "session_id": "$response.body#/data/0/session_id"
                },
                "description": "Revoke the first session listed."
            }
        })),
        ("listAuthEvents", "200") => Some(json!({
            "NextPage": {
                "operationId": "listAuthEvents",
                "parameters": {
                    "user_id": "$request.path.user_id",
                    "cursor": "$response.body#/next_cursor"
                },
                "description": "The next page (while `next_cursor` is not null)."
            }
        })),
        _ => None,
    }
}

/// The schema of a response header, by header name.
fn header_schema(name: &str) -> Option<Value> {
    Some(match name {
        "X-Request-ID" => json!({ "type": "string", "format": "uuid", "maxLength": 36 }),
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
