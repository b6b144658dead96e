//! Projects (tenants) and their settings.

use serde::{Deserialize, Serialize};

use crate::model::{Millis, ProjectId};

#[derive(Debug, Clone)]
pub struct Project {
    pub id: ProjectId,
    pub login_id: String,
    pub name: String,
    pub settings: ProjectSettings,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Per-project settings, stored as JSON. Unknown or missing fields take their defaults, so
/// adding a setting needs no migration. `projects::validate_settings` names the field at fault.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectSettings {
    /// Access-token lifetime in seconds (default 15 minutes).
    pub access_token_ttl: u64,
    /// Absolute session (and refresh-token) lifetime in seconds (default 30 days).
    pub session_lifetime: u64,
    /// A session with no refresh for this long ends (seconds; default 7 days).
    pub session_idle_timeout: u64,
    /// How long a rotated refresh token may be presented again and get the same successor
    /// (client retries), in seconds. After it, reuse ends the session (RFC 9700 §4.14).
    pub refresh_grace: u64,
    /// Minimum password length in characters (NIST: at least 8).
    pub password_min_length: usize,
    /// Algorithm for new signing keys: ES256 (default), EdDSA or RS256.
    pub signing_alg: SigningAlg,
    /// Refuse password login (`email_not_verified`) until the email is verified.
    pub require_email_verification: bool,
    /// Where emailed links may send the browser afterwards; exact match only.
    pub allowed_redirect_urls: Vec<String>,
    /// Lifetime of password-reset links, seconds (default 1 hour).
    pub reset_token_ttl: u64,
    /// Lifetime of email-verification links, seconds (default 1 hour).
    pub verification_token_ttl: u64,
    /// Sender address of this project's emails (default: the server's).
    pub email_from: Option<String>,
    /// This project's own SMTP server (default: the server's, else the dev outbox).
    pub smtp: Option<SmtpSettings>,
    /// Per-kind overrides of the email templates (`verify_email`, `password_reset`,
    /// `password_changed`), each with optional `subject`, `text` and `html` (minijinja).
    pub email_templates: std::collections::BTreeMap<String, TemplateOverride>,
    /// Confirming a second factor ends the user's other sessions (SECURITY S5): whoever held a
    /// session from before the factor must sign in again and pass it.
    pub end_other_sessions_on_mfa_change: bool,
    /// SMS this project may send per hour, all users together (a cost ceiling; SECURITY L7).
    pub sms_per_hour: i64,
    /// The project's throttles (SECURITY L1-L3); each left out keeps its default.
    pub rate_limits: RateLimits,
    /// Whether a magic link or one-time passcode to an address or number without an account
    /// creates one on first verify (default true). Off, such sends send nothing (and answer
    /// the same).
    pub passwordless_signup: bool,
    /// Lifetime of magic links, seconds (default 15 minutes, at most an hour; SECURITY O1).
    pub magic_link_ttl: u64,
    /// Country calling codes (`"1"`, `"44"`, without `+`) that SMS and WhatsApp codes may go
    /// to; empty: every country (SMS pumping defence, SECURITY L7).
    pub sms_allowed_countries: Vec<String>,
    /// Per-kind overrides of SMS texts (`sign_in_code`), minijinja with `code`, `project` and
    /// `expires_minutes`.
    pub sms_templates: std::collections::BTreeMap<String, String>,
    /// How the hosted pages look (validated values only: never raw CSS or HTML).
    pub branding: Branding,
    /// Whether the hosted pages offer sign-up (default true).
    pub hosted_signup: bool,
    /// Whether the hosted sign-in page offers a code by email instead of the password
    /// (default false).
    pub hosted_email_code: bool,
    /// Origins (`https://app.example.com`) allowed to frame the hosted pages; empty (the
    /// default): none may (`frame-ancestors 'none'`).
    pub frame_ancestors: Vec<String>,
}

/// The look of a project's hosted pages. Colours are `#rrggbb`; the primary colour carries
/// white text and the background the scheme's text colour, each at a WCAG AA contrast of at
/// least 4.5:1 (checked when saved).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Branding {
    /// An https URL of the logo (its origin is the only one images may come from).
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub background_color: Option<String>,
    /// Corner radius of fields and buttons, 0 to 24 pixels.
    pub corner_radius: Option<u8>,
    pub color_scheme: ColorScheme,
    /// An https URL of the project's help page, linked from every page.
    pub support_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColorScheme {
    #[default]
    Light,
    Dark,
}

