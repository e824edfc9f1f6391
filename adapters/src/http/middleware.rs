//! The outermost layer: request id, the 64 KiB body cap, and the envelope for every
//! error that did not come from a handler (framework errors, panics).
//!
//! The body is read here, up to the cap, before anything else sees it: that refuses
//! oversized bodies whether or not they declare a `Content-Length` (chunked uploads
//! too), and keeps the bytes so a body that fails to parse can be checked field by field
//! against the spec.

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::error::ReadBodyError;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use tracing::Instrument as _;

use application::ports::LimitedAction;
use application::{AdmitError, AuthUseCases};

use super::DOC_PATHS;
use super::client_ip::{ClientIp, TrustedProxies, caller, resolve_client_ip};
use super::envelope::{ApiError, ErrorCode, FieldError};
use super::request_id;
use super::spec_index::SpecIndex;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the outermost layer needs.
#[derive(Clone)]
pub struct Layer {
    /// Routes and schemas from the spec.
    pub index: Arc<SpecIndex>,
    /// Origins allowed by CORS.
    pub cors_origins: Arc<Vec<String>>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// The use cases (for the per-IP limit).
    pub service: Arc<dyn AuthUseCases>,
    /// How long a body may take to arrive, once the headers have.
    pub body_read_timeout: Duration,
    /// The request's deadline once its body is in (see [`handle`]).
    pub request_timeout: Duration,
}

/// `inner` wrapped in the request-id, client-IP, CORS, per-IP-limit, body-cap and
/// error-envelope layer: the outermost endpoint of the app.
///
/// A struct rather than `EndpointExt::around`: every request borrows the layer's parts
/// instead of cloning its `Arc`s (shared by both runtime threads, each clone is a
/// contended atomic) — this runs on every request, the authenticated hot path included.
pub struct Envelope<E> {
    inner: E,
    layer: Layer,
}

/// Wraps `ep` in the [`Envelope`].
pub fn envelope_layer<E: Endpoint>(ep: E, layer: Layer) -> Envelope<E> {
    Envelope { inner: ep, layer }
}

impl<E: Endpoint> Endpoint for Envelope<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Layer {
            index,
            cors_origins,
            trusted_proxies,
            service,
            body_read_timeout,
            request_timeout,
        } = &self.layer;
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        let ip = resolve_client_ip(peer, req.headers(), trusted_proxies);
        req.extensions_mut().insert(ClientIp(ip));
        let incoming = req
            .headers()
            .get(request_id::HEADER)
            .and_then(|v| v.to_str().ok());
        let id = request_id::choose(incoming);
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| cors_origins.iter().any(|allowed| allowed == o))
            .map(str::to_owned);
        let is_preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let started = Instant::now();
        let method = req.method().clone();
        // The URI shares its buffer: cloning it copies no path.
        let uri = req.uri().clone();
        // Every line logged while serving the request carries its id.
        let span = tracing::info_span!("request", request_id = %id);
        let mut resp = match (&origin, is_preflight) {
            (Some(_), true) => preflight(req.uri().path(), index),
            _ => {
                request_id::scope(
                    id.clone(),
                    limited(
                        &self.inner,
                        req,
                        index,
                        service.as_ref(),
                        Timeouts {
                            body_read: *body_read_timeout,
                            request: *request_timeout,
                        },
                    ),
                )
                .instrument(span.clone())
                .await
            }
        };
        // A path that names no resource is logged as outside the API, like its 404 says.
        let route = index.route_template(uri.path()).filter(|_| {
            resp.status() != StatusCode::NOT_FOUND || index.names_a_resource(uri.path())
        });
        span.in_scope(|| access_log(&method, route, resp.status(), started));
        if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
            let headers = resp.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
        }
        if !cors_origins.is_empty() {
            resp.headers_mut()
                .append(header::VARY, HeaderValue::from_static("origin"));
        }
        if let Ok(value) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(request_id::HEADER, value);
        }
        Ok(resp)
    }
}

/// The response headers browser code may read: the request id (to quote in a support
/// request), the limit's state and when to retry, and the 401 challenge.
const EXPOSED_HEADERS: &str = "x-request-id, retry-after, www-authenticate, ratelimit-limit, \
ratelimit-remaining, ratelimit-reset";

/// The request headers a browser may send: the two the API reads, and the client's own
/// request id (kept when it is a UUID).
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, X-Request-ID";

