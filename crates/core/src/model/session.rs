//! Sessions as the rules see them.

use crate::model::{Millis, SessionId, User};

/// What token verification needs to know about a session: is it live, whose is it, which of
/// its access tokens were revoked. Cached by the read cache.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session_id: SessionId,
    pub user: User,
    pub amr: Vec<Amr>,
    pub aal: Aal,
    /// When the sign-in happened (OIDC `auth_time`).
    pub created_at: Millis,
    pub expires_at: Millis,
    pub last_active_at: Millis,
    pub ended_at: Option<Millis>,
    pub revoked_jtis: Vec<String>,
}

impl SessionView {
    /// Not ended, not past its absolute expiry, and active within the idle timeout.
    pub fn is_live(&self, now: Millis, idle_timeout_ms: Millis) -> bool {
        self.ended_at.is_none()
            && now < self.expires_at
            && now - self.last_active_at < idle_timeout_ms
    }
}

/// A session as its owner sees it in the sessions list.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: SessionId,
    pub created_at: Millis,
    pub last_active_at: Millis,
    pub expires_at: Millis,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Authenticator assurance level (NIST SP 800-63B): `aal1` after one factor, `aal2` after two.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    Aal1,
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Aal::Aal1, Aal::Aal2].into_iter().find(|a| a.as_str() == s)
    }
}

/// How the user authenticated (RFC 8176 `amr` values), in the order the factors were passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time password from an authenticator app.
    Otp,
    /// A code sent by SMS.
    Sms,
    /// A backup code (not in RFC 8176's registry; named for what it is).
    #[serde(rename = "backup_code")]
    BackupCode,
    /// A magic link opened from an email (passwordless; the next four are not in RFC 8176's
    /// registry either, and name the channel that proved possession).
    #[serde(rename = "email_link")]
    EmailLink,
    /// A one-time passcode sent by email.
    #[serde(rename = "email_otp")]
    EmailOtp,
    /// A one-time passcode sent by SMS as the first factor.
    #[serde(rename = "sms_otp")]
    SmsOtp,
    /// A one-time passcode sent by WhatsApp.
    #[serde(rename = "whatsapp_otp")]
    WhatsappOtp,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Sms => "sms",
            Amr::BackupCode => "backup_code",
            Amr::EmailLink => "email_link",
            Amr::EmailOtp => "email_otp",
            Amr::SmsOtp => "sms_otp",
            Amr::WhatsappOtp => "whatsapp_otp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Amr::Pwd,
            Amr::Otp,
            Amr::Sms,
            Amr::BackupCode,
            Amr::EmailLink,
            Amr::EmailOtp,
            Amr::SmsOtp,
            Amr::WhatsappOtp,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}