impl ColorScheme {
    /// The text colour of the scheme (and its default background).
    pub fn colors(self) -> (&'static str, &'static str) {
        match self {
            ColorScheme::Light => ("#1a1a1a", "#ffffff"),
            ColorScheme::Dark => ("#f2f2f2", "#161616"),
        }
    }
}

/// The WCAG 2 contrast ratio of two `#rrggbb` colours; `None` if either is not one.
pub fn contrast(a: &str, b: &str) -> Option<f64> {
    let luminance = |hex: &str| -> Option<f64> {
        let hex = hex.strip_prefix('#').filter(|h| h.len() == 6)?;
        let channel = |i: usize| -> Option<f64> {
            let c = f64::from(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?) / 255.0;
            Some(if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            })
        };
        Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
    };
    let (la, lb) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

/// At most `limit` at once, one more every `window_seconds / limit` after that.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    pub limit: u32,
    pub window_seconds: u64,
}

impl RateLimit {
    pub const fn per(limit: u32, window_seconds: u64) -> Self {
        Self {
            limit,
            window_seconds,
        }
    }
}

/// One [`RateLimit`] per throttle. Password sign-ins count before the password is checked;
/// a success clears the account's counts (not the address's or the project's).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RateLimits {
    /// One account from one end-user address: the tightest.
    pub login_per_account_and_address: RateLimit,
    /// One account from anywhere.
    pub login_per_account: RateLimit,
    /// One end-user address (an IPv6 address counts as its /64), any account.
    pub login_per_address: RateLimit,
    /// Every password sign-in of the project: a ceiling on credential stuffing.
    pub login_per_project: RateLimit,
    /// A signed-in user's guesses at their current password.
    pub current_password: RateLimit,
    /// Tries at one-time tokens, and unknown refresh tokens, from one end-user address.
    pub token_guesses: RateLimit,
    /// Sign-ups from one end-user address.
    pub signup_per_address: RateLimit,
    /// Tries at one-time passcodes of one email address or phone number, whatever the code.
    pub passwordless_verify: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_account_and_address: RateLimit::per(5, 900),
            login_per_account: RateLimit::per(10, 900),
            login_per_address: RateLimit::per(50, 900),
            login_per_project: RateLimit::per(3000, 60),
            current_password: RateLimit::per(10, 900),
            token_guesses: RateLimit::per(30, 900),
            signup_per_address: RateLimit::per(20, 3600),
            passwordless_verify: RateLimit::per(10, 900),
        }
    }
}

impl RateLimits {
    /// Every limit with its name in the settings (camelCase), for validation.
    pub fn named(&self) -> [(&'static str, RateLimit); 8] {
        [
            (
                "loginPerAccountAndAddress",
                self.login_per_account_and_address,
            ),
            ("loginPerAccount", self.login_per_account),
            ("loginPerAddress", self.login_per_address),
            ("loginPerProject", self.login_per_project),
            ("currentPassword", self.current_password),
            ("tokenGuesses", self.token_guesses),
            ("signupPerAddress", self.signup_per_address),
            ("passwordlessVerify", self.passwordless_verify),
        ]
    }
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: 900,
            session_lifetime: 30 * 24 * 3600,
            session_idle_timeout: 7 * 24 * 3600,
            refresh_grace: 10,
            password_min_length: 8,
            signing_alg: SigningAlg::Es256,
            require_email_verification: false,
            allowed_redirect_urls: Vec::new(),
            reset_token_ttl: 3600,
            verification_token_ttl: 3600,
            email_from: None,
            smtp: None,
            email_templates: Default::default(),
            end_other_sessions_on_mfa_change: true,
            sms_per_hour: 500,
            rate_limits: RateLimits::default(),
            passwordless_signup: true,
            magic_link_ttl: 900,
            sms_allowed_countries: Vec::new(),
            sms_templates: Default::default(),
            branding: Branding::default(),
            hosted_signup: true,
            hosted_email_code: false,
            frame_ancestors: Vec::new(),
        }
    }
}

