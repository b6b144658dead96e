//! One-time tokens sent by email (verification, password reset), management tokens, and the
//! email outbox.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::Store;
use crate::clock::Millis;
use crate::error::Result;
use crate::model::{
    ManagementToken, ManagementTokenId, OneTimeToken, OutboxMessage, ProjectId, Purpose, UserId,
};

fn outbox_from_row(r: &AnyRow) -> Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        kind: r.try_get("kind")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        text_body: r.try_get("text_body")?,
        html_body: r.try_get("html_body")?,
        link: r.try_get("link")?,
        code: r.try_get("code")?,
        attempts: r.try_get("attempts")?,
    })
}

const MANAGEMENT_TOKEN_COLUMNS: &str = "id, name, project_id, created_at, expires_at, last_used_at";

fn management_token_from_row(r: &AnyRow) -> Result<ManagementToken> {
    Ok(ManagementToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        project_id: r.try_get("project_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// One-time tokens sent by email (verification, password reset). Reached through [`Store::codes`].
pub struct Codes<'a>(pub(super) &'a Store);

/// The email outbox the delivery worker drains. Reached through [`Store::outbox`].
pub struct Outbox<'a>(pub(super) &'a Store);

/// Management tokens of the projects API (stored as SHA-256). Reached through [`Store::management_tokens`].
pub struct ManagementTokens<'a>(pub(super) &'a Store);

