//! Audit events (SECURITY AU1).

use crate::model::{Millis, ProjectId};

/// A security-relevant event (SECURITY AU1). `detail` must never hold a secret.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub project_id: Option<ProjectId>,
    pub kind: AuditKind,
    /// "success" or "failure".
    pub result: &'static str,
    /// Who acted: a user id, "api_key" or "management".
    pub actor: Option<String>,
    /// Whom it concerns (usually a user id).
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub kind: String,
    pub result: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub created_at: Millis,
    pub detail: String,
}

macro_rules! audit_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// What an audit event records. The names are what operators query: never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum AuditKind {
            $($(#[$doc])* $variant,)*
        }

        impl AuditKind {
            pub const ALL: &'static [AuditKind] = &[$(AuditKind::$variant,)*];

            /// The name stored in the audit log (`password.reset`, `mfa.verify`, …).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditKind::$variant => $name,)*
                }
            }
        }
    };
}

audit_kinds! {
    Login = "login",
    Signup = "signup",
    Logout = "logout",
    SessionRevoke = "session.revoke",
    SessionRevokeAll = "session.revoke_all",
    /// A rotated refresh token came back: the whole family was ended (SECURITY R3).
    RefreshReuseDetected = "refresh.reuse_detected",
    EmailVerificationRequested = "email.verification_requested",
    EmailVerified = "email.verified",
    PasswordResetRequested = "password.reset_requested",
    PasswordReset = "password.reset",
    PasswordChange = "password.change",
    /// A magic link or one-time passcode was asked for (`success`: one was sent).
    PasswordlessRequested = "passwordless.requested",
    MfaEnroll = "mfa.enroll",
    MfaChallenge = "mfa.challenge",
    MfaVerify = "mfa.verify",
    MfaUnenroll = "mfa.unenroll",
    MfaBackupCodes = "mfa.backup_codes",
    MfaLocked = "mfa.locked",
    /// A throttle's last allowed hit: the next ones are refused until it refills (SECURITY L1).
    RateLimitReached = "rate_limit.reached",
    MfaUnlock = "mfa.unlock",
    UserUpdate = "user.update",
    UserDelete = "user.delete",
    ProjectCreate = "project.create",
    ProjectUpdate = "project.update",
    ProjectDelete = "project.delete",
    ApiKeyCreate = "api_key.create",
    ApiKeyRevoke = "api_key.revoke",
    SigningKeyRotate = "signing_key.rotate",
    ManagementTokenCreate = "management_token.create",
    ManagementTokenRevoke = "management_token.revoke",
}
