//! Multi-factor authentication: the second step after any first factor, and enrolling factors.
//!
//! - Each factor kind is a file: `totp` (RFC 6238 codes), `sms` (texted codes); `backup` codes
//!   stand in for either; `guard` is the back-off every code attempt goes through. A new kind
//!   is a new file and a [`FactorKind`] value, met in [`MfaService::enroll`] and
//!   [`MfaService::check_code`].
//! - A factor counts once confirmed with a code. Secrets (TOTP seeds, phone numbers) are sealed
//!   with the master key, bound to the factor id (SECURITY M1, M8, K1).
//! - A first factor passed by a user with a factor answers `mfa_required` with an `mfaToken`:
//!   256 bits, stored as SHA-256, single use, 5 minutes, bound to the user and project. Five
//!   wrong codes kill it. SMS codes are bound to their challenge (M7).
//! - Confirming the first factor replaces any earlier backup codes with a fresh set (M6);
//!   confirming any factor ends the user's other sessions unless the project turned that off
//!   (S5).
//! - Enrolling when a factor exists, removing a confirmed factor and making backup codes need an
//!   aal2 session (S6); sessions started with one factor stay aal1 (M4).

mod backup;
mod guard;
mod sms;
mod totp;

pub use guard::{backoff_ms, FREE_FAILURES, LOCK_AFTER, MAX_BACKOFF_MS};
pub(crate) use sms::text_quotas;
pub use sms::{SMS_PER_IP, SMS_PER_NUMBER, SMS_PER_USER};
pub use totp::matching_step;

use std::sync::Arc;

use crate::audit;
use crate::auth::{AuthService, ClientInfo, Tokens};
use crate::clock::{Clock, Millis};
use crate::crypto::MasterKey;
use crate::delivery::mail::Mailer;
use crate::delivery::sms::SmsSender;
use crate::error::{Error, Result};
use crate::ids::{new_refresh_token, secret_hash};
use crate::limits::Limiter;
use crate::model::{
    Aal, Amr, AuditKind, Challenge, ChallengeId, ChallengePurpose, Factor, FactorKind,
    NewChallenge, OnConfirm, Project, User, UserId,
};
use crate::store::Store;

/// Lifetime of an `mfaToken` and of an SMS code.
pub const CHALLENGE_TTL_MS: Millis = 5 * 60 * 1000;
/// Wrong codes that kill a challenge.
pub const MAX_FAILURES: i64 = 5;
/// Codes longer than this are not checked at all.
const MAX_CODE_BYTES: usize = 64;

/// What enrolment hands back: for TOTP, the `otpauth://` URI and its QR code.
#[derive(Debug, Clone, Default)]
pub struct Enrolment {
    pub totp_uri: Option<String>,
    pub qr_code: Option<String>,
}

#[derive(Clone)]
pub struct MfaService {
    store: Store,
    auth: AuthService,
    master: MasterKey,
    sms: Arc<SmsSender>,
    mailer: Arc<Mailer>,
    limiter: Limiter,
    clock: Arc<Clock>,
}

impl MfaService {
    pub fn new(
        store: Store,
        auth: AuthService,
        master: MasterKey,
        sms: Arc<SmsSender>,
        mailer: Arc<Mailer>,
        limiter: Limiter,
        clock: Arc<Clock>,
    ) -> Self {
        Self {
            store,
            auth,
            master,
            sms,
            mailer,
            limiter,
            clock,
        }
    }

