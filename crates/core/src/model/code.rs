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
    pub attempts: i64,
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
}

impl EmailKind {
    pub const ALL: [EmailKind; 4] = [
        EmailKind::VerifyEmail,
        EmailKind::PasswordReset,
        EmailKind::PasswordChanged,
        EmailKind::MfaLocked,
    ];

    /// The name in template overrides, the outbox and the dev outbox files.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::PasswordChanged => "password_changed",
            EmailKind::MfaLocked => "mfa_locked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
