//! OAuth clients of a project (`/v1/projects/{id}/clients`, management token) and the calling
//! user's consents to third-party clients (`/v1/grants`, API key + the user's access token).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::clock::rfc3339;
use protekt_core::model::{ClientKind, NewClient, OAuthClient, ProjectId};

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{parse_json, ApiJson, ApiProject, Bearer, Management};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/projects/{id}/clients",
            get(clients_list).post(client_create),
        )
        .route(
            "/v1/projects/{id}/clients/{client_id}",
            get(client_get).delete(client_delete),
        )
        .route(
            "/v1/projects/{id}/clients/{client_id}/rotate-secret",
            post(client_rotate_secret),
        )
        .route("/v1/grants", get(grants_list))
        .route("/v1/grants/{client_id}", delete(grant_revoke))
}

fn client_json(c: &OAuthClient) -> api::Client {
    api::Client {
        client_id: c.id.to_string(),
        name: c.name.clone(),
        kind: match c.kind {
            ClientKind::Confidential => api::ClientType::Confidential,
            ClientKind::Public => api::ClientType::Public,
        },
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        grant_types: c
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        scopes: c.scopes.clone(),
        first_party: c.first_party,
        token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
        jwks: c.jwks.clone(),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

/// Register an OAuth client; a confidential client's secret is shown only this once.
#[utoipa::path(post, path = "/v1/projects/{id}/clients", tag = "clients", params(("id" = String, Path)),
    request_body = api::ClientCreateRequest, security(("managementToken" = [])),
    responses((status = 201, body = api::ClientCreated),
        (status = 400, body = api::ErrorBody, description = "invalid_request (the body breaks the schema)"),
        (status = 404, body = api::ErrorBody, description = "not_found"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (a redirect URI, scope, key, auth method or grant that cannot be used or does not fit the client)")))]
pub async fn client_create(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
    ApiJson(body): ApiJson<api::ClientCreateRequest>,
) -> ApiResult<(StatusCode, Json<api::ClientCreated>)> {
    let project = state.operator.project(&manager.0, &id).await?;
    let new = NewClient {
        name: body.name,
        kind: match body.kind {
            api::ClientType::Confidential => ClientKind::Confidential,
            api::ClientType::Public => ClientKind::Public,
        },
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        grant_types: body.grant_types,
        scopes: body.scopes,
        first_party: body.first_party,
        auth_method: body.token_endpoint_auth_method,
        jwks: body.jwks,
    };
    let (client, secret) = state.provider.clients().create(&project, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(api::ClientCreated {
            client: client_json(&client),
            client_secret: secret,
        }),
    ))
}

/// The project's OAuth clients.
#[utoipa::path(get, path = "/v1/projects/{id}/clients", tag = "clients", params(("id" = String, Path)),
    security(("managementToken" = [])),
    responses((status = 200, body = api::ClientList), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn clients_list(
    State(state): State<AppState>,
    manager: Management,
    Path(id): Path<ProjectId>,
) -> ApiResult<Json<api::ClientList>> {
    let project = state.operator.project(&manager.0, &id).await?;
    let clients = state.provider.clients().list(&project).await?;
    Ok(Json(api::ClientList {
        clients: clients.iter().map(client_json).collect(),
    }))
}

/// One OAuth client.
#[utoipa::path(get, path = "/v1/projects/{id}/clients/{client_id}", tag = "clients",
    params(("id" = String, Path), ("client_id" = String, Path)), security(("managementToken" = [])),
    responses((status = 200, body = api::Client), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn client_get(
    State(state): State<AppState>,
    manager: Management,
    Path((id, client_id)): Path<(ProjectId, String)>,
) -> ApiResult<Json<api::Client>> {
    let project = state.operator.project(&manager.0, &id).await?;
    let client = state.provider.clients().get(&project, &client_id).await?;
    Ok(Json(client_json(&client)))
}

/// Delete an OAuth client: its refresh tokens end and its client-credentials tokens stop
/// verifying (user access tokens it holds live out their short `accessTokenTtl`).
#[utoipa::path(delete, path = "/v1/projects/{id}/clients/{client_id}", tag = "clients",
    params(("id" = String, Path), ("client_id" = String, Path)), security(("managementToken" = [])),
    responses((status = 200, body = api::OkResponse), (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn client_delete(
    State(state): State<AppState>,
    manager: Management,
    Path((id, client_id)): Path<(ProjectId, String)>,
) -> ApiResult<Json<api::OkResponse>> {
    let project = state.operator.project(&manager.0, &id).await?;
    state
        .provider
        .clients()
        .delete(&project, &client_id)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Give a secret client a new secret (shown once); the old one keeps working for
/// `overlapSeconds` (default a day), so deployments can roll over.
#[utoipa::path(post, path = "/v1/projects/{id}/clients/{client_id}/rotate-secret", tag = "clients",
    params(("id" = String, Path), ("client_id" = String, Path)),
    request_body(content = Option<api::ClientSecretRotateRequest>, description = "Optional: no body keeps the old secret for a day."),
    security(("managementToken" = [])),
    responses((status = 200, body = api::ClientSecretRotated), (status = 404, body = api::ErrorBody, description = "not_found"),
        (status = 409, body = api::ErrorBody, description = "conflict (the client has no secret)")))]
pub async fn client_rotate_secret(
    State(state): State<AppState>,
    manager: Management,
    Path((id, client_id)): Path<(ProjectId, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<api::ClientSecretRotated>> {
    // The body is optional: `{}`, `null` or nothing keeps the old secret for a day.
    let body: api::ClientSecretRotateRequest =
        if body.trim_ascii().is_empty() || body.trim_ascii() == b"null" {
            api::ClientSecretRotateRequest::default()
        } else {
            parse_json(&body)?
        };
    let project = state.operator.project(&manager.0, &id).await?;
    let (secret, until) = state
        .provider
        .clients()
        .rotate_secret(&project, &client_id, body.overlap_seconds.unwrap_or(86_400))
        .await?;
    Ok(Json(api::ClientSecretRotated {
        client_secret: secret,
        previous_secret_expires_at: rfc3339(until),
    }))
}

/// The third-party clients the caller consented to, and for which scopes.
#[utoipa::path(get, path = "/v1/grants", tag = "clients", security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::GrantList), (status = 401, body = api::ErrorBody, description = "invalid_token")))]
pub async fn grants_list(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
) -> ApiResult<Json<api::GrantList>> {
    let grants = state.provider.grants(&project, &token).await?;
    Ok(Json(api::GrantList {
        grants: grants
            .into_iter()
            .map(|g| api::Grant {
                client_id: g.client_id.to_string(),
                name: g.client_name,
                scopes: g.scopes,
                created_at: rfc3339(g.created_at),
            })
            .collect(),
    }))
}

/// Withdraw a consent: the client's refresh tokens of the caller end, and it must ask again.
#[utoipa::path(delete, path = "/v1/grants/{client_id}", tag = "clients", params(("client_id" = String, Path)),
    security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::OkResponse), (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn grant_revoke(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
    Path(client_id): Path<String>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .provider
        .revoke_grant(&project, &token, &client_id)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}
