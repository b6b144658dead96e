//! Second factors and the MFA step of a login.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::User;

/// A kind of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MfaMethod {
    /// An authenticator app (RFC 6238).
    Totp,
    /// A code sent by text message.
    Sms,
}

impl MfaMethod {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMethod::Totp => "totp",
            MfaMethod::Sms => "sms",
        }
    }
}

/// The factor to enrol, by `method`: an authenticator app, or SMS to `phone` (required for
/// `sms`, refused for `totp`). Its schema is written out below as one object per method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaEnrollRequest {
    pub method: MfaMethod,
    /// For `sms`: an E.164 number such as `+14155550123`.
    #[serde(default)]
    pub phone: Option<String>,
}

/// E.164: a plus sign and 7 to 15 digits, the first not 0.
pub(crate) const E164: &str = r"^\+[1-9][0-9]{6,14}$";

impl utoipa::PartialSchema for MfaEnrollRequest {
    fn schema() -> RefOr<Schema> {
        let variant = |method: &str, description: &str| {
            ObjectBuilder::new()
                .description(Some(description))
                .property(
                    "method",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([method])),
                )
                .required("method")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let totp = variant(
            "totp",
            "An authenticator app: the answer carries the `otpauth://` URI.",
        );
        let sms = variant("sms", "A code by text message to `phone`.")
            .property(
                "phone",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("An E.164 number such as `+14155550123`."))
                    .pattern(Some(E164))
                    .examples(["+14155550123"]),
            )
            .required("phone");
        OneOfBuilder::new()
            .item(totp)
            .item(sms)
            .description(Some("The factor to enrol, by `method`."))
            .into()
    }
}

impl ToSchema for MfaEnrollRequest {}

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
    #[schema(min_length = 1, max_length = 64, example = "123456")]
    pub code: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 8192)]
    pub mfa_token: Option<String>,
    /// Ask for a shorter access-token lifetime (seconds, 10 to 86400); never longer than the
    /// project's.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 10, maximum = 86400, example = 300)]
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
    pub method: MfaMethod,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaResendRequest {
    #[schema(min_length = 1, max_length = 8192)]
    pub mfa_token: String,
}

/// Ten single-use codes, shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodesResponse {
    pub backup_codes: Vec<String>,
}
