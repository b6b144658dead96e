//! Second factors and the MFA step of a login.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::User;

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
