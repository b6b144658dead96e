//! Passwordless sign-in: magic links and one-time passcodes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagicLinkRequest {
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: String,
    /// Where the hosted page sends the browser, with `?token=…` for
    /// `POST /v1/auth/magic-link/verify`; one of the project's allowed redirect URLs. Left out:
    /// the first of them.
    #[serde(default)]
    #[schema(format = Uri, max_length = 2048, example = "https://app.example.com/signed-in")]
    pub redirect_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagicLinkVerifyRequest {
    /// The token of the emailed link, or the one the hosted page added to the redirect URL.
    #[schema(min_length = 1, max_length = 8192)]
    pub token: String,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
    pub token_expiry: Option<u64>,
}

/// How a one-time passcode travels.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OtpChannel {
    Email,
    Sms,
    Whatsapp,
}

/// Exactly one of `email` and `phone`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtpRequest {
    #[serde(default)]
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: Option<String>,
    /// E.164: `+`, the country calling code and the number, 7 to 15 digits.
    #[serde(default)]
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$", example = "+14155550123")]
    pub phone: Option<String>,
    /// `email` for an email (the default), `sms` (the default) or `whatsapp` for a phone.
    #[serde(default)]
    pub channel: Option<OtpChannel>,
}

/// Exactly one of `email` and `phone`: the one the code was sent to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtpVerifyRequest {
    #[serde(default)]
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^\+[1-9][0-9]{6,14}$", example = "+14155550123")]
    pub phone: Option<String>,
    /// The 6-digit code.
    #[schema(min_length = 1, max_length = 64, example = "123456")]
    pub otp: String,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
    pub token_expiry: Option<u64>,
}
