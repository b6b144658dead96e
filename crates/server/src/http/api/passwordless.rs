//! `/v1/auth/magic-link*` and `/v1/auth/otp*`: passwordless sign-in. Handlers only translate;
//! the rules are in `protekt_core::signin` (its `passwordless` module).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use protekt_api_types as api;
use protekt_core::model::Channel;

use crate::app::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiJson, ApiProject, Client};
use crate::http::signed_in;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/magic-link", post(magic_link_send))
        .route("/v1/auth/magic-link/verify", post(magic_link_verify))
        .route("/v1/auth/otp", post(otp_send))
        .route("/v1/auth/otp/verify", post(otp_verify))
}

/// Email a magic link. The same answer for every address; the email (a link to the hosted
/// page, and a 6-digit code) is sent in the background, to a known address, or to a new one
/// when the project's `passwordlessSignup` is on.
#[utoipa::path(post, path = "/v1/auth/magic-link", tag = "passwordless", request_body = api::MagicLinkRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request (email, or a redirectUrl that is not an absolute http(s) URL)"),
        (status = 401, body = api::ErrorBody, description = "invalid_api_key"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (a redirectUrl outside the project's allowed redirect URLs, or none given and the project has none)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (links to this address, or from this end-user address or project), with retryAfter and Retry-After"),
        (status = 503, body = api::ErrorBody, description = "server_busy"),
    ))]
pub async fn magic_link_send(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::MagicLinkRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .signin
        .send_magic_link(&project, &body.email, body.redirect_url.as_deref(), &client)
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Sign in with a magic link's token: the emailed one, or the one the hosted page added to the
/// redirect URL (valid 60 seconds). Either works once.
#[utoipa::path(post, path = "/v1/auth/magic-link/verify", tag = "passwordless", request_body = api::MagicLinkVerifyRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::AuthResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request"),
        (status = 401, body = api::ErrorBody, description = "invalid_token (unknown, used or expired), invalid_api_key, mfa_required (with mfaToken)"),
        (status = 403, body = api::ErrorBody, description = "user_disabled"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (token guesses from one end-user address)"),
        (status = 503, body = api::ErrorBody, description = "server_busy"),
    ))]
pub async fn magic_link_verify(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::MagicLinkVerifyRequest>,
) -> ApiResult<Json<api::AuthResponse>> {
    let outcome = state
        .signin
        .verify_magic_link(&project, &body.token, body.token_expiry, &client)
        .await?;
    signed_in(outcome)
}

fn channel(c: api::OtpChannel) -> Channel {
    match c {
        api::OtpChannel::Email => Channel::Email,
        api::OtpChannel::Sms => Channel::Sms,
        api::OtpChannel::Whatsapp => Channel::Whatsapp,
    }
}

/// Send a 6-digit one-time passcode (valid 10 minutes) by email, SMS or WhatsApp. The same
/// answer for every address or number; the code is sent in the background.
#[utoipa::path(post, path = "/v1/auth/otp", tag = "passwordless", request_body = api::OtpRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::OkResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request (email, phone not E.164, both or neither, a channel that does not fit)"),
        (status = 401, body = api::ErrorBody, description = "invalid_api_key"),
        (status = 422, body = api::ErrorBody, description = "value_not_allowed (a phone number outside the project's smsAllowedCountries)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (codes to this address or number, or from this end-user address or project), with retryAfter and Retry-After"),
        (status = 503, body = api::ErrorBody, description = "server_busy"),
    ))]
pub async fn otp_send(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::OtpRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .signin
        .send_otp(
            &project,
            body.email.as_deref(),
            body.phone.as_deref(),
            body.channel.map(channel),
            &client,
        )
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Sign in with a one-time passcode, giving the email or phone it was sent to. Five wrong
/// codes kill it.
#[utoipa::path(post, path = "/v1/auth/otp/verify", tag = "passwordless", request_body = api::OtpVerifyRequest,
    security(("apiKey" = [])),
    responses(
        (status = 200, body = api::AuthResponse),
        (status = 400, body = api::ErrorBody, description = "invalid_request"),
        (status = 401, body = api::ErrorBody, description = "invalid_code (wrong, used, expired, killed by wrong tries, or sent elsewhere), invalid_api_key, mfa_required (with mfaToken)"),
        (status = 403, body = api::ErrorBody, description = "user_disabled, email_not_verified (an SMS sign-in of a user whose email the project requires verified)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (tries for this address or number), with retryAfter and Retry-After"),
        (status = 503, body = api::ErrorBody, description = "server_busy"),
    ))]
pub async fn otp_verify(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::OtpVerifyRequest>,
) -> ApiResult<Json<api::AuthResponse>> {
    let outcome = state
        .signin
        .verify_otp(
            &project,
            body.email.as_deref(),
            body.phone.as_deref(),
            &body.otp,
            body.token_expiry,
            &client,
        )
        .await?;
    signed_in(outcome)
}
