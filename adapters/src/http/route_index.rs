//! What the operations' own metadata (poem-openapi's `OpenApi::meta()` and registry)
//! says about each route, used where the router knows too little: the `Allow` header of
//! a 405 and the methods of a CORS preflight, whether a path can name a resource at all
//! (404 rather than 405), the names of path parameters (poem-openapi reports them by
//! position), and naming every invalid field of a request body (poem-openapi reports
//! only the first error, without its field).

use std::collections::BTreeMap;

use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef, Registry};
use serde_json::Value;

/// Routes, parameters and request-body schemas of the API.
#[derive(Debug, Clone)]
pub struct RouteIndex {
    routes: Vec<RouteInfo>,
    /// The named schemas request bodies refer to.
    schemas: BTreeMap<String, MetaSchema>,
}

#[derive(Debug, Clone)]
struct RouteInfo {
    /// The path template (`/api/{user_id}/sessions`).
    template: String,
    /// Which segments are literal, the first in the highest bit: of two routes matching a
    /// path, the one with the larger mask is the more specific.
    literal_mask: u64,
    segments: Vec<Segment>,
    /// Each method with its JSON request body's schema.
    methods: Vec<(Method, Option<MetaSchemaRef>)>,
    /// Query parameters by name, with their schema (from any method of the path).
    query: Vec<(String, MetaSchemaRef)>,
    /// The path parameters whose schema says `format: uuid` (from any method).
    uuid_params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

impl RouteIndex {
    /// The index of the service's own operations.
    pub fn new() -> Self {
        Self::of::<super::spec::Api>()
    }

    /// The index of the operations of `A`.
    pub fn of<A: OpenApi>() -> Self {
        let mut registry = Registry::new();
        A::register(&mut registry);
        let mut routes: Vec<RouteInfo> = Vec::new();
        for path in A::meta().into_iter().flat_map(|api| api.paths) {
            let at = match routes.iter().position(|r| r.template == path.path) {
                Some(at) => at,
                None => {
                    let segments: Vec<Segment> = segments(&path.path)
                        .into_iter()
                        .map(|s| match s.strip_prefix('{') {
                            Some(name) => Segment::Param(name.trim_end_matches('}').to_owned()),
                            None => Segment::Literal(s.to_owned()),
                        })
                        .collect();
                    let literal_mask = segments.iter().fold(0_u64, |mask, s| {
                        mask << 1 | u64::from(matches!(s, Segment::Literal(_)))
                    });
                    routes.push(RouteInfo {
                        template: path.path.clone(),
                        literal_mask,
                        segments,
                        methods: Vec::new(),
                        query: Vec::new(),
                        uuid_params: Vec::new(),
                    });
                    routes.len() - 1
                }
            };
            let route = &mut routes[at];
            for op in path.operations {
                let body = op.request.and_then(|r| {
                    r.content
                        .into_iter()
                        .find(|c| c.content_type.starts_with("application/json"))
                        .map(|c| c.schema)
                });
                route.methods.push((op.method, body));
                for param in op.params {
                    match param.in_type {
                        MetaParamIn::Query => route.query.push((param.name, param.schema)),
                        MetaParamIn::Path
                            if resolve(&param.schema, &registry.schemas).format == Some("uuid") =>
                        {
                            route.uuid_params.push(param.name);
                        }
                        _ => {}
                    }
                }
            }
        }
        Self {
            routes,
            schemas: registry.schemas,
        }
    }

    /// The route matching `path`; where two match (`/api/auth/me` and
    /// `/api/{user_id}/sessions`), the one with more literal segments, as the router does.
    /// Runs on every request (for the access log): no allocation.
    fn route(&self, path: &str) -> Option<&RouteInfo> {
        let parts = || path.split('/').filter(|s| !s.is_empty());
        let count = parts().count();
        self.routes
            .iter()
            .filter(|r| {
                r.segments.len() == count
                    && r.segments.iter().zip(parts()).all(|(seg, part)| match seg {
                        Segment::Literal(l) => l == part,
                        Segment::Param(_) => true,
                    })
            })
            .max_by_key(|r| r.literal_mask)
    }

