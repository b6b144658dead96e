//! `/v1/management-tokens`: list, create and revoke the operator's management tokens
//! (SECURITY P7, AS7). Only a token for every project may manage tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::clock::rfc3339;
use protekt_core::model::{ManagementToken, ManagementTokenId, ProjectId};

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, Management};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/management-tokens",
            get(management_tokens_list).post(management_token_create),
        )
        .route(
            "/v1/management-tokens/{id}",
            delete(management_token_revoke),
        )
}

fn token_json(t: &ManagementToken) -> api::ManagementToken {
    api::ManagementToken {
        id: t.id.to_string(),
        name: t.name.clone(),
        project_id: t.project_id.as_ref().map(ToString::to_string),
        created_at: rfc3339(t.created_at),
        expires_at: t.expires_at.map(rfc3339),
        last_used_at: t.last_used_at.map(rfc3339),
    }
}

/// The live (unrevoked) management tokens, newest first; expired ones show their expiry.
#[utoipa::path(get, path = "/v1/management-tokens", tag = "projects", security(("managementToken" = [])),
    responses((status = 200, body = api::ManagementTokenList), (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 403, body = api::ErrorBody, description = "forbidden (a token limited to one project)")))]
pub async fn management_tokens_list(
    State(state): State<AppState>,
    manager: Management,
) -> ApiResult<Json<api::ManagementTokenList>> {
    let list = state.operator.list_tokens(&manager.0).await?;
    Ok(Json(api::ManagementTokenList {
        management_tokens: list.iter().map(token_json).collect(),
    }))
}

/// Create a management token (shown once), for every project or one, that expires.
#[utoipa::path(post, path = "/v1/management-tokens", tag = "projects", request_body = api::ManagementTokenCreateRequest,
    security(("managementToken" = [])),
    responses((status = 201, body = api::ManagementTokenCreated),
        (status = 400, body = api::ErrorBody, description = "invalid_request (name, projectId, expiresIn)"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (no project with this projectId)"),
        (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 403, body = api::ErrorBody, description = "forbidden (a token limited to one project)")))]
pub async fn management_token_create(
    State(state): State<AppState>,
    manager: Management,
    ApiJson(body): ApiJson<api::ManagementTokenCreateRequest>,
) -> ApiResult<(StatusCode, Json<api::ManagementTokenCreated>)> {
    let ttl_ms = body
        .expires_in
        .map(|secs| i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX));
    let project = body.project_id.map(ProjectId::from);
    let (info, token) = (state.operator)
        .create_token(&manager.0, &body.name, project.as_ref(), ttl_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::ManagementTokenCreated {
            token,
            management_token: token_json(&info),
        }),
    ))
}

/// Revoke a management token; it stops working at once.
#[utoipa::path(delete, path = "/v1/management-tokens/{id}", tag = "projects", params(("id" = String, Path)),
    security(("managementToken" = [])),
    responses((status = 200, body = api::OkResponse), (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 403, body = api::ErrorBody, description = "forbidden (a token limited to one project)"),
        (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn management_token_revoke(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ManagementTokenId>,
) -> ApiResult<Json<api::OkResponse>> {
    state.operator.revoke_token(&manager.0, &id).await?;
    Ok(Json(api::OkResponse { ok: true }))
}
