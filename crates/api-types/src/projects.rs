//! The operator's projects API: projects, API keys, management tokens.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    #[schema(value_type = ProjectSettings)]
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
    /// 1 to 100 characters (surrounding spaces are trimmed).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Acme")]
    pub name: String,
    /// Settings to start with (the rest take their defaults).
    #[serde(default, deserialize_with = "crate::json::opt_object")]
    pub settings: Option<ProjectSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectUpdateRequest {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Acme")]
    pub name: Option<String>,
    /// The settings to change; validated with the rest as a whole.
    #[serde(default, deserialize_with = "crate::json::opt_object")]
    pub settings: Option<ProjectSettings>,
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

/// The signing key a rotation made current.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyRotated {
    /// The new key's `kid` (`kid_…`): tokens issued from now on carry it.
    pub kid: String,
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
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"\S",
        example = "deploy pipeline"
    )]
    pub name: String,
    /// Limit the token to one project (`prj_…`); omitted: every project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Lifetime in seconds: 60 to 31622400 (366 days); default 90 days.
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
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

/// A project's settings. In a create or update request every field is optional: the ones given
/// replace the stored ones, the rest keep their values (defaults at creation). A few rules span
/// fields and are checked as a whole (`value_not_allowed`, 422): `sessionIdleTimeout` lies
/// between `accessTokenTtl` and `sessionLifetime`; `signingAlg` is chosen at creation only;
/// `emailFrom` must parse as a mailbox and templates must compile.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[serde(default)]
pub struct ProjectSettings {
    /// Access-token lifetime in seconds (default 900).
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub access_token_ttl: Option<u64>,
    /// Absolute session (and refresh-token) lifetime in seconds (default 30 days).
    #[schema(minimum = 300, maximum = 34560000)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub session_lifetime: Option<u64>,
    /// A session with no refresh for this long ends (seconds; default 7 days).
    #[schema(minimum = 60, maximum = 34560000)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub session_idle_timeout: Option<u64>,
    /// Seconds a rotated refresh token may be presented again for the same successor
    /// (default 10).
    #[schema(minimum = 0, maximum = 60)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub refresh_grace: Option<u64>,
    /// Minimum password length in characters (default 8).
    #[schema(minimum = 8, maximum = 128)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub password_min_length: Option<u64>,
    /// Algorithm of the project's signing keys (default ES256); chosen at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<SigningAlg>,
    /// Refuse password login (`email_not_verified`) until the email is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_email_verification: Option<bool>,
    /// Where emailed links may send the browser afterwards: absolute http(s) URLs, exact match.
    #[schema(max_items = 100, example = json!(["https://app.example.com/signed-in"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_redirect_urls: Option<Vec<RedirectUrl>>,
    /// Lifetime of password-reset links, seconds (default 3600).
    #[schema(minimum = 60, maximum = 3600)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub reset_token_ttl: Option<u64>,
    /// Lifetime of email-verification links, seconds (default 3600).
    #[schema(minimum = 60, maximum = 86400)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub verification_token_ttl: Option<u64>,
    /// Sender of this project's emails, such as `Acme <no-reply@acme.test>`; null: the server's.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(example = "Acme <no-reply@acme.test>")]
    pub email_from: Option<Option<String>>,
    /// This project's own SMTP server; null: the server's (else the dev outbox).
    #[serde(
        default,
        deserialize_with = "crate::json::present_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub smtp: Option<Option<SmtpSettings>>,
    /// Overrides of the email templates (minijinja), per kind of email.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub email_templates: Option<EmailTemplates>,
    /// Confirming a second factor ends the user's other sessions (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_other_sessions_on_mfa_change: Option<bool>,
    /// SMS this project may send per hour, all users together (default 500).
    #[schema(minimum = 1, maximum = 1000000)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub sms_per_hour: Option<u64>,
    /// The project's throttles; a limit left out keeps its value. Answers show every limit in
    /// effect.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub rate_limits: Option<RateLimits>,
    /// Whether a magic link or one-time passcode to an address or number without an account
    /// creates the account on first verify (default true); off, nothing is sent to them (the
    /// answer is the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passwordless_signup: Option<bool>,
    /// Lifetime of magic links, seconds (default 900).
    #[schema(minimum = 60, maximum = 3600)]
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_whole"
    )]
    pub magic_link_ttl: Option<u64>,
    /// Country calling codes SMS and WhatsApp codes may go to, without `+` (`["1", "44"]`);
    /// empty (the default): every country. Others are refused with `value_not_allowed`.
    #[schema(max_items = 300, example = json!(["1", "44"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_allowed_countries: Option<Vec<CallingCode>>,
    /// Overrides of SMS texts (minijinja, at most 1000 characters), per kind of message.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub sms_templates: Option<SmsTemplates>,
    /// How the hosted pages look; a field left out keeps its value, `null` removes it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub branding: Option<Branding>,
    /// Whether the hosted pages offer sign-up (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_signup: Option<bool>,
    /// Whether the hosted sign-in page offers a code by email instead of the password
    /// (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_email_code: Option<bool>,
    /// https origins allowed to frame the hosted pages (default none: `frame-ancestors 'none'`).
    #[schema(max_items = 20, example = json!(["https://app.example.com"]))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_ancestors: Option<Vec<HttpsOrigin>>,
}

