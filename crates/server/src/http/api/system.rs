//! Health, readiness, the per-project JWKS and the OpenAPI document. No API key needed.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_api_types::ErrorCode;

use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health_get))
        .route("/readyz", get(ready_get))
        .route("/p/{login_id}/.well-known/jwks.json", get(jwks_get))
        .route("/openapi.json", get(openapi_get))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = api::Health)))]
pub async fn health_get() -> Json<api::Health> {
    Json(api::Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, body = api::Health), (status = 503, body = api::ErrorBody, description = "server_busy")))]
pub async fn ready_get(State(state): State<AppState>) -> ApiResult<Json<api::Health>> {
    state
        .store
        .ping()
        .await
        .map_err(|_| ApiError::new(ErrorCode::ServerBusy, "the database is not reachable"))?;
    Ok(Json(api::Health {
        status: "ready".into(),
    }))
}

/// The project's public signing keys: the current key and recently retired ones.
#[utoipa::path(get, path = "/p/{login_id}/.well-known/jwks.json", tag = "system",
    params(("login_id" = String, Path, description = "The project's Login ID (lp_…)")),
    responses((status = 200, body = api::Jwks), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn jwks_get(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let keys = state
        .auth
        .tokens()
        .published_jwks(&login_id, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such project"))?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(api::Jwks {
            keys: keys.as_ref().clone(),
        }),
    ))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_get() -> impl IntoResponse {
    Json(crate::http::openapi::document())
}
