//! Sign-up, login, tokens, and the user as every answer shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as the API shows it. Times are RFC 3339 (UTC).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `usr_…`
    pub id: String,
    /// Null only for a user who signed up with a phone number.
    pub email: Option<String>,
    pub email_verified: bool,
    /// E.164 (`+14155550123`), set by a passwordless sign-in by SMS or WhatsApp.
    pub phone: Option<String>,
    pub phone_verified: bool,
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
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: String,
    /// At least the project's `passwordMinLength` characters (8 by default), at most 1024;
    /// a password that is common or easy to guess is refused with `weak_password` (422).
    #[schema(
        min_length = 8,
        max_length = 1024,
        example = "correct horse battery staple"
    )]
    pub password: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Email a verification link to the new user.
    #[serde(default)]
    pub send_verification: Option<bool>,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
    pub token_expiry: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: String,
    #[schema(
        min_length = 1,
        max_length = 1024,
        example = "correct horse battery staple"
    )]
    pub password: String,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
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
    #[schema(min_length = 1, max_length = 8192)]
    pub refresh_token: String,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
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
    #[schema(min_length = 1, max_length = 8192)]
    pub token: String,
}

/// The claims of a verified access token. A client-credentials (M2M) token has no user:
/// `sub` is the client, and it carries no `sid`, `amr`, `aal` nor user claims.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The session (absent for an M2M token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aal: Option<String>,
    /// Absent for a phone-only user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The user's phone number (OIDC `phone_number`), when they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// The OAuth client the token was issued to (RFC 9068), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scope granted to that client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// The token's user; `null` for a client-credentials (M2M) token.
    pub user: Option<User>,
    /// The client of a client-credentials (M2M) token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<crate::VerifiedClient>,
    pub claims: Claims,
}

/// A code from the Universal Login hand-off (`?code=` on your redirect URL).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeRequest {
    #[schema(min_length = 1, max_length = 8192)]
    pub code: String,
    /// The PKCE verifier, when the login URL carried a `code_challenge` (required then, refused
    /// otherwise).
    #[serde(default)]
    #[schema(
        min_length = 43,
        max_length = 128,
        pattern = "^[A-Za-z0-9._~-]{43,128}$"
    )]
    pub code_verifier: Option<String>,
    /// If given, must be the redirect URL the code was issued for.
    #[serde(default)]
    #[schema(format = Uri, max_length = 2048)]
    pub redirect_url: Option<String>,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
    pub token_expiry: Option<u64>,
}