    /// The template of the route matching `path` (`/api/{user_id}/sessions`), for logs.
    pub fn route_template(&self, path: &str) -> Option<&str> {
        self.route(path).map(|r| r.template.as_str())
    }

    /// Whether `path` can name what its route serves: it matches a route, and each path
    /// parameter declared a UUID is one. `/api/users` matches the template
    /// `/api/{user_id}` yet names no user, so a method the route lacks is a 404 there,
    /// not a 405 claiming the resource exists.
    pub fn names_a_resource(&self, path: &str) -> bool {
        let Some(route) = self.route(path) else {
            return false;
        };
        route
            .segments
            .iter()
            .zip(segments(path))
            .all(|(segment, part)| match segment {
                Segment::Param(name) if route.uuid_params.contains(name) => {
                    percent_decoded(part).is_some_and(|p| uuid::Uuid::parse_str(&p).is_ok())
                }
                Segment::Param(_) | Segment::Literal(_) => true,
            })
    }

    /// The methods a path allows (for `Allow`), or `None` for an unknown path.
    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let route = self.route(path)?;
        let mut methods: Vec<&str> = route.methods.iter().map(|(m, _)| m.as_str()).collect();
        methods.sort_unstable();
        Some(methods.join(", "))
    }

    /// The name of the `index`-th path parameter of the route matching `path`
    /// (poem-openapi reports path parameters by position, as `param0`, `param1` …).
    pub fn path_param_name(&self, path: &str, index: usize) -> Option<String> {
        self.route(path)?
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(name) => Some(name.clone()),
                Segment::Literal(_) => None,
            })
            .nth(index)
    }

    /// What a query parameter must be, in words, from its schema.
    pub fn query_param_rule(&self, path: &str, name: &str) -> Option<String> {
        let (_, schema) = self.route(path)?.query.iter().find(|(n, _)| n == name)?;
        let schema = resolve(schema, &self.schemas);
        let kind = article(schema.ty);
        Some(match (schema.minimum, schema.maximum) {
            (Some(min), Some(max)) => format!("must be {kind} from {min} to {max}"),
            (Some(min), None) => format!("must be {kind} of at least {min}"),
            (None, Some(max)) => format!("must be {kind} of at most {max}"),
            (None, None) => format!("must be {kind}"),
        })
    }

    /// Every problem of `body` against the request schema of `method path`, as
    /// `(field, message)` pairs; `body` names a body that is not a JSON object at all.
    /// It is only asked once the framework has refused the body, so it always answers
    /// something: an object with no field to blame gets one `body` entry.
    pub fn body_errors(&self, method: &str, path: &str, body: &[u8]) -> Vec<(String, String)> {
        let schema = self
            .route(path)
            .and_then(|r| r.methods.iter().find(|(m, _)| m.as_str() == method))
            .and_then(|(_, s)| s.as_ref());
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let msg = if body.is_empty() {
                    "a JSON body is required".to_owned()
                } else {
                    format!(
                        "is not valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    )
                };
                return vec![("body".into(), msg)];
            }
        };
        let Some(schema) = schema else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        self.check(&value, schema, "", &mut errors);
        if errors.is_empty() {
            errors.push(("body".into(), "does not match the expected schema".into()));
        }
        errors
    }

    fn check(
        &self,
        value: &Value,
        schema: &MetaSchemaRef,
        at: &str,
        errors: &mut Vec<(String, String)>,
    ) {
        let schema = resolve(schema, &self.schemas);
        let here = if at.is_empty() { "body" } else { at };
        let type_ok = match (schema.ty, value) {
            (_, Value::Null) => schema.nullable || schema.ty.is_empty(),
            ("string", v) => v.is_string(),
            ("integer", v) => v.is_i64() || v.is_u64(),
            ("number", v) => v.is_number(),
            ("boolean", v) => v.is_boolean(),
            ("array", v) => v.is_array(),
            ("object", v) => v.is_object(),
            _ => true,
        };
        if !type_ok {
            let what = match value {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            };
            errors.push((
                here.to_owned(),
                format!("must be {}, not {what}", article(schema.ty)),
            ));
            return;
        }
        if let Some(s) = value.as_str() {
            let chars = s.chars().count();
            if let Some(max) = schema.max_length.filter(|max| chars > *max) {
                errors.push((here.to_owned(), format!("must be at most {max} characters")));
            }
            if let Some(min) = schema.min_length.filter(|min| chars < *min) {
                errors.push((
                    here.to_owned(),
                    format!("must be at least {min} characters"),
                ));
            }
        }
        if let Some(obj) = value.as_object() {
            for (name, prop) in &schema.properties {
                let field = if at.is_empty() {
                    (*name).to_owned()
                } else {
                    format!("{at}.{name}")
                };
                match obj.get(*name) {
                    None if schema.required.contains(name) => {
                        errors.push((field, "is required".into()));
                    }
                    None => {}
                    Some(v) => self.check(v, prop, &field, errors),
                }
            }
        }
    }
}

