//! Passwordless sign-in: magic links and one-time passcodes.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::mfa::E164;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagicLinkRequest {
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: String,
    /// Where the hosted page sends the browser, with `?token=…` for
    /// `POST /v1/auth/magic-link/verify`; one of the project's allowed redirect URLs. Left out:
    /// the first of them.
    #[serde(default)]
    #[schema(format = Uri, max_length = 2048, pattern = "^https?://[^\\s@/]+(/[^\\s]*)?$", example = "https://app.example.com/signed-in")]
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
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OtpChannel {
    Email,
    Sms,
    Whatsapp,
}

/// Exactly one of `email` and `phone`, with a `channel` that fits it: `email` for an email
/// (the default), `sms` (the default) or `whatsapp` for a phone. The schema below says so as
/// one object per identifier; the struct takes both fields so that a wrong combination is
/// refused with the field at fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtpRequest {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub channel: Option<OtpChannel>,
}

/// Exactly one of `email` and `phone`: the one the code was sent to (schema below).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtpVerifyRequest {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::json::not_null")]
    pub phone: Option<String>,
    /// The 6-digit code.
    pub otp: String,
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    pub token_expiry: Option<u64>,
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn email_property() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
        .pattern(Some(r"\S"))
        .examples(["ada@example.com"])
}

fn phone_property() -> ObjectBuilder {
    string()
        .description(Some("An E.164 number such as `+14155550123`."))
        .pattern(Some(E164))
        .examples(["+14155550123"])
}

/// One object per identifier: `email` or `phone` (required), plus `extra` properties.
fn per_identifier(
    extra: impl Fn(ObjectBuilder, bool) -> ObjectBuilder,
    description: &str,
) -> RefOr<Schema> {
    let closed =
        |o: ObjectBuilder| o.additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let by_email = closed(extra(
        ObjectBuilder::new()
            .property("email", email_property())
            .required("email"),
        true,
    ));
    let by_phone = closed(extra(
        ObjectBuilder::new()
            .property("phone", phone_property())
            .required("phone"),
        false,
    ));
    OneOfBuilder::new()
        .item(by_email)
        .item(by_phone)
        .description(Some(description))
        .into()
}

impl utoipa::PartialSchema for OtpRequest {
    fn schema() -> RefOr<Schema> {
        per_identifier(
            |o, email| {
                let channels: &[&str] = if email {
                    &["email"]
                } else {
                    &["sms", "whatsapp"]
                };
                o.property(
                    "channel",
                    string()
                        .enum_values(Some(channels.iter().copied()))
                        .description(Some("Defaults to `email` for an email, `sms` for a phone.")),
                )
            },
            "Where to send the code: an email address, or a phone number by SMS or WhatsApp.",
        )
    }
}

impl ToSchema for OtpRequest {}

impl utoipa::PartialSchema for OtpVerifyRequest {
    fn schema() -> RefOr<Schema> {
        per_identifier(
            |o, _| {
                o.property(
                    "otp",
                    string()
                        .min_length(Some(1))
                        .max_length(Some(64))
                        .description(Some("The 6-digit code."))
                        .examples(["123456"]),
                )
                .required("otp")
                .property(
                    "tokenExpiry",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                        .minimum(Some(10))
                        .maximum(Some(86400))
                        .description(Some(
                            "Ask for a shorter access-token lifetime (seconds); never longer than the project's.",
                        )),
                )
            },
            "The address or number the code was sent to, and the code.",
        )
    }
}

impl ToSchema for OtpVerifyRequest {}