impl Codes<'_> {
    /// Issues a one-time token and queues the email that carries it, in one transaction; earlier
    /// unused tokens of the same purpose for the user are voided (SECURITY F2).
    #[allow(clippy::too_many_arguments)]
    pub async fn issue(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        purpose: Purpose,
        token_hash: &str,
        email: &str,
        redirect_url: Option<&str>,
        expires_at: Millis,
        message: &OutboxMessage,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        sqlx::query(
            "update one_time_token set used_at = $1 where project_id = $2 and user_id = $3 and purpose = $4 and used_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into one_time_token (id, project_id, user_id, purpose, token_hash, email, redirect_url, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(crate::ids::new_id("ott"))
        .bind(project_id)
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(email)
        .bind(redirect_url)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        Outbox::enqueue_in(&mut tx, message, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A live (unused, unexpired) token of this purpose, without consuming it.
    pub async fn find(
        &self,
        project_id: &ProjectId,
        purpose: Purpose,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<OneTimeToken>> {
        let row = sqlx::query(
            "select id, user_id, email, redirect_url, expires_at from one_time_token \
             where project_id = $1 and purpose = $2 and token_hash = $3 and used_at is null and expires_at > $4",
        )
        .bind(project_id)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(OneTimeToken {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                email: r.try_get("email")?,
                redirect_url: r.try_get("redirect_url")?,
                expires_at: r.try_get("expires_at")?,
            })),
            None => Ok(None),
        }
    }

    /// Consumes a token: of any number of concurrent attempts exactly one gets `true` (SECURITY O1).
    pub async fn consume(
        &self,
        project_id: &ProjectId,
        token_id: &str,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update one_time_token set used_at = $1 where project_id = $2 and id = $3 and used_at is null and expires_at > $1",
        )
        .bind(now)
        .bind(project_id)
        .bind(token_id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Outbox<'_> {
    pub(crate) async fn enqueue_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        m: &OutboxMessage,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into email_outbox (id, project_id, kind, recipient, subject, text_body, html_body, link, \
             code, attempts, next_attempt_at, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10)",
        )
        .bind(&m.id)
        .bind(&m.project_id)
        .bind(&m.kind)
        .bind(&m.recipient)
        .bind(&m.subject)
        .bind(&m.text_body)
        .bind(&m.html_body)
        .bind(&m.link)
        .bind(&m.code)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Queues an email that carries no token.
    pub async fn enqueue(&self, m: &OutboxMessage, now: Millis) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        Outbox::enqueue_in(&mut tx, m, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Messages due for a delivery attempt.
    pub async fn due(&self, now: Millis, limit: i64) -> Result<Vec<OutboxMessage>> {
        let rows = sqlx::query(
            "select id, project_id, kind, recipient, subject, text_body, html_body, link, code, attempts from email_outbox \
             where sent_at is null and failed_at is null and next_attempt_at <= $1 order by next_attempt_at limit $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    /// Messages neither sent nor given up (including those a worker is delivering right now).
    #[cfg(feature = "testkit")]
    pub async fn unsettled(&self) -> Result<i64> {
        let row = sqlx::query(
            "select count(*) as n from email_outbox where sent_at is null and failed_at is null",
        )
        .fetch_one(&self.0.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Claims a message for one delivery attempt (another node polling at the same time gets
    /// `false`): pushes its next attempt to `retry_at` and counts the attempt.
    pub async fn claim(&self, id: &str, attempts: i64, retry_at: Millis) -> Result<bool> {
        let done = sqlx::query(
            "update email_outbox set attempts = attempts + 1, next_attempt_at = $1 \
             where id = $2 and attempts = $3 and sent_at is null and failed_at is null",
        )
        .bind(retry_at)
        .bind(id)
        .bind(attempts)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn sent(&self, id: &str, now: Millis) -> Result<()> {
        // The bodies carry one-time links: once delivered they are erased.
        sqlx::query(
            "update email_outbox set sent_at = $1, last_error = null, text_body = '', html_body = '', link = null, code = null \
             where id = $2",
        )
            .bind(now)
            .bind(id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// Records a failed attempt; `give_up` marks the message failed for good.
    pub async fn failed(&self, id: &str, error: &str, give_up: bool, now: Millis) -> Result<()> {
        sqlx::query("update email_outbox set last_error = $1, failed_at = $2 where id = $3")
            .bind(error.chars().take(500).collect::<String>())
            .bind(if give_up { Some(now) } else { None })
            .bind(id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }
}

impl ManagementTokens<'_> {
    pub async fn insert(&self, t: &ManagementToken, token_hash: &str) -> Result<()> {
        sqlx::query(
            "insert into management_token (id, name, token_hash, project_id, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(token_hash)
        .bind(&t.project_id)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// The live (unrevoked, unexpired) management token with this hash; notes its use, at most
    /// once a minute.
    pub async fn by_hash(&self, token_hash: &str, now: Millis) -> Result<Option<ManagementToken>> {
        let row = sqlx::query(&format!(
            "select {MANAGEMENT_TOKEN_COLUMNS} from management_token where token_hash = $1 and revoked_at is null \
             and expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        let Some(token) = row.as_ref().map(management_token_from_row).transpose()? else {
            return Ok(None);
        };
        sqlx::query(
            "update management_token set last_used_at = $1 where id = $2 \
             and (last_used_at is null or last_used_at < $3)",
        )
        .bind(now)
        .bind(&token.id)
        .bind(now - 60_000)
        .execute(&self.0.writer)
        .await?;
        Ok(Some(token))
    }

    /// Unrevoked management tokens, newest first (expired ones included, marked by `expires_at`).
    pub async fn list(&self) -> Result<Vec<ManagementToken>> {
        let rows = sqlx::query(&format!(
            "select {MANAGEMENT_TOKEN_COLUMNS} from management_token where revoked_at is null \
             order by created_at desc, id"
        ))
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(management_token_from_row).collect()
    }

    /// Revokes a management token; false if there is no such live token.
    pub async fn revoke(&self, id: &ManagementTokenId, now: Millis) -> Result<bool> {
        let done = sqlx::query(
            "update management_token set revoked_at = $1 where id = $2 and revoked_at is null",
        )
        .bind(now)
        .bind(id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count(&self) -> Result<i64> {
        let row = sqlx::query("select count(*) as n from management_token")
            .fetch_one(&self.0.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
