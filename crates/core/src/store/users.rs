//! Users.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{flag, Store};
use crate::cache::Invalidation;
use crate::clock::Millis;
use crate::error::{is_unique_violation, Error, Result};

/// A user of a project. The password hash is not part of it: only login reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub project_id: String,
    pub email: String,
    pub email_verified: bool,
    /// Always a JSON object.
    pub metadata: serde_json::Value,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_login_at: Option<Millis>,
}

pub(super) const USER_COLUMNS: &str = "u.id, u.project_id, u.email, u.email_verified, u.metadata, \
     u.disabled, u.created_at, u.updated_at, u.last_login_at";

pub(super) fn user_from_row(row: &AnyRow) -> Result<User> {
    let metadata: String = row.try_get("metadata")?;
    Ok(User {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        email: row.try_get("email")?,
        email_verified: flag(row, "email_verified")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| anyhow::anyhow!("user metadata is not valid JSON: {e}"))?,
        disabled: flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

impl Store {
    /// Inserts a user; `EmailTaken` if the normalised email exists in the project (the unique
    /// index decides, so concurrent sign-ups with one address create exactly one user).
    pub async fn insert_user(
        &self,
        user: &User,
        email_normalized: &str,
        password_hash: Option<&str>,
    ) -> Result<()> {
        let metadata = user.metadata.to_string();
        let result = sqlx::query(
            "insert into app_user (id, project_id, email, email_normalized, email_verified, password_hash, \
             metadata, disabled, created_at, updated_at, last_login_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&user.id)
        .bind(&user.project_id)
        .bind(&user.email)
        .bind(email_normalized)
        .bind(i64::from(user.email_verified))
        .bind(password_hash)
        .bind(metadata)
        .bind(i64::from(user.disabled))
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(user.last_login_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this normalised email, and their password hash.
    pub async fn user_by_email(
        &self,
        project_id: &str,
        email_normalized: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS}, u.password_hash from app_user u \
             where u.project_id = $1 and u.email_normalized = $2"
        ))
        .bind(project_id)
        .bind(email_normalized)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    pub async fn user_by_id(&self, project_id: &str, user_id: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS} from app_user u where u.project_id = $1 and u.id = $2"
        ))
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Stamps a successful login, storing a new password hash when the parameters were raised.
    pub async fn record_login(
        &self,
        project_id: &str,
        user_id: &str,
        now: Millis,
        new_hash: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "update app_user set last_login_at = $1, password_hash = coalesce($2, password_hash) \
             where project_id = $3 and id = $4",
        )
        .bind(now)
        .bind(new_hash)
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        // Cached session views carry the user; they must show the new last_login_at.
        let what = Invalidation::User(user_id.to_owned());
        self.announce(&mut tx, &what).await?;
        tx.commit().await?;
        self.evicted(what);
        Ok(())
    }

    /// The stored password hash (tests and diagnostics).
    pub async fn password_hash(&self, project_id: &str, user_id: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("select password_hash from app_user where project_id = $1 and id = $2")
                .bind(project_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => r.try_get("password_hash")?,
            None => None,
        })
    }

    /// Sets the password hash directly (user import and tests).
    pub async fn set_password_hash(
        &self,
        project_id: &str,
        user_id: &str,
        hash: &str,
    ) -> Result<()> {
        sqlx::query("update app_user set password_hash = $1 where project_id = $2 and id = $3")
            .bind(hash)
            .bind(project_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables or enables a user, ending nothing by itself; verification reads `disabled` from
    /// the session view, which this evicts on every node.
    pub async fn set_user_disabled(
        &self,
        project_id: &str,
        user_id: &str,
        disabled: bool,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update app_user set disabled = $1, updated_at = $2 where project_id = $3 and id = $4",
        )
        .bind(i64::from(disabled))
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let what = Invalidation::User(user_id.to_owned());
        self.announce(&mut tx, &what).await?;
        tx.commit().await?;
        self.evicted(what);
        Ok(done.rows_affected() == 1)
    }
}
