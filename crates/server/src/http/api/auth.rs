//! `/v1/auth/*`: sign-up, login, logout, verify, refresh, revoke. Handlers only translate; the
//! rules are in `protekt_core::auth`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::signin::SignupInput;

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, ApiProject, Bearer, Client};
use crate::http::{auth_response, signed_in, user_json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/signup", post(auth_signup))
        .route("/v1/auth/login", post(auth_login))
        .route("/v1/auth/logout", post(auth_logout))
        .route("/v1/auth/verify", post(auth_verify))
        .route("/v1/auth/refresh", post(auth_refresh))
        .route("/v1/auth/revoke", post(auth_revoke))
        .route("/v1/auth/exchange", post(auth_exchange))
}

/// Create a user with email and password and sign them in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = api::SignupRequest,
    security(("apiKey" = [])),
    responses(
        (status = 201, body = api::AuthResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request"),
        (status = 422, body = api::ErrorBody, description = "weak_password"),
        (status = 401, body = api::ErrorBody, description = "invalid_api_key"),
        (status = 409, body = api::ErrorBody, description = "email_taken"),
        (status = 413, body = api::ErrorBody, description = "payload_too_large"),
        (status = 415, body = api::ErrorBody, description = "unsupported_media_type"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (sign-ups per end-user address), with retryAfter and Retry-After"),
        (status = 503, body = api::ErrorBody, description = "server_busy"),
    ))]
pub async fn auth_signup(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::SignupRequest>,
) -> ApiResult<(StatusCode, Json<api::AuthResponse>)> {
    let input = SignupInput {
        email: body.email,
        password: body.password,
        metadata: body.metadata,
        token_expiry: body.token_expiry,
        send_verification: body.send_verification.unwrap_or(false),
    };
    let (user, tokens) = state.signin.signup(&project, input, &client).await?;
    Ok((StatusCode::CREATED, Json(auth_response(&user, tokens))))
}

/// Sign in with email and password. Unknown email and wrong password answer alike.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = api::LoginRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::AuthResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request"),
        (status = 401, body = api::ErrorBody, description = "invalid_credentials, invalid_api_key, mfa_required (with mfaToken)"),
        (status = 403, body = api::ErrorBody, description = "user_disabled"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (per account and address, account, address or project; the same for unknown accounts), with retryAfter and Retry-After"),
        (status = 503, body = api::ErrorBody, description = "server_busy (the hash queue is full, or the rate limiter's Redis is unreachable)"),
    ))]
pub async fn auth_login(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::LoginRequest>,
) -> ApiResult<Json<api::AuthResponse>> {
    let outcome = state
        .signin
        .password(
            &project,
            &body.email,
            &body.password,
            body.token_expiry,
            &client,
        )
        .await?;
    signed_in(outcome)
}

/// End the session of the access token in `Authorization: Bearer`.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("apiKey" = [], "bearer" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 401, body = api::ErrorBody, description = "invalid_token, token_expired, invalid_api_key"),
    ))]
pub async fn auth_logout(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
) -> ApiResult<Json<api::OkResponse>> {
    state.auth.logout(&project, &token).await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Verify an access token: signature, claims and revocation. Returns the user and the claims;
/// for a client-credentials (M2M) token, `user` is null and `client` names the client.
#[utoipa::path(post, path = "/v1/auth/verify", tag = "auth", request_body = api::TokenRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::VerifyResponse),
        (status = 401, body = api::ErrorBody, description = "invalid_token, token_expired, invalid_api_key"),
        (status = 403, body = api::ErrorBody, description = "user_disabled"),
    ))]
