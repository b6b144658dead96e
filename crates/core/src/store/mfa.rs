//! MFA factors, challenges and backup codes.

use sqlx::Row;

use super::Store;
use crate::cache::Invalidation;
use crate::clock::Millis;
use crate::error::Result;
use crate::model::{
    Amr, Challenge, ChallengeId, ChallengePurpose, Factor, FactorId, FactorKind, MfaGuard,
    NewChallenge, NewFactor, OnConfirm, ProjectId, UserId,
};

/// Second factors, their challenges, backup codes and the back-off on codes. Reached through [`Store::mfa`].
pub struct Mfa<'a>(pub(super) &'a Store);

impl Mfa<'_> {
    pub async fn factors_of(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
    ) -> Result<Vec<Factor>> {
        let rows = sqlx::query(
            "select id, method, secret, phone, phone_hint, confirmed_at, last_used_step, created_at \
             from mfa_factor where project_id = $1 and user_id = $2 order by created_at, id",
        )
        .bind(project_id)
        .bind(user_id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let method: String = r.try_get("method")?;
                Ok(Factor {
                    id: r.try_get("id")?,
                    kind: FactorKind::parse(&method)
                        .ok_or_else(|| anyhow::anyhow!("unknown factor kind {method:?}"))?,
                    secret: r.try_get("secret")?,
                    phone: r.try_get("phone")?,
                    phone_hint: r.try_get("phone_hint")?,
                    confirmed_at: r.try_get("confirmed_at")?,
                    last_used_step: r.try_get("last_used_step")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Starts (or restarts) the enrolment of a factor: a pending factor replaces a pending one
    /// of the same kind; a confirmed one must be removed first (the caller checks).
    pub async fn put_pending_factor(
        &self,
        project_id: &ProjectId,
        f: &NewFactor<'_>,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        sqlx::query("delete from mfa_factor where project_id = $1 and user_id = $2 and method = $3 and confirmed_at is null")
            .bind(project_id)
            .bind(f.user_id)
            .bind(f.kind.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into mfa_factor (id, project_id, user_id, method, secret, phone, phone_hint, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(f.id)
        .bind(project_id)
        .bind(f.user_id)
        .bind(f.kind.as_str())
        .bind(f.secret)
        .bind(f.phone)
        .bind(f.phone_hint)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Confirms a pending factor and applies `effects` in the same transaction; false if the
    /// factor was confirmed (or removed) meanwhile, and then nothing changes.
    pub async fn confirm_factor(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        factor_id: &FactorId,
        effects: &OnConfirm<'_>,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "update mfa_factor set confirmed_at = $1 where project_id = $2 and user_id = $3 and id = $4 and confirmed_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .bind(factor_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        step!("factor.confirm.after_confirm");
        if let Some(hashes) = effects.replace_backup_codes {
            Self::replace_backup_codes_in(&mut tx, project_id, user_id, hashes, now).await?;
        }
        step!("factor.confirm.after_backup_codes");
        if let Some(keep) = effects.end_sessions_except {
            sqlx::query(
                "update session set ended_at = $1 where project_id = $2 and user_id = $3 and ended_at is null and id <> $4",
            )
            .bind(now)
            .bind(project_id)
            .bind(user_id)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        }
        // Cached session views carry the user's factors.
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(true)
    }

    /// Records the TOTP time step just used; false if that step (or a later one) was already
    /// used, so a code is accepted once (SECURITY M2). One conditional update: race-free.
    pub async fn use_totp_step(
        &self,
        project_id: &ProjectId,
        factor_id: &FactorId,
        step: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update mfa_factor set last_used_step = $1 where project_id = $2 and id = $3 and last_used_step < $1",
        )
        .bind(step)
        .bind(project_id)
        .bind(factor_id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_factor(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        kind: FactorKind,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "delete from mfa_factor where project_id = $1 and user_id = $2 and method = $3",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(kind.as_str())
        .execute(&mut *tx)
        .await?;
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_challenge(
        &self,
        project_id: &ProjectId,
        c: &NewChallenge<'_>,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into mfa_challenge (id, project_id, user_id, purpose, first_factor, token_hash, ip, user_agent, \
             created_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.id)
        .bind(project_id)
        .bind(c.user_id)
        .bind(c.purpose.as_str())
        .bind(c.first_factor.map(Amr::as_str))
        .bind(c.token_hash)
        .bind(c.ip)
        .bind(c.user_agent)
        .bind(now)
        .bind(c.expires_at)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    const CHALLENGE_COLUMNS: &'static str =
        "id, user_id, purpose, first_factor, sms_code_hash, failures, ip, user_agent, expires_at";

    fn challenge_from(r: &sqlx::any::AnyRow) -> Result<Challenge> {
        let purpose: String = r.try_get("purpose")?;
        Ok(Challenge {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            purpose: ChallengePurpose::parse(&purpose)
                .ok_or_else(|| anyhow::anyhow!("unknown challenge purpose {purpose:?}"))?,
            first_factor: match r.try_get::<Option<String>, _>("first_factor")? {
                None => None,
                Some(amr) => Some(
                    Amr::parse(&amr)
                        .ok_or_else(|| anyhow::anyhow!("unknown first factor {amr:?}"))?,
                ),
            },
            sms_code_hash: r.try_get("sms_code_hash")?,
            failures: r.try_get("failures")?,
            ip: r.try_get("ip")?,
            user_agent: r.try_get("user_agent")?,
            expires_at: r.try_get("expires_at")?,
        })
    }

    /// A live challenge by its token (unused, unexpired, under the failure limit).
    pub async fn challenge_by_token(
        &self,
        project_id: &ProjectId,
        token_hash: &str,
        now: Millis,
        max_failures: i64,
    ) -> Result<Option<Challenge>> {
        let row = sqlx::query(&format!(
            "select {} from mfa_challenge where project_id = $1 and token_hash = $2 and used_at is null \
             and expires_at > $3 and failures < $4",
            Self::CHALLENGE_COLUMNS
        ))
        .bind(project_id)
        .bind(token_hash)
        .bind(now)
        .bind(max_failures)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(Self::challenge_from).transpose()
    }

    /// The newest live enrolment challenge of a user (for SMS enrolment).
    pub async fn enrol_challenge(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        now: Millis,
        max_failures: i64,
    ) -> Result<Option<Challenge>> {
        let row = sqlx::query(&format!(
            "select {} from mfa_challenge where project_id = $1 and user_id = $2 and purpose = $5 \
             and used_at is null and expires_at > $3 and failures < $4 order by created_at desc limit 1",
            Self::CHALLENGE_COLUMNS
        ))
        .bind(project_id)
        .bind(user_id)
        .bind(now)
        .bind(max_failures)
        .bind(ChallengePurpose::Enrol.as_str())
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(Self::challenge_from).transpose()
    }

    pub async fn set_challenge_sms_code(
        &self,
        project_id: &ProjectId,
        challenge_id: &ChallengeId,
        code_hash: &str,
    ) -> Result<()> {
        sqlx::query(
            "update mfa_challenge set sms_code_hash = $1 where project_id = $2 and id = $3",
        )
        .bind(code_hash)
        .bind(project_id)
        .bind(challenge_id)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// Counts a wrong code against a challenge; returns the failures so far.
    pub async fn fail_challenge(
        &self,
        project_id: &ProjectId,
        challenge_id: &ChallengeId,
    ) -> Result<i64> {
        let row = sqlx::query(
            "update mfa_challenge set failures = failures + 1 where project_id = $1 and id = $2 returning failures",
        )
        .bind(project_id)
        .bind(challenge_id)
        .fetch_optional(&self.0.writer)
        .await?;
        Ok(match row {
            Some(r) => r.try_get("failures")?,
            None => i64::MAX,
        })
    }

    /// Uses a challenge up; of concurrent attempts exactly one gets `true`.
    pub async fn consume_challenge(
        &self,
        project_id: &ProjectId,
        challenge_id: &ChallengeId,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update mfa_challenge set used_at = $1 where project_id = $2 and id = $3 and used_at is null and expires_at > $1",
        )
        .bind(now)
        .bind(project_id)
        .bind(challenge_id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the user's backup codes with `hashes`.
    pub async fn replace_backup_codes(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        hashes: &[String],
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        Self::replace_backup_codes_in(&mut tx, project_id, user_id, hashes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_backup_codes_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        project_id: &ProjectId,
        user_id: &UserId,
        hashes: &[String],
        now: Millis,
    ) -> Result<()> {
        sqlx::query("delete from backup_code where project_id = $1 and user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        for hash in hashes {
            sqlx::query("insert into backup_code (id, project_id, user_id, code_hash, created_at) values ($1, $2, $3, $4, $5)")
                .bind(crate::ids::new_id("bkc"))
                .bind(project_id)
                .bind(user_id)
                .bind(hash)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Uses a backup code of the user; true once per code.
    pub async fn use_backup_code(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        code_hash: &str,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update backup_code set used_at = $1 where project_id = $2 and user_id = $3 and code_hash = $4 and used_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .bind(code_hash)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user's back-off state (all zero when there is none).
    pub async fn guard(&self, project_id: &ProjectId, user_id: &UserId) -> Result<MfaGuard> {
        let row = sqlx::query(
            "select failures, blocked_until, locked_at from mfa_guard where project_id = $1 and user_id = $2",
        )
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(&self.0.pool)
        .await?;
        match row {
            Some(r) => Ok(MfaGuard {
                failures: r.try_get("failures")?,
                blocked_until: r.try_get("blocked_until")?,
                locked_at: r.try_get("locked_at")?,
            }),
            None => Ok(MfaGuard::default()),
        }
    }

    /// Counts one attempt if the state is still `seen` and not blocked at `now`, and blocks the
    /// next one until `blocked_until`. Of concurrent attempts on one state exactly one gets
    /// `true` (a compare-and-set), so guesses cannot run in parallel past the back-off.
    pub async fn claim_attempt(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        seen: &MfaGuard,
        blocked_until: Millis,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "insert into mfa_guard (project_id, user_id, failures, blocked_until) values ($1, $2, 1, $3) \
             on conflict (project_id, user_id) do update set failures = mfa_guard.failures + 1, \
             blocked_until = excluded.blocked_until \
             where mfa_guard.failures = $4 and mfa_guard.blocked_until <= $5",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(blocked_until)
        .bind(seen.failures)
        .bind(now)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A right code: the back-off and the lock start over.
    pub async fn reset_guard(&self, project_id: &ProjectId, user_id: &UserId) -> Result<()> {
        sqlx::query(
            "update mfa_guard set failures = 0, blocked_until = 0, locked_at = null where project_id = $1 and user_id = $2",
        )
        .bind(project_id)
        .bind(user_id)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// Marks the user's codes as locked (after too many consecutive failures); true the first
    /// time, so the user is told once.
    pub async fn lock_guard(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update mfa_guard set locked_at = $1 where project_id = $2 and user_id = $3 and locked_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
