//! Wire types of the Protekt REST API.
//!
//! Everything a client sees on the wire is declared here and nowhere else: request bodies,
//! response bodies and [`ErrorCode`], the stable list of error codes. The server renders these
//! types and generates `/openapi.json` from them; the Node SDK's error-code union is checked
//! against [`ErrorCode::ALL`] by a test. Field names are camelCase on the wire.

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
    /// The password does not meet the project's password policy.
    WeakPassword,
    /// The user is disabled and cannot sign in.
    UserDisabled,
    /// The token is malformed, has a bad signature, the wrong audience, or was revoked.
    InvalidToken,
    /// The token was valid but has expired.
    TokenExpired,
    /// The caller is authenticated but not allowed to do this.
    Forbidden,
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
        ErrorCode::UserDisabled,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::Forbidden,
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
            ErrorCode::UserDisabled => "user_disabled",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::WeakPassword => 400,
            ErrorCode::InvalidApiKey
            | ErrorCode::InvalidCredentials
            | ErrorCode::InvalidToken
            | ErrorCode::TokenExpired => 401,
            ErrorCode::UserDisabled | ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::EmailTaken => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
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
    /// For `invalid_request` and `weak_password`: the request field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited` and `server_busy`: seconds to wait before retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// A user as the API shows it. Times are RFC 3339 (UTC).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `usr_…`
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    /// Free-form JSON object owned by your application (at most 16 KiB).
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    /// 8 to 1024 bytes by default; checked against common and guessable passwords.
    pub password: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Accepted now; sending the verification email arrives with email delivery.
    #[serde(default)]
    pub send_verification: Option<bool>,
    /// Ask for a shorter access-token lifetime (seconds); never longer than the project's.
    #[serde(default)]
    pub token_expiry: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub token_expiry: Option<u64>,
}

/// Tokens and the user, returned by sign-up and login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: User,
    /// A JWT (ES256 by default) to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; rotated on every use.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
    #[serde(default)]
    pub token_expiry: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// An access token (JWT) or a refresh token.
    pub token: String,
}

/// The claims of a verified access token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub sid: String,
    pub amr: Vec<String>,
    pub aal: String,
    pub email: String,
    pub email_verified: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    pub user: User,
    pub claims: Claims,
}

/// An empty success answer: `{"ok": true}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OkResponse {
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// A JSON Web Key Set (RFC 7517) with the project's current and previous public keys.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
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