pub async fn auth_verify(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    ApiJson(body): ApiJson<api::TokenRequest>,
) -> ApiResult<Json<api::VerifyResponse>> {
    let user_error = match state.auth.verify(&project, &body.token).await {
        Ok((user, claims)) => {
            return Ok(Json(api::VerifyResponse {
                user: Some(user_json(&user)),
                client: None,
                claims: claims_json(&claims),
            }))
        }
        Err(e) => e,
    };
    // Not a user's token: perhaps a client's (it has no `sid`).
    if !matches!(user_error, protekt_core::Error::InvalidToken) {
        return Err(user_error.into());
    }
    let (client, c) = state
        .provider
        .verify_client_token(&project, &body.token)
        .await
        .map_err(|e| match e {
            protekt_core::Error::TokenExpired => e,
            _ => user_error,
        })?;
    Ok(Json(api::VerifyResponse {
        user: None,
        client: Some(api::VerifiedClient {
            client_id: client.id.to_string(),
            name: client.name,
        }),
        claims: api::Claims {
            iss: c.iss,
            sub: c.sub,
            aud: c.aud,
            exp: c.exp,
            iat: c.iat,
            jti: c.jti,
            sid: None,
            amr: None,
            aal: None,
            email: None,
            email_verified: None,
            phone_number: None,
            phone_number_verified: None,
            client_id: Some(c.client_id),
            scope: Some(c.scope),
        },
    }))
}

/// The wire form of verified access-token claims.
fn claims_json(claims: &protekt_core::tokens::AccessClaims) -> api::Claims {
    api::Claims {
        iss: claims.iss.clone(),
        sub: claims.sub.to_string(),
        aud: claims.aud.clone(),
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti.clone(),
        sid: Some(claims.sid.to_string()),
        amr: Some(claims.amr.iter().map(|a| a.as_str().to_owned()).collect()),
        aal: Some(claims.aal.as_str().to_owned()),
        email: claims.email.clone(),
        email_verified: Some(claims.email_verified),
        phone_number: claims.phone_number.clone(),
        phone_number_verified: claims.phone_number_verified,
        client_id: claims.client_id.clone(),
        scope: claims.scope.clone(),
    }
}

/// Exchange a refresh token for a new pair. The refresh token rotates on every use.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = api::RefreshRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::RefreshResponse),
        (status = 401, body = api::ErrorBody, description = "invalid_token (unknown, ended or reused), token_expired"),
        (status = 403, body = api::ErrorBody, description = "user_disabled"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (unknown refresh tokens from one end-user address)"),
        (status = 503, body = api::ErrorBody, description = "server_busy (the rate limiter's Redis is unreachable)"),
    ))]
pub async fn auth_refresh(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::RefreshRequest>,
) -> ApiResult<Json<api::RefreshResponse>> {
    let (_, _, tokens) = state
        .auth
        .refresh(
            &project,
            &body.refresh_token,
            body.token_expiry,
            &client,
            None,
        )
        .await?;
    Ok(Json(api::RefreshResponse {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_in: tokens.expires_in,
    }))
}

/// Revoke an access token (it stops verifying at once) or a refresh token (its session ends).
/// Unknown tokens are accepted silently (RFC 7009).
#[utoipa::path(post, path = "/v1/auth/revoke", tag = "auth", request_body = api::TokenRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 401, body = api::ErrorBody, description = "invalid_api_key"),
    ))]
pub async fn auth_revoke(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    ApiJson(body): ApiJson<api::TokenRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state.auth.revoke(&project, &body.token).await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Redeem the `code` Universal Login handed to your redirect URL for the session's tokens.
/// A code works once, within 60 seconds; a second redemption ends the session it was issued
/// for.
#[utoipa::path(post, path = "/v1/auth/exchange", tag = "auth", request_body = api::ExchangeRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::AuthResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request"),
        (status = 401, body = api::ErrorBody, description = "invalid_token (unknown, used or expired code, a PKCE verifier that does not match or should not be there, another redirect URL), invalid_api_key"),
        (status = 403, body = api::ErrorBody, description = "user_disabled"),
    ))]
pub async fn auth_exchange(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    ApiJson(body): ApiJson<api::ExchangeRequest>,
) -> ApiResult<Json<api::AuthResponse>> {
    let (user, tokens) = state
        .universal
        .exchange(
            &project,
            &body.code,
            body.code_verifier.as_deref(),
            body.redirect_url.as_deref(),
            body.token_expiry,
        )
        .await?;
    Ok(Json(auth_response(&user, Some(tokens))))
}