/// One line per request at `info`, under the target `access`: method, route template
/// (the path itself only for paths outside the API, such as `/docs`), status and
/// latency; inside the request's span, so it carries the request id. Never the query, a
/// header or the body.
fn access_log(method: &Method, route: Option<&str>, status: StatusCode, started: Instant) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "access",
        method = %method,
        route = route.unwrap_or("(outside the API)"),
        status = status.as_u16(),
        latency_ms = (latency_ms * 1000.0).round() / 1000.0,
        "request"
    );
}

/// The answer to a CORS preflight from a listed origin: the route's own methods (from
/// the spec) and the request headers of [`ALLOWED_HEADERS`]. Origins not listed get no CORS
/// headers at all — their requests are served (or refused) as if CORS did not exist,
/// and the browser enforces the rest.
fn preflight(path: &str, index: &SpecIndex) -> Response {
    let methods = index
        .allowed_methods(path)
        .unwrap_or_else(|| "GET, POST, PUT, DELETE".to_owned());
    let mut resp = Response::builder().status(StatusCode::NO_CONTENT).finish();
    let headers = resp.headers_mut();
    if let Ok(methods) = HeaderValue::from_str(&methods) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(600));
    resp
}

/// How long a request may take: its body to arrive, then the rest of it.
#[derive(Clone, Copy)]
struct Timeouts {
    body_read: Duration,
    request: Duration,
}

/// Signup and login count against their per-IP limit before anything else of the
/// request is looked at — so malformed and failed requests count too — and carry the
/// limit's state in `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
async fn limited<E: Endpoint>(
    ep: &E,
    req: Request,
    index: &SpecIndex,
    service: &dyn AuthUseCases,
    timeouts: Timeouts,
) -> Response {
    let action = match (req.method(), req.uri().path()) {
        (&Method::POST, "/api/auth/signup") => Some(LimitedAction::SignUp),
        (&Method::POST, "/api/auth/login") => Some(LimitedAction::LogIn),
        _ => None,
    };
    let Some(action) = action else {
        return handle(ep, req, index, timeouts).await;
    };
    let (mut resp, status) = match service.admit(action, &caller(&req)).await {
        Ok(status) => (handle(ep, req, index, timeouts).await, status),
        Err(AdmitError::Limited {
            retry_after_secs,
            status,
        }) => (
            ApiError::rate_limited(retry_after_secs).into_response(),
            Some(status),
        ),
        Err(AdmitError::Unexpected(err)) => (ApiError::unexpected(&err).into_response(), None),
    };
    if let Some(status) = status {
        let headers = resp.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(status.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(status.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(status.reset_secs));
    }
    resp
}

/// The body read (up to the cap, within its timeout), then the endpoint within the
/// request deadline.
///
/// The deadline bounds every wait of the request together — for a pool connection
/// (which may come more than once), a statement, a password hash — so that a database
/// that answers slowly or not at all gets the client a 503 with `Retry-After` in time,
/// never a hang. Dropping the endpoint's future rolls back a transaction it had open;
/// a write whose commit was already on its way may have been stored.
async fn handle<E: Endpoint>(
    ep: &E,
    mut req: Request,
    index: &SpecIndex,
    timeouts: Timeouts,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return payload_too_large().into_response();
    }
    // A body known to be empty (no `Content-Length` or `Content-Length: 0` in HTTP/1,
    // `END_STREAM` on the headers in HTTP/2) has nothing to read, cap or keep; taking
    // it leaves the empty body in its place.
    let body = req.take_body();
    let bytes = if body.is_empty() {
        Default::default()
    } else {
        let read = tokio::time::timeout(timeouts.body_read, body.into_bytes_limit(MAX_BODY_BYTES));
        let Ok(read) = read.await else {
            return request_timeout();
        };
        match read {
            Ok(bytes) => {
                req.set_body(bytes.clone());
                bytes
            }
            Err(ReadBodyError::PayloadTooLarge) => return payload_too_large().into_response(),
            Err(_) => {
                return ApiError::validation(vec![FieldError {
                    field: "body".into(),
                    message: "could not be read".into(),
                }])
                .into_response();
            }
        }
    };
    let method = req.method().clone();
    // The URI shares its buffer: cloning it copies no path.
    let uri = req.uri().clone();
    match tokio::time::timeout(timeouts.request, ep.call(req)).await {
        Ok(Ok(resp)) => resp.into_response(),
        Ok(Err(err)) => framework_error(err, &method, uri.path(), &bytes, index).into_response(),
        Err(_) => {
            tracing::warn!(
                request_id = %request_id::current(),
                deadline = ?timeouts.request,
                "request deadline passed"
            );
            ApiError::unavailable(DEADLINE_RETRY_AFTER_SECS).into_response()
        }
    }
}

