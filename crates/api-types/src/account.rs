//! Email verification, password reset and change.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailLinkRequest {
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: String,
    /// Where the hosted page sends the browser afterwards; must be one of the project's
    /// allowed redirect URLs (exact match).
    #[serde(default)]
    #[schema(format = Uri, max_length = 2048, pattern = "^https?://[^\\s@/]+(/[^\\s]*)?$", example = "https://app.example.com/signed-in")]
    pub redirect_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordResetConfirmRequest {
    /// The `token` of the emailed link.
    #[schema(min_length = 1, max_length = 8192)]
    pub reset_token: String,
    /// Meets the password policy (see `SignupRequest.password`).
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
    /// Meets the password policy (see `SignupRequest.password`).
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}
