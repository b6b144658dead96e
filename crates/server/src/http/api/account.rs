//! `/v1/auth/*` account maintenance: email verification, password reset and change.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use protekt_api_types as api;

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, ApiProject, Bearer, Client};
use crate::http::user_json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/password-reset", post(password_reset_request))
        .route(
            "/v1/auth/password-reset/confirm",
            post(password_reset_confirm),
        )
        .route("/v1/auth/change-password", post(password_change))
        .route("/v1/auth/verify-email", post(email_verify))
        .route("/v1/auth/verify-email/send", post(email_verification_send))
}

/// Email a password-reset link. The answer is the same whether or not the address has an
/// account.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "account", request_body = api::EmailLinkRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request (email, or a redirectUrl that is not an absolute http(s) URL)"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (a redirectUrl the project does not allow)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited"),
    ))]
pub async fn password_reset_request(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::EmailLinkRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .account
        .request_password_reset(&project, &body.email, body.redirect_url.as_deref(), &client)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Set a new password with the token from the reset email. Every session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "account", request_body = api::PasswordResetConfirmRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 422, body = api::ErrorBody, description = "weak_password"),
        (status = 401, body = api::ErrorBody, description = "invalid_token (unknown, used or expired)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (token guesses from one end-user address)"),
        (status = 503, body = api::ErrorBody, description = "server_busy (the rate limiter's Redis is unreachable)"),
    ))]
pub async fn password_reset_confirm(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::PasswordResetConfirmRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .account
        .confirm_password_reset(&project, &body.reset_token, &body.new_password, &client)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Change the password of the access token's user; the user's other sessions end.
#[utoipa::path(post, path = "/v1/auth/change-password", tag = "account", request_body = api::ChangePasswordRequest,
    security(("apiKey" = [], "bearer" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 422, body = api::ErrorBody, description = "weak_password"),
        (status = 401, body = api::ErrorBody, description = "invalid_credentials (wrong current password), invalid_token"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (guesses at the current password)"),
        (status = 503, body = api::ErrorBody, description = "server_busy (the rate limiter's Redis is unreachable)"),
    ))]
pub async fn password_change(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<api::ChangePasswordRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .account
        .change_password(&project, &token, &body.current_password, &body.new_password)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Verify an email address with the token from the verification email.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "account", request_body = api::TokenRequest,
    security(("apiKey" = [])),
    responses((status = 200, body = api::UserResponse), (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (token guesses from one end-user address)"),
        (status = 503, body = api::ErrorBody, description = "server_busy (the rate limiter's Redis is unreachable)")))]
pub async fn email_verify(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::TokenRequest>,
) -> ApiResult<Json<api::UserResponse>> {
    let (user, _) = state
        .account
        .verify_email(&project, &body.token, &client)
        .await?;
    Ok(Json(api::UserResponse {
        user: user_json(&user),
    }))
}

/// Send (again) a verification email. Same answer whether or not the address has an account.
#[utoipa::path(post, path = "/v1/auth/verify-email/send", tag = "account", request_body = api::EmailLinkRequest,
    security(("apiKey" = [])),
    responses((status = 200, body = api::OkResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request (email, or a redirectUrl that is not an absolute http(s) URL)"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (a redirectUrl the project does not allow)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited")))]
pub async fn email_verification_send(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::EmailLinkRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .account
        .request_verification(&project, &body.email, body.redirect_url.as_deref(), &client)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}
