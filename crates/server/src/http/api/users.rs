//! `/v1/users`: a project's users, with its API key.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::model::UserId;
use protekt_core::users::{self, UserUpdate};
use serde::Deserialize;

use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiProject};
use crate::http::user_json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(users_list))
        .route(
            "/v1/users/{id}",
            get(user_get).patch(user_update).delete(user_delete),
        )
        .route("/v1/users/{id}/mfa/unlock", post(user_mfa_unlock))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    cursor: Option<String>,
    /// An email prefix, or an id prefix (`usr_…`); case-insensitive.
    #[param(max_length = 254)]
    search: Option<String>,
}

impl ListParams {
    /// The page size, a number if given (its range is a rule of the listing).
    fn limit(&self) -> Result<Option<i64>, ApiError> {
        let not_a_number = |_| ApiError::invalid("limit", "limit must be an integer from 1 to 100");
        self.limit
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(not_a_number)
    }
}

/// List users, oldest first (or by the searched key), in pages.
#[utoipa::path(get, path = "/v1/users", tag = "users", params(ListParams), security(("apiKey" = [])),
    responses(
        (status = 200, body = api::UserList),
        (status = 400, body = api::ErrorBody, description = "invalid_request (limit, cursor, search)"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (a cursor that is not this listing's)"),
        (status = 401, body = api::ErrorBody, description = "invalid_api_key"),
    ))]
pub async fn users_list(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<api::UserList>> {
    let Query(p) = params.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let (cursor, search) = (p.cursor.as_deref(), p.search.as_deref());
    let page = users::list(&state.store, &project, p.limit()?, cursor, search).await?;
    Ok(Json(api::UserList {
        users: page.users.iter().map(user_json).collect(),
        next_cursor: page.next_cursor,
        has_more: page.has_more,
    }))
}

/// Get one user.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path)), security(("apiKey" = [])),
    responses((status = 200, body = api::UserResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn user_get(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Path(id): Path<UserId>,
) -> ApiResult<Json<api::UserResponse>> {
    let user = users::get(&state.store, &project, &id).await?;
    Ok(Json(api::UserResponse {
        user: user_json(&user),
    }))
}

/// Update a user's email, metadata (merged; `null` removes a key) or disabled flag.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = api::UserUpdateRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::UserResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request"),
        (status = 404, body = api::ErrorBody, description = "not_found"),
        (status = 409, body = api::ErrorBody, description = "email_taken"),
    ))]
pub async fn user_update(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Path(id): Path<UserId>,
    ApiJson(body): ApiJson<api::UserUpdateRequest>,
) -> ApiResult<Json<api::UserResponse>> {
    let update = UserUpdate {
        email: body.email,
        metadata: body.metadata,
        disabled: body.disabled,
    };
    let user = users::update(&state.store, &state.clock, &project, &id, update).await?;
    Ok(Json(api::UserResponse {
        user: user_json(&user),
    }))
}

/// Delete a user with all their sessions and tokens; their tokens stop verifying at once.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", params(("id" = String, Path)), security(("apiKey" = [])),
    responses((status = 200, body = api::OkResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn user_delete(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Path(id): Path<UserId>,
) -> ApiResult<Json<api::OkResponse>> {
    users::delete(&state.store, &state.clock, &project, &id).await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Unlock a user's authenticator-app and SMS codes after 100 wrong ones in a row (`mfa_locked`),
/// and clear the back-off: support's answer to a user without backup codes, once they proved
/// who they are some other way.
#[utoipa::path(post, path = "/v1/users/{id}/mfa/unlock", tag = "users", params(("id" = String, Path)), security(("apiKey" = [])),
    responses((status = 200, body = api::OkResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn user_mfa_unlock(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Path(id): Path<UserId>,
) -> ApiResult<Json<api::OkResponse>> {
    state.mfa.unlock(&project, &id).await?;
    Ok(Json(api::OkResponse { ok: true }))
}
