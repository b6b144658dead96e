//! Second factors, their challenges and their back-off.

use crate::model::Millis;

#[derive(Debug, Clone)]
pub struct Factor {
    pub id: String,
    pub method: String,
    pub secret: Option<String>,
    pub phone: Option<String>,
    pub phone_hint: Option<String>,
    pub confirmed_at: Option<Millis>,
    pub last_used_step: i64,
    pub created_at: Millis,
}

/// What confirming a factor changes besides the factor (SECURITY M6, S5).
#[derive(Debug, Clone, Copy, Default)]
pub struct OnConfirm<'a> {
    /// Replace the user's backup codes with these hashes (codes made before the first factor
    /// must not survive it).
    pub replace_backup_codes: Option<&'a [String]>,
    /// End every session of the user except this one.
    pub end_sessions_except: Option<&'a str>,
}

/// The back-off state of a user's second-factor attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MfaGuard {
    /// Attempts since the last success (each is counted before its code is checked).
    pub failures: i64,
    /// No attempt before this time.
    pub blocked_until: Millis,
    pub locked_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: String,
    pub user_id: String,
    pub purpose: String,
    pub sms_code_hash: Option<String>,
    pub failures: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub expires_at: Millis,
}
