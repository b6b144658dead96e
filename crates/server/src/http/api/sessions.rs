//! `/v1/sessions`: the calling user's sessions (API key + the user's access token).

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::clock::rfc3339;
use protekt_core::model::SessionId;

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{parse_json, ApiProject, Bearer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", get(sessions_list))
        .route("/v1/sessions/{id}", delete(session_revoke))
        .route("/v1/sessions/revoke-all", post(sessions_revoke_all))
}

/// The caller's live sessions, newest first; `current` marks the one asking.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::SessionList), (status = 401, body = api::ErrorBody, description = "invalid_token")))]
pub async fn sessions_list(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
) -> ApiResult<Json<api::SessionList>> {
    let (current, sessions) = state.auth.list_sessions(&project, &token).await?;
    Ok(Json(api::SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| api::Session {
                current: s.id == current,
                id: s.id.into(),
                created_at: rfc3339(s.created_at),
                last_active_at: rfc3339(s.last_active_at),
                expires_at: rfc3339(s.expires_at),
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    }))
}

/// End one of the caller's sessions. Another user's session id is `not_found`.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "sessions", params(("id" = String, Path)), security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::OkResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn session_revoke(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
    Path(id): Path<SessionId>,
) -> ApiResult<Json<api::OkResponse>> {
    state.auth.revoke_session(&project, &token, &id).await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// End all the caller's sessions, optionally keeping the current one.
#[utoipa::path(post, path = "/v1/sessions/revoke-all", tag = "sessions", request_body(content = Option<api::RevokeAllRequest>, description = "Optional: no body revokes every session."),
    security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::RevokeAllResponse), (status = 401, body = api::ErrorBody, description = "invalid_token")))]
pub async fn sessions_revoke_all(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
    body: axum::body::Bytes,
) -> ApiResult<Json<api::RevokeAllResponse>> {
    // The body is optional: `{}`, `null` or nothing at all means "revoke everything".
    let request: api::RevokeAllRequest =
        if body.trim_ascii().is_empty() || body.trim_ascii() == b"null" {
            Default::default()
        } else {
            parse_json(&body)?
        };
    let keep = request.keep_current.unwrap_or(false);
    let revoked_count = state
        .auth
        .revoke_all_sessions(&project, &token, keep)
        .await?;
    Ok(Json(api::RevokeAllResponse { revoked_count }))
}
