//! The HTTP adapter: poem-openapi operations (one response enum each, built from the use
//! case's error), the error envelope for framework errors, and the OpenAPI document with
//! its post-processing step.
//!
//! DTOs stay private to this module tree. The document served at `/openapi.json`,
//! `/openapi.yaml` and in Swagger UI at `/docs`, and printed by `gatehouse openapi`, all
//! come from [`openapi_document`], so they cannot drift apart.

mod account_api;
mod auth_api;
mod client_ip;
mod envelope;
mod failures;
mod middleware;
mod open_set;
mod ops_api;
mod request_id;
mod route_index;
mod security;
pub mod server;
mod spec;
mod types;

use std::sync::Arc;
use std::time::Duration;

use application::AuthUseCases;
use poem::endpoint::BoxEndpoint;
use poem::endpoint::make_sync;
use poem::middleware::CatchPanic;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request, Response, Route, get};

pub use client_ip::{TrustedProxies, resolve_client_ip};
pub use envelope::{ApiError, ErrorCode};
pub use middleware::MAX_BODY_BYTES;
pub use ops_api::Readiness;
/// The routes and request-body checker from the operations' metadata, public so that the
/// fuzz targets in `fuzz/` can reach it; the app itself builds one in [`app`].
pub use route_index::RouteIndex;
pub use spec::{openapi_document, openapi_json, openapi_yaml};

/// What the HTTP layer needs from the rest of the service.
pub struct HttpDeps {
    /// The use cases.
    pub service: Arc<dyn AuthUseCases>,
    /// The readiness probe.
    pub readiness: Arc<dyn Readiness>,
    /// Origins allowed by CORS (empty: no CORS headers at all).
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// How long a request's body may take to arrive, once its headers have.
    pub body_read_timeout: Duration,
    /// How long a request may take once its body is in; then 503 with `Retry-After`.
    pub request_timeout: Duration,
}

/// The whole HTTP application; an error when the OpenAPI document cannot be made.
pub fn app(deps: HttpDeps) -> anyhow::Result<impl Endpoint<Output = Response>> {
    let service = spec::api_service();
    // Generated once; the JSON and YAML renderings are of this very document.
    let document = openapi_document()?;
    let json = spec::render_json(&document)?;
    let yaml = spec::render_yaml(&document)?;
    // Swagger UI embeds the document; swap poem-openapi's raw one for ours.
    let compact = document.to_string();
    let html = service
        .swagger_ui_html()
        .replacen(&service.spec(), &compact, 1);
    let index = Arc::new(RouteIndex::new());

    let docs = Route::new()
        .at("/docs", get(make_sync(move |_| Html(html.clone()))))
        .at(
            "/openapi.json",
            get(make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(json.clone())
            })),
        )
        .at(
            "/openapi.yaml",
            get(make_sync(move |_| {
                Response::builder()
                    .content_type("application/yaml")
                    .body(yaml.clone())
            })),
        );
    let routes = Routes {
        api: service.into_endpoint(),
        docs,
        service: Arc::clone(&deps.service),
        readiness: deps.readiness,
    }
    .with(CatchPanic::new().with_handler(middleware::panic_response));
    Ok(middleware::envelope_layer(
        routes,
        middleware::Layer {
            index,
            cors_origins: Arc::new(deps.cors_origins),
            trusted_proxies: Arc::new(deps.trusted_proxies),
            service: deps.service,
            body_read_timeout: deps.body_read_timeout,
            request_timeout: deps.request_timeout,
        },
    ))
}

/// The paths served beside the operations: Swagger UI and the document.
const DOC_PATHS: [&str; 3] = ["/docs", "/openapi.json", "/openapi.yaml"];

/// The operations (poem-openapi's own router) and the document's three paths, with the
/// data the operations read. A `Route` nesting the operations at `/`, plus a `.data()`
/// layer per value, did the same with three more layers per request — the nest re-parsed
/// and re-allocated every request's URI — on the authenticated hot path.
struct Routes {
    api: BoxEndpoint<'static>,
    docs: Route,
    service: Arc<dyn AuthUseCases>,
    readiness: Arc<dyn Readiness>,
}

impl Endpoint for Routes {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        req.extensions_mut().insert(Arc::clone(&self.service));
        req.extensions_mut().insert(Arc::clone(&self.readiness));
        if DOC_PATHS.contains(&req.uri().path()) {
            self.docs.call(req).await
        } else {
            self.api.call(req).await
        }
    }
}

#[cfg(test)]
mod tests;
