//! Projects and API keys.

use sqlx::any::AnyRow;
use sqlx::Row;
use std::sync::Arc;

use super::Store;
use crate::cache::Invalidation;
use crate::error::Result;
use crate::model::{ApiKeyId, Project, ProjectId, ProjectSettings, SigningKeyRow};

const PROJECT_COLUMNS: &str = "p.id, p.login_id, p.name, p.settings, p.created_at, p.updated_at";

fn project_from_row(row: &AnyRow) -> Result<Project> {
    let settings: String = row.try_get("settings")?;
    Ok(Project {
        id: row.try_get("id")?,
        login_id: row.try_get("login_id")?,
        name: row.try_get("name")?,
        settings: serde_json::from_str::<ProjectSettings>(&settings)
            .map_err(|e| anyhow::anyhow!("project settings are not valid JSON: {e}"))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Projects and their API keys. Reached through [`Store::projects`].
pub struct Projects<'a>(pub(super) &'a Store);

impl Projects<'_> {
    /// Inserts a project with its first API key and signing key, in one transaction.
    pub async fn insert(
        &self,
        project: &Project,
        api_key_id: &ApiKeyId,
        api_key_hash: &str,
        api_key_prefix: &str,
        signing_key: &SigningKeyRow,
    ) -> Result<()> {
        let settings = serde_json::to_string(&project.settings)
            .map_err(|e| anyhow::anyhow!("serialising settings: {e}"))?;
        let mut tx = self.0.writer.begin().await?;
        sqlx::query(
            "insert into project (id, login_id, name, settings, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&project.id)
        .bind(&project.login_id)
        .bind(&project.name)
        .bind(settings)
        .bind(project.created_at)
        .bind(project.updated_at)
        .execute(&mut *tx)
        .await?;
        self.insert_api_key_in(
            &mut tx,
            &project.id,
            api_key_id,
            api_key_hash,
            api_key_prefix,
            project.created_at,
        )
        .await?;
        super::keys::SigningKeys::insert_signing_key_in(&mut tx, signing_key).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_api_key_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        project_id: &ProjectId,
        id: &ApiKeyId,
        key_hash: &str,
        prefix: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "insert into api_key (id, project_id, key_hash, prefix, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(project_id)
        .bind(key_hash)
        .bind(prefix)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query(&format!(
            "select {PROJECT_COLUMNS} from project p order by p.created_at, p.id"
        ))
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(project_from_row).collect()
    }

    pub async fn by_login_id(&self, login_id: &str) -> Result<Option<Project>> {
        let row = sqlx::query(&format!(
            "select {PROJECT_COLUMNS} from project p where p.login_id = $1"
        ))
        .bind(login_id)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// The project owning a live API key (looked up by the key's hash; cached).
    pub async fn by_api_key(&self, key_hash: &str) -> Result<Option<Arc<Project>>> {
        if let Some(p) = self.0.cache.api_key(key_hash) {
            return Ok(Some(p));
        }
        let generation = self.0.cache.generation();
        let row = sqlx::query(&format!(
            "select {PROJECT_COLUMNS} from api_key k join project p on p.id = k.project_id \
             where k.key_hash = $1 and k.revoked_at is null"
        ))
        .bind(key_hash)
        .fetch_optional(&self.0.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let project = Arc::new(project_from_row(&row)?);
        self.0
            .cache
            .put_api_key(generation, key_hash.to_owned(), Arc::clone(&project));
        Ok(Some(project))
    }

    /// Revokes every API key of a project; announced so cached keys stop working on every node.
    #[cfg(feature = "testkit")]
    pub async fn revoke_api_keys(&self, project_id: &ProjectId, now: i64) -> Result<u64> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "update api_key set revoked_at = $1 where project_id = $2 and revoked_at is null",
        )
        .bind(now)
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
        self.0
            .commit_announcing(tx, Invalidation::Project(project_id.to_owned()))
            .await?;
        Ok(done.rows_affected())
    }
}

impl Projects<'_> {
    pub async fn by_id(&self, project_id: &ProjectId) -> Result<Option<Project>> {
        let row = sqlx::query(&format!(
            "select {PROJECT_COLUMNS} from project p where p.id = $1"
        ))
        .bind(project_id)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// Saves name and settings; announced so cached copies (behind API keys) are refreshed.
    pub async fn update(&self, project: &Project) -> Result<bool> {
        let settings = serde_json::to_string(&project.settings)
            .map_err(|e| anyhow::anyhow!("serialising settings: {e}"))?;
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "update project set name = $1, settings = $2, updated_at = $3 where id = $4",
        )
        .bind(&project.name)
        .bind(settings)
        .bind(project.updated_at)
        .bind(&project.id)
        .execute(&mut *tx)
        .await?;
        self.0
            .commit_announcing(tx, Invalidation::Project(project.id.clone()))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a project and everything in it.
    pub async fn delete(&self, project_id: &ProjectId) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query("delete from project where id = $1")
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        self.0
            .commit_announcing(tx, Invalidation::Project(project_id.to_owned()))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_api_key(
        &self,
        project_id: &ProjectId,
        id: &ApiKeyId,
        key_hash: &str,
        prefix: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        self.insert_api_key_in(&mut tx, project_id, id, key_hash, prefix, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes one API key; it stops working at once on every node.
    pub async fn revoke_api_key(
        &self,
        project_id: &ProjectId,
        key_id: &ApiKeyId,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "update api_key set revoked_at = $1 where project_id = $2 and id = $3 and revoked_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(key_id)
        .execute(&mut *tx)
        .await?;
        self.0
            .commit_announcing(tx, Invalidation::Project(project_id.to_owned()))
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
