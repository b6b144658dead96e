//! The back-off on second-factor codes (SECURITY M3, L1): every attempt of a user, across
//! challenges, is counted before its code is checked; five in a row are free, then the next one
//! waits 1 s, 2 s, 4 s … up to 15 minutes; after 100 in a row TOTP and SMS codes stop working
//! (NIST SP 800-63B) until a backup code or an operator unlocks them, and the user is told.

use super::MfaService;
use crate::audit;
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::model::{AuditKind, EmailKind, MfaGuard, Project, UserId};

/// Consecutive wrong codes before the back-off starts.
pub const FREE_FAILURES: i64 = 5;
/// The longest wait between two attempts once the back-off has grown.
pub const MAX_BACKOFF_MS: Millis = 15 * 60 * 1000;
/// Consecutive failures after which TOTP and SMS codes stop working (NIST SP 800-63B §3.2.2).
pub const LOCK_AFTER: i64 = 100;

/// How long the attempt after `failures` consecutive failures must wait: nothing for the first
/// [`FREE_FAILURES`], then 1 s, 2 s, 4 s … up to [`MAX_BACKOFF_MS`].
pub fn backoff_ms(failures: i64) -> Millis {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(20) as u32;
    (1000i64 << doublings).min(MAX_BACKOFF_MS)
}

/// One counted code attempt.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    /// Consecutive failures before this attempt.
    pub(super) failures_before: i64,
}

impl Attempt {
    /// TOTP and SMS codes no longer count; only a backup code does.
    pub(super) fn locked(self) -> bool {
        self.failures_before >= LOCK_AFTER
    }

    /// This attempt, if it fails, is the one that locks.
    pub(super) fn locks_on_failure(self) -> bool {
        self.failures_before + 1 >= LOCK_AFTER
    }
}

impl MfaService {
    /// Counts a code attempt of `user_id` before its code is checked, or refuses it while the
    /// back-off runs. Counting first makes concurrent guesses queue behind one another;
    /// [`Self::end_attempt`] starts over on success.
    pub(super) async fn begin_attempt(
        &self,
        project: &Project,
        user_id: &UserId,
    ) -> Result<Attempt> {
        for _ in 0..5 {
            let now = self.clock.now();
            let guard: MfaGuard = self.store.mfa().guard(&project.id, user_id).await?;
            if guard.blocked_until > now {
                let retry_after = ((guard.blocked_until - now + 999) / 1000).max(1) as u64;
                return Err(Error::RateLimited { retry_after });
            }
            let blocked_until = now + backoff_ms(guard.failures + 1);
            if self
                .store
                .mfa()
                .claim_attempt(&project.id, user_id, &guard, blocked_until, now)
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
    pub(super) async fn end_attempt(
        &self,
        project: &Project,
        user_id: &UserId,
        attempt: Attempt,
        ok: bool,
    ) -> Result<()> {
        if ok {
            return self.store.mfa().reset_guard(&project.id, user_id).await;
        }
        let now = self.clock.now();
        if attempt.locks_on_failure()
            && self
                .store
                .mfa()
                .lock_guard(&project.id, user_id, now)
                .await?
        {
            let mut event = audit::event(&project.id, AuditKind::MfaLocked, true, Some(user_id));
            event.detail = serde_json::json!({"failures": attempt.failures_before + 1});
            audit::record(&self.store, event, now).await;
            let user = self.store.users().by_id(&project.id, user_id).await?;
            if let Some(email) = user.and_then(|u| u.email) {
                let message =
                    self.mailer
                        .compose(project, EmailKind::MfaLocked, &email, None, None, 0)?;
                self.store.outbox().enqueue(&message, now).await?;
                self.mailer.wake();
            }
        }
        Ok(())
    }

    /// An operator's unlock of a user's codes (after `mfa_locked`), with the back-off cleared.
    pub async fn unlock(&self, project: &Project, user_id: &UserId) -> Result<()> {
        self.store
            .users()
            .by_id(&project.id, user_id)
            .await?
            .ok_or(Error::NotFound)?;
        self.store.mfa().reset_guard(&project.id, user_id).await?;
        let mut event = audit::event(&project.id, AuditKind::MfaUnlock, true, Some(user_id));
        event.actor = Some("api_key".into());
        audit::record(&self.store, event, self.clock.now()).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