    /// Opens a sealed factor secret; a failure means a wrong master key or a damaged row.
    fn open(&self, sealed: Option<&str>, aad: &str) -> Result<Vec<u8>> {
        sealed
            .and_then(|s| self.master.open(s, aad))
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "cannot open an MFA secret (wrong master key?)"
                ))
            })
    }

    /// Starts enrolling a factor of kind `method` for the access token's user.
    pub async fn enroll(
        &self,
        project: &Project,
        access_token: &str,
        method: &str,
        phone: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Enrolment> {
        let kind = parse_kind(method)?;
        if kind == FactorKind::Totp && phone.is_some() {
            return Err(Error::invalid(
                "phone",
                "phone goes with the sms method only",
            ));
        }
        let (user, claims) = self.auth.verify(project, access_token).await?;
        if !user.mfa_methods.is_empty() && claims.aal != Aal::Aal2 {
            return Err(Error::MfaStepUpRequired);
        }
        if user.mfa_methods.contains(&kind) {
            return Err(Error::conflict(format!(
                "{method} is already enrolled; unenroll it first"
            )));
        }
        match kind {
            FactorKind::Totp => self.start_totp(project, &user).await,
            FactorKind::Sms => self.start_sms(project, &user, phone, client).await,
        }
    }

    /// Whether `code` is the current code of `factor` (for SMS: the one texted for
    /// `challenge`).
    async fn check_code(
        &self,
        project: &Project,
        factor: &Factor,
        challenge: Option<&Challenge>,
        code: &str,
    ) -> Result<bool> {
        match factor.kind {
            FactorKind::Totp => self.check_totp(project, factor, code).await,
            FactorKind::Sms => Ok(challenge
                .is_some_and(|c| self.sms_code_matches(c.sms_code_hash.as_deref(), &c.id, code))),
        }
    }

    /// Confirms a pending factor of the access token's user with a code from it. When it is the
    /// user's first factor, backup codes made before it are replaced by a fresh set, returned
    /// here (shown once). The user's other sessions end unless the project turned that off:
    /// whoever held a session or a code from before must not outlive the new factor (SECURITY
    /// M6, S5).
    pub async fn confirm(
        &self,
        project: &Project,
        access_token: &str,
        code: &str,
    ) -> Result<Option<Vec<String>>> {
        let (user, claims) = self.auth.verify(project, access_token).await?;
        let factors = self.store.mfa().factors_of(&project.id, &user.id).await?;
        let pending: Vec<&Factor> = factors.iter().filter(|f| !f.is_confirmed()).collect();
        if pending.is_empty() {
            return Err(Error::conflict(
                "there is no enrolment to confirm; call enroll first",
            ));
        }
        let first = !factors.iter().any(Factor::is_confirmed);
        let attempt = self.begin_attempt(project, &user.id).await?;
        let now = self.clock.now();
        for f in pending {
            if !self.check_enrolment_code(project, &user, f, code).await? {
                continue;
            }
            let fresh_codes = first.then(backup::new_codes);
            let hashes = fresh_codes.as_deref().map(backup::hashes);
            let effects = OnConfirm {
                replace_backup_codes: hashes.as_deref(),
                end_sessions_except: project
                    .settings
                    .end_other_sessions_on_mfa_change
                    .then_some(&claims.sid),
            };
            if self
                .store
                .mfa()
                .confirm_factor(&project.id, &user.id, &f.id, &effects, now)
                .await?
            {
                self.end_attempt(project, &user.id, attempt, true).await?;
                let mut event =
                    audit::event(&project.id, AuditKind::MfaEnroll, true, Some(&user.id));
                event.detail = serde_json::json!({"method": f.kind.as_str(), "first": first});
                audit::record(&self.store, event, now).await;
                return Ok(fresh_codes);
            }
        }
        self.end_attempt(project, &user.id, attempt, false).await?;
        Err(Error::InvalidCode)
    }

    /// Checks a code against a pending factor; for SMS the enrolment challenge counts a wrong
    /// code and is used up by the right one.
    async fn check_enrolment_code(
        &self,
        project: &Project,
        user: &User,
        factor: &Factor,
        code: &str,
    ) -> Result<bool> {
        let challenge = match factor.kind {
            FactorKind::Sms => {
                let now = self.clock.now();
                match self
                    .store
                    .mfa()
                    .enrol_challenge(&project.id, &user.id, now, MAX_FAILURES)
                    .await?
                {
                    Some(c) => Some(c),
                    None => return Ok(false),
                }
            }
            FactorKind::Totp => None,
        };
        let ok = self
            .check_code(project, factor, challenge.as_ref(), code)
            .await?;
        if let Some(c) = &challenge {
            let now = self.clock.now();
            if !ok {
                self.store.mfa().fail_challenge(&project.id, &c.id).await?;
            } else if !self
                .store
                .mfa()
                .consume_challenge(&project.id, &c.id, now)
                .await?
            {
                return Ok(false);
            }
        }
        Ok(ok)
    }

    /// Issues the challenge that follows a passed first factor (`first_factor`, its `amr`) for
    /// a user with a second one, and returns its `mfaToken`. The SMS code goes out at once when
    /// SMS is the user's only factor.
    pub async fn challenge(
        &self,
        project: &Project,
        user: &User,
        first_factor: Amr,
        client: &ClientInfo,
    ) -> Result<String> {
        let now = self.clock.now();
        let token = new_refresh_token();
        let id = crate::ids::new::<ChallengeId>();
        let token_hash = secret_hash(&token);
        let challenge = NewChallenge {
            id: &id,
            user_id: &user.id,
            purpose: ChallengePurpose::Login,
            first_factor: Some(first_factor),
            token_hash: Some(&token_hash),
            ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
            expires_at: now + CHALLENGE_TTL_MS,
        };
        self.store
            .mfa()
            .insert_challenge(&project.id, &challenge, now)
            .await?;
        if user.mfa_methods == [FactorKind::Sms] {
            let factor = self
                .confirmed_factor(project, &user.id, FactorKind::Sms)
                .await?;
            let phone = self.phone_of(&factor)?;
            // Over a quota the sign-in cannot finish now: say so, with retryAfter.
            self.count_sms(project, &user.id, &phone, client).await?;
            if let Err(e) = self.send_code(project, &phone, &id).await {
                tracing::warn!(error = ?e, "MFA SMS not sent; the user can ask for it again");
            }
        }
        let mut event = audit::event(&project.id, AuditKind::MfaChallenge, true, Some(&user.id));
        event.ip = client.ip.clone();
        audit::record(&self.store, event, now).await;
        Ok(token)
    }

    async fn confirmed_factor(
        &self,
        project: &Project,
        user_id: &UserId,
        kind: FactorKind,
    ) -> Result<Factor> {
        self.store
            .mfa()
            .factors_of(&project.id, user_id)
            .await?
            .into_iter()
            .find(|f| f.kind == kind && f.is_confirmed())
            .ok_or_else(|| Error::conflict(format!("this user has no {} factor", kind.as_str())))
    }

    /// A live login challenge by its token.
    async fn login_challenge(&self, project: &Project, mfa_token: &str) -> Result<Challenge> {
        self.store
            .mfa()
            .challenge_by_token(
                &project.id,
                &secret_hash(mfa_token),
                self.clock.now(),
                MAX_FAILURES,
            )
            .await?
            .filter(|c| c.purpose == ChallengePurpose::Login)
            .ok_or(Error::InvalidToken)
    }

    /// Sends the SMS code of a login challenge (again).
    pub async fn resend(
        &self,
        project: &Project,
        mfa_token: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let challenge = self.login_challenge(project, mfa_token).await?;
        let factor = self
            .confirmed_factor(project, &challenge.user_id, FactorKind::Sms)
            .await?;
        let phone = self.phone_of(&factor)?;
        self.count_sms(project, &challenge.user_id, &phone, client)
            .await?;
        self.send_code(project, &phone, &challenge.id).await
    }

    /// Completes a login challenge with a code of one of the user's factors or a backup code:
    /// a new aal2 session whose `amr` names both factors.
    pub async fn verify_login(
        &self,
        project: &Project,
        mfa_token: &str,
        code: &str,
        ttl: Option<u64>,
    ) -> Result<(User, Tokens)> {
        // A bad tokenExpiry must not use up the challenge or the code.
        crate::auth::token_ttl(project, ttl)?;
        if code.len() > MAX_CODE_BYTES {
            return Err(Error::InvalidCode);
        }
        let challenge = self.login_challenge(project, mfa_token).await?;
        let attempt = self.begin_attempt(project, &challenge.user_id).await?;
        let Some(amr) = self
            .second_factor_used(project, &challenge, attempt.locked(), code)
            .await?
        else {
            let failures = self
                .store
                .mfa()
                .fail_challenge(&project.id, &challenge.id)
                .await?;
            self.end_attempt(project, &challenge.user_id, attempt, false)
                .await?;
            let mut event = audit::event(
                &project.id,
                AuditKind::MfaVerify,
                false,
                Some(&challenge.user_id),
            );
            event.detail = serde_json::json!({"failures": failures});
            audit::record(&self.store, event, self.clock.now()).await;
            return Err(if attempt.locks_on_failure() {
                Error::MfaLocked
            } else {
                Error::InvalidCode
            });
        };
        self.end_attempt(project, &challenge.user_id, attempt, true)
            .await?;
        self.finish_challenge(project, &challenge, amr, ttl).await
    }

    /// The `amr` of what `code` is: a code of one of the user's factors (not checked once they
    /// are locked: only a backup code unlocks), or a backup code.
    async fn second_factor_used(
        &self,
        project: &Project,
        challenge: &Challenge,
        locked: bool,
        code: &str,
    ) -> Result<Option<Amr>> {
        if !locked {
            for factor in self
                .store
                .mfa()
                .factors_of(&project.id, &challenge.user_id)
                .await?
            {
                if factor.is_confirmed()
                    && self
                        .check_code(project, &factor, Some(challenge), code)
                        .await?
                {
                    return Ok(Some(factor.kind.amr()));
                }
            }
        }
        if self
            .use_backup_code(project, &challenge.user_id, code)
            .await?
        {
            return Ok(Some(Amr::BackupCode));
        }
        Ok(None)
    }

    /// Uses the challenge up and starts the aal2 session.
    async fn finish_challenge(
        &self,
        project: &Project,
        challenge: &Challenge,
        second_amr: Amr,
        ttl: Option<u64>,
    ) -> Result<(User, Tokens)> {
        let now = self.clock.now();
        if !self
            .store
            .mfa()
            .consume_challenge(&project.id, &challenge.id, now)
            .await?
        {
            return Err(Error::InvalidToken);
        }
        let user = self
            .store
            .users()
            .by_id(&project.id, &challenge.user_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        if user.disabled {
            return Err(Error::UserDisabled);
        }
        let client = ClientInfo {
            ip: challenge.ip.clone(),
            ip_is_end_user: false,
            user_agent: challenge.user_agent.clone(),
        };
        let amr = vec![challenge.first_factor.unwrap_or(Amr::Pwd), second_amr];
        let (user, tokens) = self
            .auth
            .finish_login(project, user, &client, ttl, &amr, Aal::Aal2, None)
            .await?;
        let mut event = audit::event(&project.id, AuditKind::MfaVerify, true, Some(&user.id));
        event.detail = serde_json::json!({"method": second_amr.as_str()});
        audit::record(&self.store, event, now).await;
        Ok((user, tokens))
    }

    /// Removes a factor: a confirmed one needs an aal2 session, a pending enrolment can be
    /// cancelled from any session. Removing the last factor is allowed, and audited.
    pub async fn unenroll(
        &self,
        project: &Project,
        access_token: &str,
        method: &str,
    ) -> Result<()> {
        let kind = parse_kind(method)?;
        let (user, claims) = self.auth.verify(project, access_token).await?;
        if user.mfa_methods.contains(&kind) && claims.aal != Aal::Aal2 {
            return Err(Error::MfaStepUpRequired);
        }
        if !self
            .store
            .mfa()
            .delete_factor(&project.id, &user.id, kind)
            .await?
        {
            return Err(Error::NotFound);
        }
        let remaining: Vec<&str> = user
            .mfa_methods
            .iter()
            .filter(|k| **k != kind)
            .map(|k| k.as_str())
            .collect();
        let mut event = audit::event(&project.id, AuditKind::MfaUnenroll, true, Some(&user.id));
        event.detail = serde_json::json!({"method": method, "remaining": remaining});
        audit::record(&self.store, event, self.clock.now()).await;
        Ok(())
    }
}

fn parse_kind(method: &str) -> Result<FactorKind> {
    FactorKind::parse(method).ok_or_else(|| Error::invalid("method", "method must be totp or sms"))
}
