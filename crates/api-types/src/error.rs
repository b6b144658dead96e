//! Errors: the stable codes and the body every error answer has.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error code the server can return. Codes are public API: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The `X-Api-Key` header is missing, unknown or revoked.
    InvalidApiKey,
    /// The request body or a parameter is malformed; `field` names the offending field.
    InvalidRequest,
    /// The request body is larger than the route accepts.
    PayloadTooLarge,
    /// The request body is not `application/json`.
    UnsupportedMediaType,
    /// No such route, or no such object in this project.
    NotFound,
    /// The route exists but not for this HTTP method.
    MethodNotAllowed,
    /// Wrong email or password (the same answer for an unknown email).
    InvalidCredentials,
    /// An account with this email already exists in the project.
    EmailTaken,
    /// The password does not meet the project's password policy (422: the request is well
    /// formed, the password is refused).
    WeakPassword,
    /// A well-formed value that a rule refuses: a redirect URL outside the project's allow-list,
    /// a cursor of another listing, a project that does not exist; `field` names it.
    ValueNotAllowed,
    /// The request does not fit the current state: the factor is already enrolled, there is no
    /// enrolment to confirm, the user has no such factor.
    Conflict,
    /// The user is disabled and cannot sign in.
    UserDisabled,
    /// The project requires a verified email before sign-in, and this one is not verified.
    EmailNotVerified,
    /// The token is malformed, has a bad signature, the wrong audience, or was revoked.
    InvalidToken,
    /// The token was valid but has expired.
    TokenExpired,
    /// The caller is authenticated but not allowed to do this.
    Forbidden,
    /// The password was right and the user has a second factor: finish with `POST /v1/mfa/verify`
    /// and the `mfaToken` given here.
    MfaRequired,
    /// This needs a session that passed multi-factor authentication (aal2).
    MfaStepUpRequired,
    /// After 100 consecutive wrong codes, authenticator-app and SMS codes no longer work for this
    /// user: only a backup code (or an operator) unlocks them.
    MfaLocked,
    /// The MFA code is wrong (or was already used).
    InvalidCode,
    /// Too many requests; retry after `retryAfter` seconds.
    RateLimited,
    /// The server is saturated (for example the password hashing queue is full); retry shortly.
    ServerBusy,
    /// An unexpected server error. Details are in the server log, never in the answer.
    InternalError,
}

impl ErrorCode {
    /// Every variant, in declaration order (used by tests that keep the SDK in step).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidApiKey,
        ErrorCode::InvalidRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InvalidCredentials,
        ErrorCode::EmailTaken,
        ErrorCode::WeakPassword,
        ErrorCode::ValueNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::UserDisabled,
        ErrorCode::EmailNotVerified,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::Forbidden,
        ErrorCode::MfaRequired,
        ErrorCode::MfaStepUpRequired,
        ErrorCode::MfaLocked,
        ErrorCode::InvalidCode,
        ErrorCode::RateLimited,
        ErrorCode::ServerBusy,
        ErrorCode::InternalError,
    ];

    /// The snake_case string used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::ValueNotAllowed => "value_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::UserDisabled => "user_disabled",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::MfaRequired => "mfa_required",
            ErrorCode::MfaStepUpRequired => "mfa_step_up_required",
            ErrorCode::MfaLocked => "mfa_locked",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::InvalidApiKey
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidToken
            | ErrorCode::TokenExpired
            | ErrorCode::MfaRequired
            | ErrorCode::InvalidCode => 401,
            ErrorCode::UserDisabled
            | ErrorCode::EmailNotVerified
            | ErrorCode::Forbidden
            | ErrorCode::MfaStepUpRequired
            | ErrorCode::MfaLocked => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::EmailTaken | ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::WeakPassword | ErrorCode::ValueNotAllowed => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::InternalError => 500,
            ErrorCode::ServerBusy => 503,
        }
    }
}

/// The body of every error answer: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// A human-readable explanation; may change between versions, unlike `code`.
    pub message: String,
    /// For `invalid_request`, `weak_password` and `value_not_allowed`: the request field at
    /// fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited` and `server_busy`: seconds to wait before retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// For `mfa_required`: the token to pass to `POST /v1/mfa/verify` (single use, 5 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

/// An empty success answer: `{"ok": true}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OkResponse {
    pub ok: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serialises_to_its_wire_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
            assert!(code.http_status() >= 400);
        }
    }
}