impl ProjectSettings {
    /// Whether SMS and WhatsApp may go to this E.164 number (SECURITY L7). Country calling
    /// codes form a prefix code, so a prefix match on the digits is exact.
    pub fn sms_country_allowed(&self, e164: &str) -> bool {
        let digits = e164.trim_start_matches('+');
        self.sms_allowed_countries.is_empty()
            || self
                .sms_allowed_countries
                .iter()
                .any(|code| digits.starts_with(code.as_str()))
    }

    /// Where a confirmed magic link sends the browser when the request named no URL: the first
    /// allowed redirect URL.
    pub fn default_redirect(&self) -> Option<&str> {
        self.allowed_redirect_urls.first().map(String::as_str)
    }

    /// `url` in the form it is stored and sent in, if it is exactly one of the allowed redirect
    /// URLs (compared parsed and serialised).
    pub fn allowed_redirect(&self, url: &str) -> Option<String> {
        let normalized = normalize_redirect(url)?;
        self.allowed_redirect_urls
            .contains(&normalized)
            .then_some(normalized)
    }

    /// Allowed redirect URLs and branding URLs in their parsed, serialised form, and frame
    /// ancestors as origins (a value that does not parse is left as given, for validation to
    /// name).
    pub fn normalize_redirects(&mut self) {
        let b = &mut self.branding;
        let urls = self
            .allowed_redirect_urls
            .iter_mut()
            .chain(b.logo_url.as_mut())
            .chain(b.support_url.as_mut());
        for u in urls {
            if let Some(n) = normalize_redirect(u) {
                *u = n;
            }
        }
        for origin in &mut self.frame_ancestors {
            if let Some(o) = url::Url::parse(origin)
                .ok()
                .filter(|u| u.host().is_some() && u.path() == "/" && u.query().is_none())
                .map(|u| u.origin().ascii_serialization())
            {
                *origin = o;
            }
        }
    }
}

/// Whether `url` has the shape `/openapi.json` gives redirect URLs
/// (`^https?://[^\s@/]+(/[^\s]*)?$`, `\s` as JSON Schema's regular expressions read it): a
/// URL without it is a malformed request (400), one with it that the project does not allow a
/// refused value (422).
pub fn redirect_shaped(url: &str) -> bool {
    let space = |c: char| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    };
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    !host.is_empty() && !host.contains(|c| space(c) || c == '@') && !path.contains(space)
}

/// An absolute http(s) URL without credentials, parsed and serialised; `None` for anything
/// else, including text with control characters, which the URL parser would silently drop
/// (a stored `\n` once made the redirect itself fail after the token was spent).
pub fn normalize_redirect(url: &str) -> Option<String> {
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let p = url::Url::parse(url).ok()?;
    let ok = (p.scheme() == "https" || p.scheme() == "http")
        && p.host().is_some()
        && p.username().is_empty()
        && p.password().is_none();
    ok.then(|| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_shape_is_the_documented_pattern_u1() {
        for ok in [
            "https://a.test",
            "http://a.test/x?y#z",
            "https://a.test/../x",
            "https://a\u{85}",
        ] {
            assert!(redirect_shaped(ok), "{ok:?}");
        }
        for bad in [
            "//evil.test",
            "javascript:alert(1)",
            "https:evil.test",
            "https://a@evil.test/",
            "/\\evil.test",
            "https://",
            "https://a.test/x y",
            "https://a.test/\n",
            "ftp://a.test",
        ] {
            assert!(!redirect_shaped(bad), "{bad:?}");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (local relays and tests only).
    None,
}

/// An SMTP server. The password is write-only: it is sealed with the master key when the
/// settings are saved and never returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub username: Option<String>,
    /// Clear-text password as given in a request; replaced by `password_sealed` before storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_sealed: Option<String>,
    pub tls: TlsMode,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TemplateOverride {
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    #[serde(rename = "ES256")]
    Es256,
    #[serde(rename = "EdDSA")]
    EdDsa,
    #[serde(rename = "RS256")]
    Rs256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
            SigningAlg::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(SigningAlg::Es256),
            "EdDSA" => Some(SigningAlg::EdDsa),
            "RS256" => Some(SigningAlg::Rs256),
            _ => None,
        }
    }
}