impl Default for RouteIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// The schema that admits anything.
static ANY: MetaSchema = MetaSchema::ANY;

/// The schema `schema` stands for (an unknown name: [`ANY`]).
fn resolve<'a>(
    schema: &'a MetaSchemaRef,
    schemas: &'a BTreeMap<String, MetaSchema>,
) -> &'a MetaSchema {
    match schema {
        MetaSchemaRef::Inline(schema) => schema,
        MetaSchemaRef::Reference(name) => schemas.get(name).unwrap_or(&ANY),
    }
}

/// A path segment with its `%XX` escapes decoded, as the router hands parameters to the
/// handlers; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decoded(segment: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "object" | "array" => format!("an {kind}"),
        "" => "a value".to_owned(),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;
    use serde_json::{Map, json};

    use super::*;

    const ID: &str = "0193e5a2-1c3f-7000-8000-000000000001";

    #[test]
    fn the_route_template_prefers_literal_segments() {
        let index = &*SERVICE;
        assert_eq!(index.route_template("/api/auth/me"), Some("/api/auth/me"));
        assert_eq!(
            index.route_template(&format!("/api/{ID}/sessions")),
            Some("/api/{user_id}/sessions")
        );
        assert_eq!(index.route_template("/api/x"), Some("/api/{user_id}"));
        assert_eq!(index.route_template("/docs"), None);
    }

    #[test]
    fn allowed_methods_are_the_operations_of_the_path() {
        let index = &*SERVICE;
        assert_eq!(
            index.allowed_methods("/api/auth/login").as_deref(),
            Some("POST")
        );
        assert_eq!(
            index.allowed_methods("/api/abc/sessions").as_deref(),
            Some("DELETE, GET")
        );
        assert_eq!(index.allowed_methods("/api/nope/x/y/z"), None);
    }

    #[test]
    fn a_path_names_a_resource_only_when_its_uuid_parameters_are_uuids() {
        let index = &*SERVICE;
        for path in [
            "/api/auth/me".to_owned(),
            format!("/api/{ID}"),
            format!("/api/{}", ID.replace('-', "")),
            format!("/api/{}", ID.replace('0', "%30")),
            format!("/api/{ID}/sessions/{ID}"),
        ] {
            assert!(index.names_a_resource(&path), "{path}");
        }
        for path in [
            "/api/auth".to_owned(),
            "/api/users".to_owned(),
            "/api/%FF%FE".to_owned(),
            "/api/%zz".to_owned(),
            format!("/api/{ID}x"),
            format!("/api/{ID}/sessions/current"),
            format!("/api/me/sessions/{ID}"),
            "/nope".to_owned(),
        ] {
            assert!(!index.names_a_resource(&path), "{path}");
        }
    }

    #[test]
    fn path_parameters_are_named_by_position_and_query_rules_read_from_the_schema() {
        let index = &*SERVICE;
        let path = "/api/abc/sessions/def";
        assert_eq!(index.path_param_name(path, 0).as_deref(), Some("user_id"));
        assert_eq!(
            index.path_param_name(path, 1).as_deref(),
            Some("session_id")
        );
        assert_eq!(index.path_param_name(path, 2), None);
        assert_eq!(
            index
                .query_param_rule("/api/abc/auth-events", "limit")
                .as_deref(),
            Some("must be an integer from 1 to 100")
        );
    }

    #[test]
    fn every_missing_or_mistyped_field_is_named() {
        let errors = SERVICE.body_errors("POST", "/api/auth/login", br#"{"password": 5}"#);
        assert_eq!(
            errors,
            vec![
                ("email".to_owned(), "is required".to_owned()),
                (
                    "password".to_owned(),
                    "must be a string, not a number".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_named_body() {
        let errors = SERVICE.body_errors("POST", "/api/auth/login", b"{not json");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "body");
        let errors = SERVICE.body_errors("POST", "/api/auth/login", b"[1,2]");
        assert_eq!(
            errors[0],
            (
                "body".to_owned(),
                "must be an object, not an array".to_owned()
            )
        );
    }

    #[test]
    fn an_overlong_string_is_reported_with_its_limit() {
        let long = "a".repeat(255);
        let body = json!({"email": long, "password": 1}).to_string();
        let errors = SERVICE.body_errors("POST", "/api/auth/login", body.as_bytes());
        assert_eq!(
            errors,
            vec![
                (
                    "email".to_owned(),
                    "must be at most 254 characters".to_owned()
                ),
                (
                    "password".to_owned(),
                    "must be a string, not a number".to_owned()
                ),
            ]
        );
    }

    /// The index the app builds.
    static SERVICE: LazyLock<RouteIndex> = LazyLock::new(RouteIndex::new);

    const SIGNUP: &str = "/api/auth/signup";
    const CATCH_ALL: &str = "does not match the expected schema";

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,10}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("email|password|[a-z]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Raw bytes, JSON text of any value, or JSON text cut short.
    fn any_body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            any_json().prop_map(|v| v.to_string().into_bytes()),
            (any_json(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
                let mut text = v.to_string().into_bytes();
                text.truncate(at.index(text.len() + 1));
                text
            }),
        ]
    }

    proptest! {
        #[test]
        fn body_is_named_alone_for_a_non_object_and_only_as_the_catch_all_for_an_object(
            body in any_body()
        ) {
            let errors = SERVICE.body_errors("POST", SIGNUP, &body);
            let named_body: Vec<&str> = errors
                .iter()
                .filter(|(field, _)| field == "body")
                .map(|(_, message)| message.as_str())
                .collect();
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(_)) => {
                    // Only reached after the framework refused the body: when no field is
                    // to blame, `body` is named by the catch-all, and then alone.
                    let catch_all = [("body".to_owned(), CATCH_ALL.to_owned())];
                    prop_assert!(named_body.is_empty() || errors == catch_all, "{:?}", errors);
                    prop_assert!(!errors.is_empty());
                }
                _ => {
                    prop_assert_eq!(errors.len(), 1, "{:?}", errors);
                    prop_assert_eq!(named_body.len(), 1, "{:?}", errors);
                    prop_assert_ne!(named_body[0], CATCH_ALL);
                }
            }
        }

        #[test]
        fn an_object_with_string_email_and_password_has_no_field_errors_at_signup(
            email in any::<String>(),
            password in any::<String>(),
            extra in prop::collection::btree_map("[a-z_]{1,8}", any_json(), 0..4),
        ) {
            let mut object: Map<String, Value> = extra.into_iter().collect();
            object.insert("email".into(), Value::from(email));
            object.insert("password".into(), Value::from(password));
            let body = Value::Object(object).to_string();
            let errors = SERVICE.body_errors("POST", SIGNUP, body.as_bytes());
            prop_assert_eq!(errors, vec![("body".to_owned(), CATCH_ALL.to_owned())]);
        }
    }
}
