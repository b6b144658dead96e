//! Second factors, their challenges and their back-off.

use crate::model::{Amr, ChallengeId, FactorId, Millis, SessionId, UserId};

/// A kind of second factor a user can enrol. Backup codes are not a factor of their own: they
/// stand in for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactorKind {
    /// RFC 6238 codes from an authenticator app.
    Totp,
    /// Codes texted to a phone.
    Sms,
}

impl FactorKind {
    pub const ALL: [FactorKind; 2] = [FactorKind::Totp, FactorKind::Sms];

    /// The name on the wire and in the database (`totp`, `sms`).
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
            FactorKind::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The RFC 8176 `amr` value a session records when this factor was used.
    pub fn amr(self) -> Amr {
        match self {
            FactorKind::Totp => Amr::Otp,
            FactorKind::Sms => Amr::Sms,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Factor {
    pub id: FactorId,
    pub kind: FactorKind,
    /// The TOTP seed, sealed with the master key.
    pub secret: Option<String>,
    /// The phone number, sealed with the master key.
    pub phone: Option<String>,
    pub phone_hint: Option<String>,
    pub confirmed_at: Option<Millis>,
    pub last_used_step: i64,
    pub created_at: Millis,
}

impl Factor {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// A factor being enrolled (it counts once confirmed).
#[derive(Debug, Clone)]
pub struct NewFactor<'a> {
    pub id: &'a FactorId,
    pub user_id: &'a UserId,
    pub kind: FactorKind,
    pub secret: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub phone_hint: Option<&'a str>,
}

/// What confirming a factor changes besides the factor (SECURITY M6, S5).
#[derive(Debug, Clone, Copy, Default)]
pub struct OnConfirm<'a> {
    /// Replace the user's backup codes with these hashes (codes made before the first factor
    /// must not survive it).
    pub replace_backup_codes: Option<&'a [String]>,
    /// End every session of the user except this one.
    pub end_sessions_except: Option<&'a SessionId>,
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

/// Why a second-factor challenge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengePurpose {
    /// The step after a first factor; named by its `mfaToken`.
    Login,
    /// Confirming an SMS factor being enrolled.
    Enrol,
}

impl ChallengePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::Login => "login",
            ChallengePurpose::Enrol => "enrol",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ChallengePurpose::Login, ChallengePurpose::Enrol]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub id: ChallengeId,
    pub user_id: UserId,
    pub purpose: ChallengePurpose,
    /// The `amr` of the first factor the user passed (for a login challenge).
    pub first_factor: Option<Amr>,
    pub sms_code_hash: Option<String>,
    pub failures: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub expires_at: Millis,
}

/// A challenge about to be created.
#[derive(Debug, Clone)]
pub struct NewChallenge<'a> {
    pub id: &'a ChallengeId,
    pub user_id: &'a UserId,
    pub purpose: ChallengePurpose,
    pub first_factor: Option<Amr>,
    /// SHA-256 of the `mfaToken` (login challenges).
    pub token_hash: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: Millis,
}
