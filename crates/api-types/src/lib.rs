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
            ErrorCode::InvalidRequest | ErrorCode::WeakPassword => 400,
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
    /// For `mfa_required`: the token to pass to `POST /v1/mfa/verify` (single use, 5 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
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
    /// The user's confirmed second factors: `totp`, `sms`.
    pub mfa_methods: Vec<String>,
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
    /// Email a verification link to the new user.
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

/// Tokens and the user, returned by sign-up and login. After a sign-up in a project that
/// requires a verified email, the tokens are null: the user signs in once verified.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: User,
    /// A JWT (ES256 by default) to send as `Authorization: Bearer`.
    pub access_token: Option<String>,
    /// Opaque; rotated on every use.
    pub refresh_token: Option<String>,
    /// Access-token lifetime in seconds.
    pub expires_in: Option<u64>,
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

/// A page of users.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<User>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    pub user: User,
}

/// A partial update of a user. `metadata` is merged into the stored object at top level; a key
/// set to `null` is removed. A new `email` must be unused and becomes unverified.
/// `disabled: true` ends every session of the user at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserUpdateRequest {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// `ses_…`
    pub id: String,
    pub created_at: String,
    pub last_active_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// True for the session of the access token that asked.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeAllRequest {
    /// Keep the session of the access token that asks (default false).
    #[serde(default)]
    pub keep_current: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokeAllResponse {
    pub revoked_count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailLinkRequest {
    pub email: String,
    /// Where the hosted page sends the browser afterwards; must be one of the project's
    /// allowed redirect URLs (exact match).
    #[serde(default)]
    pub redirect_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    pub reset_token: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// A project as the projects API shows it. Secrets in `settings` (the SMTP password) are never
/// returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// `prj_…`
    pub id: String,
    /// `lp_…`, public.
    pub login_id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectCreateRequest {
    pub name: String,
    /// Settings to start with (the rest take their defaults); see `Project.settings`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectUpdateRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// Merged into the current settings at top level; validated as a whole.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

/// A project just created, with its first API key (shown only this once).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectCreated {
    pub project: Project,
    pub api_key: String,
}

/// A new API key (shown only this once).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    /// `key_…`, to revoke it later.
    pub id: String,
    pub api_key: String,
}

/// A management token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementToken {
    /// `mgt_…`, to revoke it.
    pub id: String,
    pub name: String,
    /// The one project it may manage; null: every project.
    pub project_id: Option<String>,
    pub created_at: String,
    /// Null only for tokens made before tokens expired.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementTokenList {
    pub management_tokens: Vec<ManagementToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagementTokenCreateRequest {
    pub name: String,
    /// Limit the token to one project (`prj_…`); omitted: every project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Lifetime in seconds: 60 to 31622400 (366 days); default 90 days.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31622400)]
    pub expires_in: Option<u64>,
}

/// A new management token (`mt_…`), shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementTokenCreated {
    pub token: String,
    pub management_token: ManagementToken,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaEnrollRequest {
    /// `totp` or `sms`.
    pub method: String,
    /// For `sms`: an E.164 number such as `+14155550123`.
    #[serde(default)]
    pub phone: Option<String>,
}

/// For TOTP: the `otpauth://` URI and a QR code of it (an SVG data URI). Null for SMS, whose
/// code is sent to the phone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaEnrollResponse {
    pub totp_uri: Option<String>,
    pub qr_code: Option<String>,
}

/// With `mfaToken`: finish a login. Without it (and with the user's access token): confirm an
/// enrolment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaVerifyRequest {
    /// A TOTP code, the SMS code, or a backup code.
    pub code: String,
    #[serde(default)]
    pub mfa_token: Option<String>,
    #[serde(default)]
    pub token_expiry: Option<u64>,
}

/// After a login challenge: the new aal2 session's tokens. After an enrolment: all null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaVerifyResponse {
    pub user: Option<User>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
    /// After confirming the user's first factor: a fresh set of ten backup codes, shown only
    /// this once (codes made before the factor no longer work). Otherwise null.
    pub backup_codes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaUnenrollRequest {
    pub method: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaResendRequest {
    pub mfa_token: String,
}

/// Ten single-use codes, shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodesResponse {
    pub backup_codes: Vec<String>,
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
