//! `/v1/projects`: the operator's projects API, authorized by a management token (`mt_…`).

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::clock::rfc3339;
use protekt_core::model::{ApiKeyId, Project, ProjectId};

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, Management};

/// Settings carry email templates (up to 12 of 32768 characters), more than the 64 KiB every
/// other route accepts.
const SETTINGS_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/projects",
            get(projects_list)
                .post(project_create)
                .layer(DefaultBodyLimit::max(SETTINGS_BODY_BYTES)),
        )
        .route(
            "/v1/projects/{id}",
            get(project_get)
                .patch(project_update)
                .delete(project_delete)
                .layer(DefaultBodyLimit::max(SETTINGS_BODY_BYTES)),
        )
        .route("/v1/projects/{id}/api-keys", post(api_key_create))
        .route("/v1/projects/{id}/keys/rotate", post(signing_key_rotate))
        .route(
            "/v1/projects/{id}/api-keys/{key_id}",
            delete(api_key_delete),
        )
}

/// The wire form of a project; the sealed SMTP password is left out.
pub fn project_json(p: &Project) -> api::Project {
    let mut settings = serde_json::to_value(&p.settings).unwrap_or_default();
    if let Some(smtp) = settings.get_mut("smtp").and_then(|s| s.as_object_mut()) {
        let has_password = smtp.remove("passwordSealed").is_some();
        smtp.insert("passwordSet".into(), has_password.into());
    }
    api::Project {
        id: p.id.to_string(),
        login_id: p.login_id.clone(),
        name: p.name.clone(),
        settings,
        created_at: rfc3339(p.created_at),
        updated_at: rfc3339(p.updated_at),
    }
}

/// All projects.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", security(("managementToken" = [])),
    responses((status = 200, body = api::ProjectList), (status = 401, body = api::ErrorBody, description = "invalid_token")))]
pub async fn projects_list(
    State(state): State<AppState>,
    manager: Management,
) -> ApiResult<Json<api::ProjectList>> {
    let list = state.operator.list_projects(&manager.0).await?;
    Ok(Json(api::ProjectList {
        projects: list.iter().map(project_json).collect(),
    }))
}

/// The settings a request gives, as the JSON patch the operator applies (absent fields left out).
fn settings_patch(settings: Option<api::ProjectSettings>) -> ApiResult<Option<serde_json::Value>> {
    settings
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| protekt_core::error::Error::Internal(e.into()).into())
}

/// Create a project with its first API key (shown once) and signing key.
#[utoipa::path(post, path = "/v1/projects", tag = "projects", request_body = api::ProjectCreateRequest, security(("managementToken" = [])),
    responses((status = 201, body = api::ProjectCreated), (status = 422, body = api::ErrorBody, description = "value_not_allowed (settings that do not fit together)"),
        (status = 403, body = api::ErrorBody, description = "forbidden (a token limited to one project)")))]
pub async fn project_create(
    State(state): State<AppState>,
    manager: Management,
    ApiJson(body): ApiJson<api::ProjectCreateRequest>,
) -> ApiResult<(StatusCode, Json<api::ProjectCreated>)> {
    let created = state
        .operator
        .create_project(
            &manager.0,
            &body.name,
            settings_patch(body.settings)?.as_ref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::ProjectCreated {
            project: project_json(&created.project),
            api_key: created.api_key,
        }),
    ))
}

/// One project.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects", params(("id" = String, Path)), security(("managementToken" = [])),
    responses((status = 200, body = api::Project), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn project_get(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
) -> ApiResult<Json<api::Project>> {
    Ok(Json(project_json(
        &state.operator.project(&manager.0, &id).await?,
    )))
}

/// Rename a project or change its settings (merged at top level, validated as a whole).
#[utoipa::path(patch, path = "/v1/projects/{id}", tag = "projects", params(("id" = String, Path)), request_body = api::ProjectUpdateRequest,
    security(("managementToken" = [])),
    responses(
        (status = 200, body = api::Project),
        (status = 404, body = api::ErrorBody, description = "not_found"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (settings that do not fit together, signingAlg after creation)"),
    ))]
pub async fn project_update(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
    ApiJson(body): ApiJson<api::ProjectUpdateRequest>,
) -> ApiResult<Json<api::Project>> {
    let p = state
        .operator
        .update_project(
            &manager.0,
            &id,
            body.name.as_deref(),
            settings_patch(body.settings)?.as_ref(),
        )
        .await?;
    Ok(Json(project_json(&p)))
}

/// Delete a project with all its users, sessions and keys.
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = "projects", params(("id" = String, Path)), security(("managementToken" = [])),
    responses((status = 200, body = api::OkResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn project_delete(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
) -> ApiResult<Json<api::OkResponse>> {
    state.operator.delete_project(&manager.0, &id).await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Rotate the project's signing key: tokens are signed with a new key at once, on every node;
/// the previous key stays in the JWKS and keeps verifying the tokens it signed until they expire.
#[utoipa::path(post, path = "/v1/projects/{id}/keys/rotate", tag = "projects", params(("id" = String, Path)), security(("managementToken" = [])),
    responses((status = 200, body = api::SigningKeyRotated), (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn signing_key_rotate(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
) -> ApiResult<Json<api::SigningKeyRotated>> {
    let kid = state.operator.rotate_signing_key(&manager.0, &id).await?;
    Ok(Json(api::SigningKeyRotated { kid: kid.into() }))
}

/// Add an API key (shown once).
#[utoipa::path(post, path = "/v1/projects/{id}/api-keys", tag = "projects", params(("id" = String, Path)), security(("managementToken" = [])),
    responses((status = 201, body = api::ApiKeyCreated), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn api_key_create(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
) -> ApiResult<(StatusCode, Json<api::ApiKeyCreated>)> {
    let (id, api_key) = state.operator.create_api_key(&manager.0, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(api::ApiKeyCreated {
            id: id.into(),
            api_key,
        }),
    ))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/projects/{id}/api-keys/{key_id}", tag = "projects",
    params(("id" = String, Path), ("key_id" = String, Path)), security(("managementToken" = [])),
    responses((status = 200, body = api::OkResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn api_key_delete(
    State(state): State<AppState>,
    manager: Management,
    Path((id, key_id)): Path<(ProjectId, ApiKeyId)>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .operator
        .revoke_api_key(&manager.0, &id, &key_id)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}
