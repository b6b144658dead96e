//! Single-use secrets sent to people, and management tokens.

use crate::model::{ManagementTokenId, Millis, ProjectId, UserId};

/// What a one-time token is for; a token of one purpose is useless for another (SECURITY O5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OneTimeToken {
    pub id: String,
    pub user_id: UserId,
    pub email: String,
    pub redirect_url: Option<String>,
    pub expires_at: Millis,
}

/// A message waiting in (or sent from) the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: String,
    pub project_id: ProjectId,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub link: Option<String>,
    /// A one-time passcode the message carries (sealed like the link), for the dev outbox.
    pub code: Option<String>,
    pub attempts: i64,
}

/// Lifetime of one-time passcodes, in minutes (SECURITY O1: at most 10).
pub const OTP_TTL_MINUTES: u64 = 10;

/// Where a passwordless secret goes, and what proves possession of when it comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Email, Channel::Sms, Channel::Whatsapp]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// What a passwordless secret is for (SECURITY O5: a secret of one purpose is useless for the
/// others, and none of them is an email-verification or reset token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordlessPurpose {
    /// Emailed: a link token (and the code printed beside it).
    MagicLink,
    /// A code by email, SMS or WhatsApp.
    Otp,
    /// The 60-second token a confirmed magic link hands to the app's redirect URL.
    Exchange,
}

impl PasswordlessPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordlessPurpose::MagicLink => "magic_link",
            PasswordlessPurpose::Otp => "otp",
            PasswordlessPurpose::Exchange => "exchange",
        }
    }
}

/// A live passwordless secret as stored (its hashes stay in the store).
#[derive(Debug, Clone)]
pub struct PasswordlessCode {
    pub id: String,
    pub purpose: PasswordlessPurpose,
    pub channel: Channel,
    /// The normalised email or the E.164 number it was sent to.
    pub identifier: String,
    pub redirect_url: Option<String>,
    pub attempts: i64,
    pub expires_at: Millis,
    pub code_expires_at: Option<Millis>,
}

/// A management token (`mt_…`) as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementToken {
    pub id: ManagementTokenId,
    pub name: String,
    /// The one project it may manage; `None`: every project, and management tokens themselves.
    pub project_id: Option<ProjectId>,
    pub created_at: Millis,
    /// `None` only for tokens made before tokens expired.
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

/// The kinds of email Protekt sends; each has a default template a project may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    VerifyEmail,
    PasswordReset,
    PasswordChanged,
    MfaLocked,
    MagicLink,
    SignInCode,
}

impl EmailKind {
    pub const ALL: [EmailKind; 6] = [
        EmailKind::VerifyEmail,
        EmailKind::PasswordReset,
        EmailKind::PasswordChanged,
        EmailKind::MfaLocked,
        EmailKind::MagicLink,
        EmailKind::SignInCode,
    ];

    /// The name in template overrides, the outbox and the dev outbox files.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::PasswordChanged => "password_changed",
            EmailKind::MfaLocked => "mfa_locked",
            EmailKind::MagicLink => "magic_link",
            EmailKind::SignInCode => "sign_in_code",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