/// How long a client is told to wait after its request ran out of time: as long as
/// after a database fault, which is what a request waits on.
const DEADLINE_RETRY_AFTER_SECS: u64 = 2;

/// A body that did not arrive in time: 408 in the envelope, and the connection closed
/// (whatever of the body is still coming would be read as the next request).
fn request_timeout() -> Response {
    let mut resp = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        "The request body did not arrive in time",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "Resource not found",
    )
}

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        "Payload too large",
    )
}

/// Maps an error the framework raised to the envelope. Errors that already are a
/// response (a handler's typed error, the auth extractor's 401) pass through.
fn framework_error(
    err: poem::Error,
    method: &Method,
    path: &str,
    body: &[u8],
    index: &SpecIndex,
) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let api_error = if err.is::<ParseRequestPayloadError>() {
        let fields = index
            .body_errors(method.as_str(), path, body)
            .into_iter()
            .map(|(field, message)| FieldError { field, message })
            .collect();
        ApiError::validation(fields)
    } else if let Some(e) = err.downcast_ref::<ParsePathError>() {
        let field = e
            .name
            .strip_prefix("param")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| index.path_param_name(path, n))
            .unwrap_or_else(|| e.name.to_owned());
        ApiError::validation(vec![FieldError {
            field,
            // Every path parameter of this API is a UUID.
            message: "is not a valid UUID".into(),
        }])
    } else if let Some(e) = err.downcast_ref::<ParseParamError>() {
        ApiError::validation(vec![FieldError {
            field: e.name.to_owned(),
            message: index
                .query_param_rule(path, e.name)
                .unwrap_or_else(|| "is not valid".into()),
        }])
    } else if err.is::<ContentTypeError>() {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Unsupported media type",
        )
    } else if err.is::<AuthorizationError>() {
        ApiError::unauthorized(ErrorCode::AuthMissing, "Authentication required", false)
    } else {
        match err.status() {
            StatusCode::NOT_FOUND => not_found(),
            // The router matched the path's shape only: `GET /api/users` fits the template
            // `/api/{user_id}` (DELETE), but no user is called `users`. A 405 there would
            // claim that the resource exists and list methods for it; nothing exists.
            StatusCode::METHOD_NOT_ALLOWED
                if !index.names_a_resource(path) && !DOC_PATHS.contains(&path) =>
            {
                not_found()
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                let mut e = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    ErrorCode::MethodNotAllowed,
                    "Method not allowed",
                );
                // The document's paths are served with GET alone.
                e.allow = index
                    .allowed_methods(path)
                    .or_else(|| DOC_PATHS.contains(&path).then(|| "GET".to_owned()));
                e
            }
            StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Unsupported media type",
            ),
            status if status.is_client_error() => ApiError::validation(vec![FieldError {
                field: "request".into(),
                message: "is not valid".into(),
            }]),
            _ => {
                tracing::error!(request_id = %request_id::current(), error = %err, "framework error");
                ApiError::internal()
            }
        }
    };
    api_error.into_response()
}

/// The answer to a panic: the generic 500 envelope; the panic itself is logged.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(request_id = %request_id::current(), panic = %what, "handler panicked");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use poem::Body;
    use poem::endpoint::make;

    use super::*;

    fn index() -> SpecIndex {
        SpecIndex::new(&super::super::openapi_document())
    }

    const SHORT: Timeouts = Timeouts {
        body_read: Duration::from_secs(10),
        request: Duration::from_millis(100),
    };

    #[tokio::test]
    async fn a_request_past_its_deadline_gets_503_with_retry_after_instead_of_waiting() {
        // An endpoint that waits for a database that never answers.
        let ep = make(|_| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "late"
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/signup".parse().expect("uri"))
            .body(Body::from_string("{}".into()));
        let started = Instant::now();
        let resp = handle(&ep, req, &index(), SHORT).await;
        assert!(started.elapsed() < Duration::from_secs(60), "not a hang");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(DEADLINE_RETRY_AFTER_SECS))
        );
        let body: serde_json::Value =
            serde_json::from_slice(&resp.into_body().into_bytes().await.expect("body"))
                .expect("json");
        assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    }

    #[tokio::test]
    async fn a_request_within_its_deadline_is_answered_by_its_endpoint() {
        let ep = make(|_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            "done"
        });
        let req = Request::builder()
            .uri("/health".parse().expect("uri"))
            .finish();
        let resp = handle(&ep, req, &index(), SHORT).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.into_body().into_string().await.expect("body"), "done");
    }
}
