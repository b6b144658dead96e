//! Passwordless secrets: magic links, one-time passcodes and the exchange tokens of confirmed
//! links (table `passwordless_code`, migration 0006). A secret is bound to its project, its
//! purpose and the identifier it went to; it is used up by one conditional update, so of any
//! number of concurrent redemptions exactly one wins (SECURITY O1).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::tokens::Outbox;
use super::Store;
use crate::clock::Millis;
use crate::error::Result;
use crate::model::{Channel, OutboxMessage, PasswordlessCode, PasswordlessPurpose, ProjectId};

const COLUMNS: &str =
    "id, purpose, channel, identifier, redirect_url, attempts, expires_at, code_expires_at";

fn from_row(r: &AnyRow) -> Result<PasswordlessCode> {
    let purpose: String = r.try_get("purpose")?;
    let channel: String = r.try_get("channel")?;
    let bad = |what: &str, v: &str| anyhow::anyhow!("passwordless_code has an unknown {what} {v}");
    Ok(PasswordlessCode {
        id: r.try_get("id")?,
        purpose: [
            PasswordlessPurpose::MagicLink,
            PasswordlessPurpose::Otp,
            PasswordlessPurpose::Exchange,
        ]
        .into_iter()
        .find(|p| p.as_str() == purpose)
        .ok_or_else(|| bad("purpose", &purpose))?,
        channel: Channel::parse(&channel).ok_or_else(|| bad("channel", &channel))?,
        identifier: r.try_get("identifier")?,
        redirect_url: r.try_get("redirect_url")?,
        attempts: r.try_get("attempts")?,
        expires_at: r.try_get("expires_at")?,
        code_expires_at: r.try_get("code_expires_at")?,
    })
}

/// A secret about to be stored.
pub struct NewCode<'a> {
    pub id: &'a str,
    pub purpose: PasswordlessPurpose,
    pub channel: Channel,
    pub identifier: &'a str,
    /// SHA-256 of the link (or exchange) token.
    pub link_hash: Option<&'a str>,
    /// The keyed hash of the code.
    pub code_hash: Option<&'a str>,
    pub redirect_url: Option<&'a str>,
    pub expires_at: Millis,
    pub code_expires_at: Option<Millis>,
}

/// Reached through [`Store::passwordless`].
pub struct Passwordless<'a>(pub(super) &'a Store);

impl Passwordless<'_> {
    async fn insert_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        project_id: &ProjectId,
        c: &NewCode<'_>,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into passwordless_code (id, project_id, purpose, channel, identifier, link_hash, \
             code_hash, redirect_url, attempts, created_at, expires_at, code_expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11)",
        )
        .bind(c.id)
        .bind(project_id)
        .bind(c.purpose.as_str())
        .bind(c.channel.as_str())
        .bind(c.identifier)
        .bind(c.link_hash)
        .bind(c.code_hash)
        .bind(c.redirect_url)
        .bind(now)
        .bind(c.expires_at)
        .bind(c.code_expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Stores a new link or code and queues the email carrying it (if it goes by email), in one
    /// transaction. The identifier's earlier live links and codes die: only the newest works.
    pub async fn issue(
        &self,
        project_id: &ProjectId,
        code: &NewCode<'_>,
        email: Option<&OutboxMessage>,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        sqlx::query(
            "update passwordless_code set used_at = $1 where project_id = $2 and identifier = $3 \
             and purpose <> 'exchange' and used_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(code.identifier)
        .execute(&mut *tx)
        .await?;
        Self::insert_in(&mut tx, project_id, code, now).await?;
        if let Some(message) = email {
            Outbox::enqueue_in(&mut tx, message, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The live magic link or exchange token with this hash, without using it.
    pub async fn by_link(
        &self,
        project_id: &ProjectId,
        link_hash: &str,
        now: Millis,
    ) -> Result<Option<PasswordlessCode>> {
        let row = sqlx::query(&format!(
            "select {COLUMNS} from passwordless_code where project_id = $1 and link_hash = $2 \
             and used_at is null and expires_at > $3"
        ))
        .bind(project_id)
        .bind(link_hash)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Uses up a link or exchange token; true for exactly one caller.
    pub async fn consume(&self, project_id: &ProjectId, id: &str, now: Millis) -> Result<bool> {
        let done = sqlx::query(
            "update passwordless_code set used_at = $1 where project_id = $2 and id = $3 \
             and used_at is null and expires_at > $1",
        )
        .bind(now)
        .bind(project_id)
        .bind(id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a magic link and stores the exchange token that replaces it, in one
    /// transaction; false (nothing stored) if the link was used meanwhile.
    pub async fn exchange(
        &self,
        project_id: &ProjectId,
        link_id: &str,
        exchange: &NewCode<'_>,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let used = sqlx::query(
            "update passwordless_code set used_at = $1 where project_id = $2 and id = $3 \
             and purpose = 'magic_link' and used_at is null and expires_at > $1",
        )
        .bind(now)
        .bind(project_id)
        .bind(link_id)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        Self::insert_in(&mut tx, project_id, exchange, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The newest live code sent to `identifier`, with its hash: one still in its lifetime and
    /// under `max_attempts` wrong tries.
    pub async fn live_code(
        &self,
        project_id: &ProjectId,
        identifier: &str,
        max_attempts: i64,
        now: Millis,
    ) -> Result<Option<(PasswordlessCode, String)>> {
        let row = sqlx::query(&format!(
            "select {COLUMNS}, code_hash from passwordless_code where project_id = $1 \
             and identifier = $2 and code_hash is not null and used_at is null \
             and code_expires_at > $3 and attempts < $4 order by created_at desc limit 1"
        ))
        .bind(project_id)
        .bind(identifier)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(&self.0.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((from_row(&r)?, r.try_get("code_hash")?))),
            None => Ok(None),
        }
    }

    /// Counts a wrong try at a code; the one that reaches `max_attempts` kills it.
    pub async fn wrong_code(
        &self,
        project_id: &ProjectId,
        id: &str,
        max_attempts: i64,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "update passwordless_code set attempts = attempts + 1, \
             used_at = case when attempts + 1 >= $1 then $2 else used_at end \
             where project_id = $3 and id = $4 and used_at is null",
        )
        .bind(max_attempts)
        .bind(now)
        .bind(project_id)
        .bind(id)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// Uses up a code that matched; false if it died or was used meanwhile.
    pub async fn consume_code(
        &self,
        project_id: &ProjectId,
        id: &str,
        max_attempts: i64,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update passwordless_code set used_at = $1 where project_id = $2 and id = $3 \
             and used_at is null and attempts < $4 and code_expires_at > $1",
        )
        .bind(now)
        .bind(project_id)
        .bind(id)
        .bind(max_attempts)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
