//! `/v1/mfa/*`: enrol, confirm and remove second factors, finish logins, backup codes.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use protekt_api_types as api;

use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiProject, Bearer, Client};
use crate::http::user_json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/mfa/enroll", post(mfa_enroll))
        .route("/v1/mfa/verify", post(mfa_verify))
        .route("/v1/mfa/resend", post(mfa_resend))
        .route("/v1/mfa/unenroll", post(mfa_unenroll))
        .route("/v1/mfa/backup-codes", post(mfa_backup_codes))
}

/// Start enrolling a factor: `totp` answers the `otpauth://` URI and its QR code; `sms` texts
/// a code to `phone`. The factor counts once `POST /v1/mfa/verify` confirms it.
#[utoipa::path(post, path = "/v1/mfa/enroll", tag = "mfa", request_body = api::MfaEnrollRequest,
    security(("apiKey" = [], "bearer" = [])),
    responses(
        (status = 200, body = api::MfaEnrollResponse),
        (status = 409, body = api::ErrorBody, description = "conflict (the method is already enrolled)"),
        (status = 403, body = api::ErrorBody, description = "mfa_step_up_required (a factor exists; needs an aal2 session)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (SMS per number, user, end-user address or project)"),
    ))]
pub async fn mfa_enroll(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
    Client(client): Client,
    ApiJson(body): ApiJson<api::MfaEnrollRequest>,
) -> ApiResult<Json<api::MfaEnrollResponse>> {
    let e = state
        .mfa
        .enroll(
            &project,
            &token,
            body.method.as_str(),
            body.phone.as_deref(),
            &client,
        )
        .await?;
    Ok(Json(api::MfaEnrollResponse {
        totp_uri: e.totp_uri,
        qr_code: e.qr_code,
    }))
}

/// With `mfaToken`: finish a login with a TOTP, SMS or backup code (a new aal2 session). Without
/// it, with the user's access token: confirm an enrolment (tokens are null; for the first factor
/// `backupCodes` holds a fresh set and the user's other sessions end).
#[utoipa::path(post, path = "/v1/mfa/verify", tag = "mfa", request_body = api::MfaVerifyRequest,
    security(("apiKey" = []), ("apiKey" = [], "bearer" = [])),
    responses(
        (status = 200, body = api::MfaVerifyResponse),
        (status = 401, body = api::ErrorBody, description = "invalid_code, invalid_token (mfaToken unknown, used, expired or killed by 5 wrong codes)"),
        (status = 403, body = api::ErrorBody, description = "mfa_locked (100 wrong codes in a row: only a backup code works)"),
        (status = 409, body = api::ErrorBody, description = "conflict (no enrolment to confirm)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited (the back-off after wrong codes)"),
    ))]
pub async fn mfa_verify(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    bearer: Option<Bearer>,
    ApiJson(body): ApiJson<api::MfaVerifyRequest>,
) -> ApiResult<Json<api::MfaVerifyResponse>> {
    let mfa = &state.mfa;
    Ok(Json(match (&body.mfa_token, bearer) {
        (Some(mfa_token), _) => signed_in(
            mfa.verify_login(&project, mfa_token, &body.code, body.token_expiry)
                .await?,
        ),
        (None, Some(Bearer(access_token))) => {
            confirmed(mfa.confirm(&project, &access_token, &body.code).await?)
        }
        (None, None) => return Err(neither_token()),
    }))
}

fn neither_token() -> ApiError {
    ApiError::invalid(
        "mfaToken",
        "give the mfaToken of a login, or the user's access token to confirm an enrolment",
    )
}

/// The answer to a login's second step: the session.
fn signed_in(
    (user, tokens): (protekt_core::model::User, protekt_core::auth::Tokens),
) -> api::MfaVerifyResponse {
    api::MfaVerifyResponse {
        user: Some(user_json(&user)),
        access_token: Some(tokens.access_token),
        refresh_token: Some(tokens.refresh_token),
        expires_in: Some(tokens.expires_in),
        backup_codes: None,
    }
}

/// The answer to a confirmed enrolment: the backup codes, when this was the first factor.
fn confirmed(backup_codes: Option<Vec<String>>) -> api::MfaVerifyResponse {
    api::MfaVerifyResponse {
        user: None,
        access_token: None,
        refresh_token: None,
        expires_in: None,
        backup_codes,
    }
}

/// Text the SMS code of a login challenge again.
#[utoipa::path(post, path = "/v1/mfa/resend", tag = "mfa", request_body = api::MfaResendRequest, security(("apiKey" = [])),
    responses((status = 200, body = api::OkResponse), (status = 401, body = api::ErrorBody, description = "invalid_token"),
        (status = 409, body = api::ErrorBody, description = "conflict (the user has no SMS factor)"),
        (status = 429, body = api::ErrorBody, description = "rate_limited")))]
pub async fn mfa_resend(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Client(client): Client,
    ApiJson(body): ApiJson<api::MfaResendRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state.mfa.resend(&project, &body.mfa_token, &client).await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Remove a factor. Needs an aal2 session.
#[utoipa::path(post, path = "/v1/mfa/unenroll", tag = "mfa", request_body = api::MfaUnenrollRequest,
    security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::OkResponse), (status = 403, body = api::ErrorBody, description = "mfa_step_up_required"),
        (status = 404, body = api::ErrorBody, description = "not_found")))]
pub async fn mfa_unenroll(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
    ApiJson(body): ApiJson<api::MfaUnenrollRequest>,
) -> ApiResult<Json<api::OkResponse>> {
    state
        .mfa
        .unenroll(&project, &token, body.method.as_str())
        .await?;
    Ok(Json(api::OkResponse { ok: true }))
}

/// Ten new single-use backup codes (shown once); the previous set stops working.
#[utoipa::path(post, path = "/v1/mfa/backup-codes", tag = "mfa", security(("apiKey" = [], "bearer" = [])),
    responses((status = 200, body = api::BackupCodesResponse), (status = 403, body = api::ErrorBody, description = "mfa_step_up_required")))]
pub async fn mfa_backup_codes(
    State(state): State<AppState>,
    ApiProject(project): ApiProject,
    Bearer(token): Bearer,
) -> ApiResult<Json<api::BackupCodesResponse>> {
    let backup_codes = state.mfa.backup_codes(&project, &token).await?;
    Ok(Json(api::BackupCodesResponse { backup_codes }))
}
