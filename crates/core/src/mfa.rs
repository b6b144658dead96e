//! Multi-factor authentication: TOTP (RFC 6238) and SMS factors, the login challenge that
//! follows a correct password, and backup codes.
//!
//! - A factor counts once confirmed with a code. TOTP seeds (160 bits, OS CSPRNG) and phone
//!   numbers are sealed with the master key, bound to the factor id, and the seed is shown only
//!   at enrolment (SECURITY M1, M8, K1).
//! - A TOTP code is accepted for the current step ±1 and only once: the factor's last used step
//!   only moves forward, in one conditional update (M1, M2).
//! - A password login of a user with a factor answers `mfa_required` with an `mfaToken`: 256
//!   bits, stored as SHA-256, single use, 5 minutes, bound to the user and project. Five wrong
//!   codes kill it. SMS codes are bound to their challenge (M7).
//! - Every code attempt of a user, across challenges, goes through a back-off (M3, L1): five
//!   free, then a wait doubling from 1 s to 15 min. After 100 consecutive failures TOTP and SMS
//!   codes stop working (NIST SP 800-63B), only a backup code unlocks them, and the user is told
//!   by email.
//! - Backup codes: ten of 120 bits each, stored as SHA-256, single use, shown once; a new set
//!   voids the old (M6). Confirming the first factor replaces any earlier set with a fresh one,
//!   and (by default) ends the user's other sessions (S5).
//! - SMS sends are capped per number, per user, per end-user address and per project (L7).
//! - Enrolling when a factor exists, removing a factor and making backup codes need an aal2
//!   session (S6); sessions started with a password alone stay aal1 (M4).

use base64::Engine;
use std::sync::Arc;
use totp_rs::{Algorithm, TOTP};

use crate::audit;
use crate::auth::{AuthService, ClientInfo, Tokens};
use crate::clock::{Clock, Millis};
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::ids::{new_id, new_refresh_token, random_bytes, secret_hash};
use crate::limits::{Quota, Quotas};
use crate::mail::Mailer;
use crate::model::Project;
use crate::model::User;
use crate::model::{Factor, MfaGuard, OnConfirm};
use crate::sms::{is_e164, SmsSender};
use crate::store::Store;

/// Lifetime of an `mfaToken` and of an SMS code.
pub const CHALLENGE_TTL_MS: Millis = 5 * 60 * 1000;
/// Wrong codes that kill a challenge.
pub const MAX_FAILURES: i64 = 5;
/// Consecutive wrong codes before the back-off starts.
pub const FREE_FAILURES: i64 = 5;
/// The longest wait between two attempts once the back-off has grown.
pub const MAX_BACKOFF_MS: Millis = 15 * 60 * 1000;
/// Consecutive failures after which TOTP and SMS codes stop working (NIST SP 800-63B §3.2.2).
pub const LOCK_AFTER: i64 = 100;
/// SMS per number per 10 minutes (SECURITY L7).
pub const SMS_PER_NUMBER: i64 = 3;
const SMS_NUMBER_WINDOW_MS: Millis = 10 * 60 * 1000;
/// SMS per user per hour, whatever the number (enrolling number after number is SMS pumping).
pub const SMS_PER_USER: i64 = 6;
/// SMS asked for from one end-user address per hour (when the backend passes it).
pub const SMS_PER_IP: i64 = 10;
const HOUR_MS: Millis = 3600 * 1000;
const STEP_SECS: u64 = 30;

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
    quotas: Quotas,
    clock: Arc<Clock>,
}

/// How long the attempt after `failures` consecutive failures must wait: nothing for the first
/// [`FREE_FAILURES`], then 1 s, 2 s, 4 s … up to [`MAX_BACKOFF_MS`].
pub fn backoff_ms(failures: i64) -> Millis {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(20) as u32;
    (1000i64 << doublings).min(MAX_BACKOFF_MS)
}

