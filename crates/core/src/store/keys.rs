//! JWT signing keys.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::Store;
use crate::cache::Invalidation;
use crate::error::Result;
use crate::model::{ProjectId, SigningKeyRow};

fn key_from_row(row: &AnyRow) -> Result<SigningKeyRow> {
    Ok(SigningKeyRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        alg: row.try_get("alg")?,
        private_key: row.try_get("private_key")?,
        public_jwk: row.try_get("public_jwk")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

/// How long a retired key stays published and accepted: far longer than any access token lives.
pub const RETIRED_KEY_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// JWT signing keys per project. Reached through [`Store::signing_keys`].
pub struct SigningKeys<'a>(pub(super) &'a Store);

impl SigningKeys<'_> {
    pub(super) async fn insert_signing_key_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        key: &SigningKeyRow,
    ) -> Result<()> {
        sqlx::query(
            "insert into signing_key (id, project_id, alg, private_key, public_jwk, created_at, retired_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.project_id)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(&key.public_jwk)
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The current key (first) and the keys retired within the retention window, newest first.
    pub async fn of_project(&self, project_id: &ProjectId, now: i64) -> Result<Vec<SigningKeyRow>> {
        let rows = sqlx::query(
            "select id, project_id, alg, private_key, public_jwk, created_at, retired_at \
             from signing_key where project_id = $1 and (retired_at is null or retired_at > $2) \
             order by case when retired_at is null then 0 else 1 end, created_at desc",
        )
        .bind(project_id)
        .bind(now - RETIRED_KEY_RETENTION_MS)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Retires the current key and makes `key` current, in one transaction.
    pub async fn rotate(
        &self,
        project_id: &ProjectId,
        key: &SigningKeyRow,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        sqlx::query(
            "update signing_key set retired_at = $1 where project_id = $2 and retired_at is null",
        )
        .bind(now)
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
        Self::insert_signing_key_in(&mut tx, key).await?;
        self.0
            .commit_announcing(tx, Invalidation::Keys(project_id.to_owned()))
            .await?;
        Ok(())
    }
}
