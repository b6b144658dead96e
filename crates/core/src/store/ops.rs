//! Operational tables: audit events, shared rate counters, job leases and cleanup.

use sqlx::Row;

use super::Store;
use crate::clock::Millis;
use crate::error::Result;
use crate::model::{AuditEvent, ProjectId, StoredEvent};

/// What a cleanup pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub sessions: u64,
    pub revoked_tokens: u64,
    pub one_time_tokens: u64,
    pub emails: u64,
    pub rate_counters: u64,
    pub mfa_challenges: u64,
}

/// Ended or expired sessions are kept this long (for the sessions list's sake, and audits).
pub const ENDED_SESSION_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// Audit events, rate counters, job leases and cleanup. Reached through [`Store::ops`].
pub struct Ops<'a>(pub(super) &'a Store);

impl Ops<'_> {
    pub async fn record_event(&self, e: &AuditEvent, now: Millis) -> Result<()> {
        sqlx::query(
            "insert into audit_event (id, project_id, created_at, kind, result, actor, subject, ip, user_agent, detail) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(crate::ids::new_id("evt"))
        .bind(&e.project_id)
        .bind(now)
        .bind(e.kind.as_str())
        .bind(e.result)
        .bind(&e.actor)
        .bind(&e.subject)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(e.detail.to_string())
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// The newest events of a project (tests and, later, the admin API).
    pub async fn recent_events(
        &self,
        project_id: &ProjectId,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "select kind, result, actor, subject, created_at, detail from audit_event \
             where project_id = $1 order by created_at desc, id limit $2",
        )
        .bind(project_id)
        .bind(limit)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    kind: r.try_get("kind")?,
                    result: r.try_get("result")?,
                    actor: r.try_get("actor")?,
                    subject: r.try_get("subject")?,
                    created_at: r.try_get("created_at")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// One GCRA step on `key` in a single statement (SECURITY L3: concurrent hits all count, on
    /// every node): if the stored arrival time (or `now`, whichever is later) is at most
    /// `tolerance` ahead of `now`, moves it `interval` on and returns it; otherwise changes
    /// nothing and returns `None`.
    pub async fn gcra_hit(
        &self,
        key: &str,
        now: Millis,
        interval: Millis,
        tolerance: Millis,
    ) -> Result<Option<Millis>> {
        let row = sqlx::query(
            "insert into rate_limit (key, tat) values ($1, $2 + $3) \
             on conflict (key) do update set \
               tat = (case when rate_limit.tat > $2 then rate_limit.tat else $2 end) + $3 \
             where (case when rate_limit.tat > $2 then rate_limit.tat else $2 end) - $2 <= $4 \
             returning tat",
        )
        .bind(key)
        .bind(now)
        .bind(interval)
        .bind(tolerance)
        .fetch_optional(&self.0.writer)
        .await?;
        row.map(|r| r.try_get("tat"))
            .transpose()
            .map_err(Into::into)
    }

    /// The stored arrival time of `key`, if any.
    pub async fn gcra_tat(&self, key: &str) -> Result<Option<Millis>> {
        let row = sqlx::query("select tat from rate_limit where key = $1")
            .bind(key)
            .fetch_optional(&self.0.pool)
            .await?;
        row.map(|r| r.try_get("tat"))
            .transpose()
            .map_err(Into::into)
    }

    /// Forgets `key` (a success resets a failure counter).
    pub async fn gcra_reset(&self, key: &str) -> Result<()> {
        sqlx::query("delete from rate_limit where key = $1")
            .bind(key)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// Takes or renews the lease `name` for `holder` until `until`; false if another holder's
    /// lease is still running. Background jobs run only while they hold their lease.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        until: Millis,
        now: Millis,
    ) -> Result<bool> {
        let row = sqlx::query(
            "insert into job_lease (name, holder, expires_at) values ($1, $2, $3) \
             on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at \
             where job_lease.holder = excluded.holder or job_lease.expires_at < $4 \
             returning holder",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .fetch_optional(&self.0.writer)
        .await?;
        Ok(row.is_some())
    }

    /// Deletes what can no longer be used: sessions ended or expired for a while (their refresh
    /// tokens and revoked ids go with them), revoked ids past their expiry, used or expired
    /// one-time tokens, expired MFA challenges, delivered emails older than a week, and stale rate
    /// counters (SECURITY D4).
    pub async fn cleanup(&self, now: Millis) -> Result<Cleaned> {
        let old = now - ENDED_SESSION_RETENTION_MS;
        let sessions = sqlx::query("delete from session where expires_at < $1 or ended_at < $1")
            .bind(old)
            .execute(&self.0.writer)
            .await?
            .rows_affected();
        let revoked_tokens = sqlx::query("delete from revoked_token where expires_at < $1")
            .bind(now)
            .execute(&self.0.writer)
            .await?
            .rows_affected();
        let one_time_tokens =
            sqlx::query("delete from one_time_token where expires_at < $1 or used_at < $2")
                .bind(now)
                .bind(now - 24 * 3600 * 1000)
                .execute(&self.0.writer)
                .await?
                .rows_affected();
        // Passwordless secrets, sign-in flows and hand-off codes live minutes; their rows go
        // once expired (used ones too).
        let mut one_time_tokens = one_time_tokens;
        for table in [
            "passwordless_code",
            "login_flow",
            "auth_code",
            "device_code",
            "client_assertion",
            "revoked_client_token",
        ] {
            one_time_tokens += sqlx::query(&format!("delete from {table} where expires_at < $1"))
                .bind(now)
                .execute(&self.0.writer)
                .await?
                .rows_affected();
        }
        let emails =
            sqlx::query("delete from email_outbox where (sent_at < $1) or (failed_at < $1)")
                .bind(old)
                .execute(&self.0.writer)
                .await?
                .rows_affected();
        let rate_counters = sqlx::query("delete from rate_counter where window_start < $1")
            .bind(now - 24 * 3600 * 1000)
            .execute(&self.0.writer)
            .await?
            .rows_affected();
        let rate_limits = sqlx::query("delete from rate_limit where tat < $1")
            .bind(now)
            .execute(&self.0.writer)
            .await?
            .rows_affected();
        let mfa_challenges = sqlx::query("delete from mfa_challenge where expires_at < $1")
            .bind(now)
            .execute(&self.0.writer)
            .await?
            .rows_affected();
        Ok(Cleaned {
            mfa_challenges,
            sessions,
            revoked_tokens,
            one_time_tokens,
            emails,
            rate_counters: rate_counters + rate_limits,
        })
    }
}