/// One counted code attempt (see [`MfaService::begin_attempt`]).
#[derive(Debug, Clone, Copy)]
struct Attempt {
    /// Consecutive failures before this attempt.
    failures_before: i64,
}

impl Attempt {
    /// TOTP and SMS codes no longer count; only a backup code does.
    fn locked(self) -> bool {
        self.failures_before >= LOCK_AFTER
    }
}

fn totp(secret: Vec<u8>, issuer: Option<String>, account: String) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, secret, issuer, account)
}

/// The step within ±1 of `now_secs` whose code is `code`, if any.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<u64> {
    let t = totp(secret.to_vec(), None, String::new());
    let current = now_secs / STEP_SECS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| {
            let expected = t.generate(step * STEP_SECS);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
        })
}

/// Ten backup codes of 120 bits, as `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`.
fn new_backup_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let raw = data_encoding::BASE32_NOPAD
                .encode(&random_bytes::<15>())
                .to_ascii_lowercase();
            raw.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

fn backup_code_hashes(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|c| secret_hash(&normalize_backup_code(c)))
        .collect()
}

fn normalize_backup_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

impl MfaService {
    pub fn new(
        store: Store,
        auth: AuthService,
        master: MasterKey,
        sms: Arc<SmsSender>,
        mailer: Arc<Mailer>,
        quotas: Quotas,
        clock: Arc<Clock>,
    ) -> Self {
        Self {
            store,
            auth,
            master,
            sms,
            mailer,
            quotas,
            clock,
        }
    }

    fn sms_code_hash(&self, challenge_id: &str, code: &str) -> String {
        let key = self.master.derive("protekt/sms-code/v1");
        data_encoding::HEXLOWER.encode(&crate::crypto::hmac_sha256(
            &key,
            format!("{challenge_id}:{code}").as_bytes(),
        ))
    }