/// The look of the hosted pages: validated values only, never CSS or HTML. Colours are
/// `#rrggbb`, each with a contrast of at least 4.5:1 against its text (white on the primary
/// colour; the scheme's text on the background), or the change is refused with
/// `value_not_allowed`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Branding {
    /// An https URL of the logo.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = Uri, pattern = "^https://[^\\s@/]+(/[^\\s]*)?$", example = "https://app.example.com/logo.svg")]
    pub logo_url: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, pattern = "^#[0-9a-fA-F]{6}$", example = "#1a56db")]
    pub primary_color: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, pattern = "^#[0-9a-fA-F]{6}$", example = "#f7f7f8")]
    pub background_color: Option<Option<String>>,
    /// Corner radius of fields and buttons, in pixels.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u8>, minimum = 0, maximum = 24)]
    pub corner_radius: Option<Option<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_scheme: Option<ColorScheme>,
    /// An https URL of your help page, linked from every hosted page.
    #[serde(
        default,
        deserialize_with = "crate::json::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = Uri, pattern = "^https://[^\\s@/]+(/[^\\s]*)?$")]
    pub support_url: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColorScheme {
    Light,
    Dark,
}

/// An https origin: scheme and host (and port), no path.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^https://[^\\s@/]+$", example = "https://app.example.com")]
pub struct HttpsOrigin(pub String);

/// A country calling code: 1 to 3 digits, no leading zero, no `+`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^[1-9][0-9]{0,2}$", example = "44")]
pub struct CallingCode(pub String);

/// SMS text overrides per kind of message; a kind left out keeps the built-in text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplates {
    /// The one-time passcode of a passwordless sign-in (`{{ code }}`, `{{ project }}`,
    /// `{{ expires_minutes }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub sign_in_code: Option<String>,
}

/// One rate limit per throttle. Password sign-ins are counted before the password is checked
/// and a success clears the account's counts; an end-user address is the backend's
/// `X-Client-Ip` (an IPv6 address counts as its /64).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimits {
    /// One account from one end-user address (default 5 per 900 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub login_per_account_and_address: Option<RateLimit>,
    /// One account from anywhere (default 10 per 900 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub login_per_account: Option<RateLimit>,
    /// One end-user address, any account (default 50 per 900 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub login_per_address: Option<RateLimit>,
    /// Every password sign-in of the project (default 3000 per 60 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub login_per_project: Option<RateLimit>,
    /// A signed-in user's guesses at their current password (default 10 per 900 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub current_password: Option<RateLimit>,
    /// One-time tokens and unknown refresh tokens from one end-user address (default 30 per
    /// 900 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub token_guesses: Option<RateLimit>,
    /// Sign-ups from one end-user address (default 20 per 3600 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub signup_per_address: Option<RateLimit>,
    /// Tries at one-time passcodes of one email address or phone number, whatever the code
    /// (default 10 per 900 s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub passwordless_verify: Option<RateLimit>,
}

/// At most `limit` at once, then one more every `windowSeconds / limit` (a lock that lifts by
/// itself).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    #[schema(minimum = 1, maximum = 100000)]
    #[serde(deserialize_with = "crate::json::whole")]
    pub limit: u64,
    #[schema(minimum = 1, maximum = 86400)]
    #[serde(deserialize_with = "crate::json::whole")]
    pub window_seconds: u64,
}

/// An absolute `http` or `https` URL without credentials (stored normalised).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Uri, pattern = "^https?://[^\\s@/]+(/[^\\s]*)?$")]
pub struct RedirectUrl(pub String);

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum SigningAlg {
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
    #[serde(rename = "RS256")]
    Rs256,
}

/// An SMTP server. The password is write-only: never returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmtpSettings {
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\s/]+$",
        example = "smtp.example.com"
    )]
    pub host: String,
    #[serde(deserialize_with = "crate::json::whole")]
    #[schema(minimum = 1, maximum = 65535, example = 587)]
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(write_only)]
    pub password: Option<String>,
    /// Whether a password is stored (answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub password_set: Option<bool>,
    pub tls: TlsMode,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (local relays and tests only).
    None,
}

/// Template overrides per kind of email; a kind left out keeps the built-in template.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplates {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub verify_email: Option<TemplateOverride>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub password_reset: Option<TemplateOverride>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub password_changed: Option<TemplateOverride>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub mfa_locked: Option<TemplateOverride>,
    /// A magic link (`{{ link }}`) with its one-time passcode (`{{ code }}`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub magic_link: Option<TemplateOverride>,
    /// A one-time passcode (`{{ code }}`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::opt_object"
    )]
    pub sign_in_code: Option<TemplateOverride>,
}

/// minijinja sources, each at most 32768 characters; a part left out keeps the built-in one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32768)]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32768)]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32768)]
    pub html: Option<String>,
}
