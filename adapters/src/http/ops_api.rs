//! `/health` (liveness, no I/O) and `/ready` (readiness: the database answers).

use std::sync::Arc;

use async_trait::async_trait;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::auth_api::ApiTags;
use super::envelope::{ApiError, ErrorEnvelope};
use super::failures::envelope_of;
use super::types::{HealthStatus, ReadyStatus, ServiceName};

/// Whether the service's dependencies answer.
#[async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// `true` when the database answers.
    async fn ready(&self) -> bool;
}

/// Liveness.
#[derive(Debug, Object)]
pub struct HealthResponse {
    /// Always `ok`.
    pub status: HealthStatus,
    /// `gatehouse`.
    pub service: ServiceName,
    /// The running version.
    #[oai(validator(pattern = r"^\d+\.\d+\.\d+", max_length = 64))]
    pub version: String,
}

/// Readiness.
#[derive(Debug, Object)]
pub struct ReadyResponse {
    /// Always `ready`.
    pub status: ReadyStatus,
}

/// `/health` answers.
#[derive(ApiResponse)]
pub enum HealthResult {
    /// The process is alive.
    #[oai(status = 200)]
    Ok(Json<HealthResponse>),
}

/// `/ready` answers.
#[derive(ApiResponse)]
pub enum ReadyResult {
    /// The database answers; the service can take traffic.
    #[oai(status = 200)]
    Ok(Json<ReadyResponse>),
    /// `SERVICE_UNAVAILABLE`: the database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

/// The operations endpoints.
pub struct OpsApi;

/// How long a load balancer is told to wait before asking `/ready` again.
const READY_RETRY_AFTER_SECS: u64 = 5;

#[OpenApi(tag = "ApiTags::Operations")]
impl OpsApi {
    /// Liveness
    ///
    /// 200 while the process runs; does no I/O, so a database outage does not make an
    /// orchestrator restart healthy instances.
    #[oai(path = "/health", method = "get", operation_id = "getHealth")]
    async fn health(&self) -> HealthResult {
        HealthResult::Ok(Json(HealthResponse {
            status: HealthStatus("ok".into()),
            service: ServiceName("gatehouse".into()),
            version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    /// Readiness
    ///
    /// 200 when the database answers a trivial query, else 503 in the error envelope.
    #[oai(path = "/ready", method = "get", operation_id = "getReadiness")]
    async fn ready(&self, readiness: Data<&Arc<dyn Readiness>>) -> ReadyResult {
        if readiness.ready().await {
            ReadyResult::Ok(Json(ReadyResponse {
                status: ReadyStatus("ready".into()),
            }))
        } else {
            ReadyResult::Unavailable(
                envelope_of(&ApiError::unavailable(READY_RETRY_AFTER_SECS)),
                READY_RETRY_AFTER_SECS,
            )
        }
    }
}