    fn open(&self, sealed: &Option<String>, aad: &str) -> Result<Vec<u8>> {
        sealed
            .as_deref()
            .and_then(|s| self.master.open(s, aad))
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "cannot open an MFA secret (wrong master key?)"
                ))
            })
    }

    /// The user's confirmed factors' methods, e.g. `["totp"]`.
    pub async fn methods(&self, project: &Project, user_id: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .factors(&project.id, user_id)
            .await?
            .into_iter()
            .filter(|f| f.confirmed_at.is_some())
            .map(|f| f.method)
            .collect())
    }

    /// Counts one SMS against every quota it falls under (SECURITY L7): the number, the user,
    /// the end user's address when the backend gives it, and the project. Call before changing
    /// anything.
    async fn count_sms(
        &self,
        project: &Project,
        user_id: &str,
        phone: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let q = &self.quotas;
        let mut quotas = vec![
            Quota {
                key: q.key("sms:number", &project.id, phone),
                limit: SMS_PER_NUMBER,
                window_ms: SMS_NUMBER_WINDOW_MS,
            },
            Quota {
                key: q.key("sms:user", &project.id, user_id),
                limit: SMS_PER_USER,
                window_ms: HOUR_MS,
            },
            Quota {
                key: q.key("sms:project", &project.id, ""),
                limit: project.settings.sms_per_hour,
                window_ms: HOUR_MS,
            },
        ];
        if let (Some(ip), true) = (&client.ip, client.ip_is_end_user) {
            quotas.push(Quota {
                key: q.key("sms:ip", &project.id, ip),
                limit: SMS_PER_IP,
                window_ms: HOUR_MS,
            });
        }
        q.charge(&quotas).await
    }

    /// Gives the challenge a new code and texts it (the caller counted the quota).
    async fn send_code(&self, project: &Project, phone: &str, challenge_id: &str) -> Result<()> {
        let code = format!("{:06}", u32::from_be_bytes(random_bytes::<4>()) % 1_000_000);
        self.store
            .set_challenge_sms_code(
                &project.id,
                challenge_id,
                &self.sms_code_hash(challenge_id, &code),
            )
            .await?;
        let text = format!(
            "{} is your {} verification code. It expires in 5 minutes.",
            code, project.name
        );
        self.sms
            .send("mfa_code", phone, &text, Some(&code))
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("SMS delivery failed: {e}")))
    }

    /// Starts enrolling `method` for the access token's user.
    pub async fn enroll(
        &self,
        project: &Project,
        access_token: &str,
        method: &str,
        phone: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Enrolment> {
        let (user, claims) = self.auth.verify(project, access_token).await?;
        let factors = self.store.factors(&project.id, &user.id).await?;
        if factors.iter().any(|f| f.confirmed_at.is_some()) && claims.aal != "aal2" {
            return Err(Error::MfaStepUpRequired);
        }
        if factors
            .iter()
            .any(|f| f.method == method && f.confirmed_at.is_some())
        {
            return Err(Error::invalid(
                "method",
                format!("{method} is already enrolled; unenroll it first"),
            ));
        }
        let now = self.clock.now();
        let id = new_id("mfa");
        match method {
            "totp" => {
                let secret = random_bytes::<20>().to_vec();
                let issuer = project.name.replace(':', " ");
                let uri = totp(secret.clone(), Some(issuer), user.email.clone()).get_url();
                let sealed = self
                    .master
                    .seal(&secret, &format!("mfa_factor:{id}:secret"));
                self.store
                    .put_pending_factor(
                        &project.id,
                        &user.id,
                        &id,
                        "totp",
                        Some(&sealed),
                        None,
                        None,
                        now,
                    )
                    .await?;
                let qr = qrcode::QrCode::new(uri.as_bytes())
                    .map_err(|e| Error::Internal(anyhow::anyhow!("QR code: {e}")))?
                    .render::<qrcode::render::svg::Color>()
                    .min_dimensions(200, 200)
                    .build();
                let qr = format!(
                    "data:image/svg+xml;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(qr)
                );
                Ok(Enrolment {
                    totp_uri: Some(uri),
                    qr_code: Some(qr),
                })
            }
            "sms" => {
                let phone = phone.map(str::trim).filter(|p| is_e164(p)).ok_or_else(|| {
                    Error::invalid(
                        "phone",
                        "phone must be an E.164 number such as +14155550123",
                    )
                })?;
                self.count_sms(project, &user.id, phone, client).await?;
                let sealed = self
                    .master
                    .seal(phone.as_bytes(), &format!("mfa_factor:{id}:phone"));
                let hint = &phone[phone.len() - 2..];
                self.store
                    .put_pending_factor(
                        &project.id,
                        &user.id,
                        &id,
                        "sms",
                        None,
                        Some(&sealed),
                        Some(hint),
                        now,
                    )
                    .await?;
                let challenge = new_id("mfc");
                self.store
                    .insert_challenge(
                        &project.id,
                        &user.id,
                        &challenge,
                        "enrol",
                        None,
                        None,
                        None,
                        None,
                        now,
                        now + CHALLENGE_TTL_MS,
                    )
                    .await?;
                self.send_code(project, phone, &challenge).await?;
                Ok(Enrolment::default())
            }
            _ => Err(Error::invalid("method", "method must be totp or sms")),
        }
    }

    /// Confirms a pending factor of the access token's user with a code from it. When it is the
    /// user's first factor, backup codes made before it are replaced by a fresh set, returned
    /// here (shown once), and the user's other sessions end unless the project turned that off:
    /// whoever held an aal1 session or a code from before must not outlive the new factor
    /// (SECURITY M6, S5).
    pub async fn confirm(
        &self,
        project: &Project,
        access_token: &str,
        code: &str,
    ) -> Result<Option<Vec<String>>> {
        let (user, claims) = self.auth.verify(project, access_token).await?;
        let factors = self.store.factors(&project.id, &user.id).await?;
        if !factors.iter().any(|f| f.confirmed_at.is_none()) {
            return Err(Error::invalid(
                "code",
                "there is no enrolment to confirm; call enroll first",
            ));
        }
        let first = !factors.iter().any(|f| f.confirmed_at.is_some());
        let attempt = self.begin_attempt(project, &user.id).await?;
        let now = self.clock.now();
        for f in factors.iter().filter(|f| f.confirmed_at.is_none()) {
            let ok = match f.method.as_str() {
                "totp" => self.check_totp(project, f, code).await?,
                "sms" => match self
                    .store
                    .enrol_challenge(&project.id, &user.id, now, MAX_FAILURES)
                    .await?
                {
                    Some(c) => {
                        if self.sms_code_matches(c.sms_code_hash.as_deref(), &c.id, code) {
                            self.store
                                .consume_challenge(&project.id, &c.id, now)
                                .await?
                        } else {
                            self.store.fail_challenge(&project.id, &c.id).await?;
                            false
                        }
                    }
                    None => false,
                },
                _ => false,
            };
            if !ok {
                continue;
            }
            let fresh_codes = first.then(new_backup_codes);
            let hashes = fresh_codes.as_deref().map(backup_code_hashes);
            let effects = OnConfirm {
                replace_backup_codes: hashes.as_deref(),
                end_sessions_except: project
                    .settings
                    .end_other_sessions_on_mfa_change
                    .then_some(claims.sid.as_str()),
            };
            if self
                .store
                .confirm_factor(&project.id, &user.id, &f.id, &effects, now)
                .await?
            {
                self.end_attempt(project, &user.id, attempt, true).await?;
                let mut event = audit::event(&project.id, "mfa.enroll", true, Some(&user.id));
                event.detail = serde_json::json!({"method": f.method, "first": first});
                audit::record(&self.store, event, now).await;
                return Ok(fresh_codes);
            }
        }
        self.end_attempt(project, &user.id, attempt, false).await?;
        Err(Error::InvalidCode)
    }

    fn sms_code_matches(&self, stored: Option<&str>, challenge_id: &str, code: &str) -> bool {
        stored.is_some_and(|h| {
            subtle::ConstantTimeEq::ct_eq(
                h.as_bytes(),
                self.sms_code_hash(challenge_id, code.trim()).as_bytes(),
            )
            .into()
        })
    }

    /// Counts a code attempt of `user_id` before its code is checked, or refuses it while the
    /// back-off runs (SECURITY M3, L1). Counting first makes concurrent guesses queue behind one
    /// another; [`Self::end_attempt`] starts over on success.
    async fn begin_attempt(&self, project: &Project, user_id: &str) -> Result<Attempt> {
        for _ in 0..5 {
            let now = self.clock.now();
            let guard: MfaGuard = self.store.mfa_guard(&project.id, user_id).await?;
            if guard.blocked_until > now {
                let retry_after = ((guard.blocked_until - now + 999) / 1000).max(1) as u64;
                return Err(Error::RateLimited { retry_after });
            }
            let blocked_until = now + backoff_ms(guard.failures + 1);
            if self
                .store
                .claim_mfa_attempt(&project.id, user_id, &guard, blocked_until, now)
                .await?
            {
                return Ok(Attempt {
                    failures_before: guard.failures,
                });
            }
        }
        // Lost the race every time: others are guessing at once.
        Err(Error::RateLimited { retry_after: 1 })
    }

    /// Settles an attempt: success clears the back-off and the lock; the failure that reaches
    /// [`LOCK_AFTER`] locks TOTP and SMS codes and tells the user by email.
    async fn end_attempt(
        &self,
        project: &Project,
        user_id: &str,
        attempt: Attempt,
        ok: bool,
    ) -> Result<()> {
        if ok {
            return self.store.reset_mfa_guard(&project.id, user_id).await;
        }
        let now = self.clock.now();
        if attempt.failures_before + 1 >= LOCK_AFTER
            && self.store.lock_mfa_guard(&project.id, user_id, now).await?
        {
            let mut event = audit::event(&project.id, "mfa.locked", true, Some(user_id));
            event.detail = serde_json::json!({"failures": attempt.failures_before + 1});
            audit::record(&self.store, event, now).await;
            if let Some(user) = self.store.user_by_id(&project.id, user_id).await? {
                let message = self
                    .mailer
                    .compose(project, "mfa_locked", &user.email, None, 0)?;
                self.store.enqueue_email(&message, now).await?;
                self.mailer.wake();
            }
        }
        Ok(())
    }

    async fn check_totp(&self, project: &Project, factor: &Factor, code: &str) -> Result<bool> {
        let secret = self.open(&factor.secret, &format!("mfa_factor:{}:secret", factor.id))?;
        let now_secs = (self.clock.now() / 1000).max(0) as u64;
        match matching_step(&secret, code.trim(), now_secs) {
            // Accepted once: a replay of the same (or an older) step fails here.
            Some(step) => {
                self.store
                    .use_totp_step(&project.id, &factor.id, step as i64)
                    .await
            }
            None => Ok(false),
        }
    }

    /// Issues the challenge that follows a passed first factor for a user with a second one,
    /// and returns its `mfaToken`. The SMS code goes out at once when SMS is the user's only
    /// factor.
    pub async fn challenge(
        &self,
        project: &Project,
        user: &User,
        client: &ClientInfo,
    ) -> Result<String> {
        let now = self.clock.now();
        let token = new_refresh_token();
        let id = new_id("mfc");
        self.store
            .insert_challenge(
                &project.id,
                &user.id,
                &id,
                "login",
                Some(&secret_hash(&token)),
                None,
                client.ip.as_deref(),
                client.user_agent.as_deref(),
                now,
                now + CHALLENGE_TTL_MS,
            )
            .await?;
        let factors: Vec<Factor> = self
            .store
            .factors(&project.id, &user.id)
            .await?
            .into_iter()
            .filter(|f| f.confirmed_at.is_some())
            .collect();
        if factors.iter().all(|f| f.method == "sms") {
            if let Some(f) = factors.first() {
                let phone =
                    String::from_utf8(self.open(&f.phone, &format!("mfa_factor:{}:phone", f.id))?)
                        .unwrap_or_default();
                // Over a quota the login cannot finish now: say so, with retryAfter.
                self.count_sms(project, &user.id, &phone, client).await?;
                if let Err(e) = self.send_code(project, &phone, &id).await {
                    tracing::warn!(error = ?e, "MFA SMS not sent; the user can ask for it again");
                }
            }
        }
        let mut event = audit::event(&project.id, "mfa.challenge", true, Some(&user.id));
        event.ip = client.ip.clone();
        audit::record(&self.store, event, now).await;
        Ok(token)
    }

    /// Sends the SMS code of a login challenge (again).
    pub async fn resend(
        &self,
        project: &Project,
        mfa_token: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let now = self.clock.now();
        let challenge = self
            .store
            .challenge_by_token(&project.id, &secret_hash(mfa_token), now, MAX_FAILURES)
            .await?
            .ok_or(Error::InvalidToken)?;
        let factor = self
            .store
            .factors(&project.id, &challenge.user_id)
            .await?
            .into_iter()
            .find(|f| f.method == "sms" && f.confirmed_at.is_some())
            .ok_or_else(|| Error::invalid("mfaToken", "this user has no SMS factor"))?;
        let phone = String::from_utf8(
            self.open(&factor.phone, &format!("mfa_factor:{}:phone", factor.id))?,
        )
        .unwrap_or_default();
        self.count_sms(project, &challenge.user_id, &phone, client)
            .await?;
        self.send_code(project, &phone, &challenge.id).await
    }

    /// Completes a login challenge with a TOTP code, the SMS code or a backup code: a new aal2
    /// session whose `amr` names both factors.
    pub async fn verify_login(
        &self,
        project: &Project,
        mfa_token: &str,
        code: &str,
        ttl: Option<u64>,
    ) -> Result<(User, Tokens)> {
        let now = self.clock.now();
        // A bad tokenExpiry must not use up the challenge or the code.
        crate::auth::token_ttl(project, ttl)?;
        if code.len() > 64 {
            return Err(Error::InvalidCode);
        }
        let challenge = self
            .store
            .challenge_by_token(&project.id, &secret_hash(mfa_token), now, MAX_FAILURES)
            .await?
            .filter(|c| c.purpose == "login")
            .ok_or(Error::InvalidToken)?;
        let attempt = self.begin_attempt(project, &challenge.user_id).await?;
        let factors: Vec<Factor> = self
            .store
            .factors(&project.id, &challenge.user_id)
            .await?
            .into_iter()
            .filter(|f| f.confirmed_at.is_some())
            .collect();
        let mut method = None;
        // Once locked, TOTP and SMS codes are not even checked: only a backup code unlocks.
        if !attempt.locked() {
            if let Some(f) = factors.iter().find(|f| f.method == "totp") {
                if self.check_totp(project, f, code).await? {
                    method = Some("otp");
                }
            }
            if method.is_none()
                && factors.iter().any(|f| f.method == "sms")
                && self.sms_code_matches(challenge.sms_code_hash.as_deref(), &challenge.id, code)
            {
                method = Some("sms");
            }
        }
        if method.is_none() {
            let normalized = normalize_backup_code(code);
            if normalized.len() == 24
                && self
                    .store
                    .use_backup_code(
                        &project.id,
                        &challenge.user_id,
                        &secret_hash(&normalized),
                        now,
                    )
                    .await?
            {
                method = Some("backup_code");
            }
        }
        let Some(method) = method else {
            let failures = self
                .store
                .fail_challenge(&project.id, &challenge.id)
                .await?;
            self.end_attempt(project, &challenge.user_id, attempt, false)
                .await?;
            let mut event =
                audit::event(&project.id, "mfa.verify", false, Some(&challenge.user_id));
            event.detail = serde_json::json!({"failures": failures});
            audit::record(&self.store, event, now).await;
            if attempt.failures_before + 1 >= LOCK_AFTER {
                return Err(Error::MfaLocked);
            }
            return Err(Error::InvalidCode);
        };
        self.end_attempt(project, &challenge.user_id, attempt, true)
            .await?;
        if !self
            .store
            .consume_challenge(&project.id, &challenge.id, now)
            .await?
        {
            return Err(Error::InvalidToken);
        }
        let user = self
            .store
            .user_by_id(&project.id, &challenge.user_id)
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
        let amr = vec!["pwd".to_owned(), method.to_owned()];
        let (user, tokens) = self
            .auth
            .finish_login(project, user, &client, ttl, &amr, "aal2", None)
            .await?;
        let mut event = audit::event(&project.id, "mfa.verify", true, Some(&user.id));
        event.detail = serde_json::json!({"method": method});
        audit::record(&self.store, event, now).await;
        Ok((user, tokens))
    }

    /// Removes a factor; needs an aal2 session. Removing the last one is allowed, and audited.
    pub async fn unenroll(
        &self,
        project: &Project,
        access_token: &str,
        method: &str,
    ) -> Result<()> {
        if method != "totp" && method != "sms" {
            return Err(Error::invalid("method", "method must be totp or sms"));
        }
        let (user, claims) = self.auth.verify(project, access_token).await?;
        let confirmed = self
            .store
            .factors(&project.id, &user.id)
            .await?
            .iter()
            .any(|f| f.method == method && f.confirmed_at.is_some());
        // Removing a confirmed factor needs aal2; an enrolment still pending can be cancelled.
        if confirmed && claims.aal != "aal2" {
            return Err(Error::MfaStepUpRequired);
        }
        if !self
            .store
            .delete_factor(&project.id, &user.id, method)
            .await?
        {
            return Err(Error::NotFound);
        }
        let remaining = self.methods(project, &user.id).await?;
        let mut event = audit::event(&project.id, "mfa.unenroll", true, Some(&user.id));
        event.detail = serde_json::json!({"method": method, "remaining": remaining});
        audit::record(&self.store, event, self.clock.now()).await;
        Ok(())
    }

    /// An operator's unlock of a user's codes (after `mfa_locked`), with the back-off cleared.
    pub async fn unlock(&self, project: &Project, user_id: &str) -> Result<()> {
        self.store
            .user_by_id(&project.id, user_id)
            .await?
            .ok_or(Error::NotFound)?;
        self.store.reset_mfa_guard(&project.id, user_id).await?;
        let mut event = audit::event(&project.id, "mfa.unlock", true, Some(user_id));
        event.actor = Some("api_key".into());
        audit::record(&self.store, event, self.clock.now()).await;
        Ok(())
    }

    /// Ten new backup codes (shown once); the previous set stops working.
    pub async fn backup_codes(&self, project: &Project, access_token: &str) -> Result<Vec<String>> {
        let (user, claims) = self.auth.verify(project, access_token).await?;
        if !self.methods(project, &user.id).await?.is_empty() && claims.aal != "aal2" {
            return Err(Error::MfaStepUpRequired);
        }
        let codes = new_backup_codes();
        let hashes = backup_code_hashes(&codes);
        let now = self.clock.now();
        self.store
            .replace_backup_codes(&project.id, &user.id, &hashes, now)
            .await?;
        audit::record(
            &self.store,
            audit::event(&project.id, "mfa.backup_codes", true, Some(&user.id)),
            now,
        )
        .await;
        Ok(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, 8 digits.
    #[test]
    fn rfc6238_test_vectors_m1() {
        let secret = b"12345678901234567890".to_vec();
        let t = TOTP::new_unchecked(Algorithm::SHA1, 8, 1, 30, secret, None, String::new());
        for (time, code) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(t.generate(time), code, "T={time}");
        }
    }

    #[test]
    fn a_window_of_one_step_each_way_m1() {
        let secret = random_bytes::<20>().to_vec();
        let t = totp(secret.clone(), None, String::new());
        let now = 1_800_000_000u64;
        for offset in [-30i64, 0, 30] {
            let code = t.generate((now as i64 + offset) as u64);
            assert!(
                matching_step(&secret, &code, now).is_some(),
                "offset {offset}"
            );
        }
        // Two steps away is outside the window (barring a one-in-a-million digit collision).
        let old = t.generate(now - 60);
        let near: Vec<String> = [-30i64, 0, 30]
            .iter()
            .map(|o| t.generate((now as i64 + o) as u64))
            .collect();
        if !near.contains(&old) {
            assert!(matching_step(&secret, &old, now).is_none());
        }
    }

    #[test]
    fn the_back_off_doubles_up_to_fifteen_minutes_m3_l1() {
        assert_eq!(backoff_ms(0), 0);
        assert_eq!(backoff_ms(FREE_FAILURES - 1), 0);
        assert_eq!(backoff_ms(FREE_FAILURES), 1000);
        assert_eq!(backoff_ms(FREE_FAILURES + 3), 8000);
        assert_eq!(backoff_ms(LOCK_AFTER), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(i64::MAX), MAX_BACKOFF_MS);
        // At most ~96 guesses a day once it has grown, and never more than LOCK_AFTER in a row.
        const { assert!(24 * 3600 * 1000 / MAX_BACKOFF_MS <= 96) };
    }

    #[test]
    fn backup_codes_normalise() {
        assert_eq!(
            normalize_backup_code("ABCD-efgh ijkl-mnop-qrst-uvwx"),
            "abcdefghijklmnopqrstuvwx"
        );
    }
}
