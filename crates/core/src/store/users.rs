//! Users.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{flag, Store};
use crate::cache::Invalidation;
use crate::clock::Millis;
use crate::error::{is_unique_violation, Error, Result};
use crate::model::{Channel, FactorKind, OneTimeToken, ProjectId, User, UserId};

/// The user columns (aliased `u`), with one count of confirmed factors per kind
/// (`mfa_totp`, `mfa_sms`, …).
pub(super) static USER_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut columns = "u.id, u.project_id, u.email, u.email_verified, u.phone, u.phone_verified, \
         u.metadata, u.disabled, u.created_at, u.updated_at, u.last_login_at"
        .to_owned();
    for kind in FactorKind::ALL {
        columns.push_str(&format!(
            ", (select count(*) from mfa_factor f where f.project_id = u.project_id \
             and f.user_id = u.id and f.method = '{k}' and f.confirmed_at is not null) as mfa_{k}",
            k = kind.as_str()
        ));
    }
    columns
});

pub(super) fn user_from_row(row: &AnyRow) -> Result<User> {
    let metadata: String = row.try_get("metadata")?;
    Ok(User {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        email: row.try_get("email")?,
        email_verified: flag(row, "email_verified")?,
        phone: row.try_get("phone")?,
        phone_verified: flag(row, "phone_verified")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| anyhow::anyhow!("user metadata is not valid JSON: {e}"))?,
        disabled: flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_login_at: row.try_get("last_login_at")?,
        mfa_methods: FactorKind::ALL
            .into_iter()
            .map(|kind| {
                Ok((
                    kind,
                    row.try_get::<i64, _>(format!("mfa_{}", kind.as_str()).as_str())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|(_, confirmed)| *confirmed > 0)
            .map(|(kind, _)| kind)
            .collect(),
    })
}

/// Users, their passwords and their emailed-token redemptions. Reached through [`Store::users`].
pub struct Users<'a>(pub(super) &'a Store);

impl Users<'_> {
    /// Inserts a user; `EmailTaken` if the normalised email (or the phone number) exists in the
    /// project (the unique indexes decide, so concurrent sign-ups with one address create
    /// exactly one user).
    pub async fn insert(
        &self,
        user: &User,
        email_normalized: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<()> {
        let metadata = user.metadata.to_string();
        let result = sqlx::query(
            "insert into app_user (id, project_id, email, email_normalized, email_verified, phone, \
             phone_verified, password_hash, metadata, disabled, created_at, updated_at, last_login_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&user.id)
        .bind(&user.project_id)
        .bind(&user.email)
        .bind(email_normalized)
        .bind(i64::from(user.email_verified))
        .bind(&user.phone)
        .bind(i64::from(user.phone_verified))
        .bind(password_hash)
        .bind(metadata)
        .bind(i64::from(user.disabled))
        .bind(user.created_at)
        .bind(user.updated_at)
        .bind(user.last_login_at)
        .execute(&self.0.writer)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this normalised email, and their password hash.
    pub async fn by_email(
        &self,
        project_id: &ProjectId,
        email_normalized: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS}, u.password_hash from app_user u \
             where u.project_id = $1 and u.email_normalized = $2",
            USER_COLUMNS = USER_COLUMNS.as_str()
        ))
        .bind(project_id)
        .bind(email_normalized)
        .fetch_optional(&self.0.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// The user with this E.164 phone number.
    pub async fn by_phone(&self, project_id: &ProjectId, phone: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS} from app_user u where u.project_id = $1 and u.phone = $2",
            USER_COLUMNS = USER_COLUMNS.as_str()
        ))
        .bind(project_id)
        .bind(phone)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn by_id(&self, project_id: &ProjectId, user_id: &UserId) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "select {USER_COLUMNS} from app_user u where u.project_id = $1 and u.id = $2",
            USER_COLUMNS = USER_COLUMNS.as_str()
        ))
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The stored password hash (tests and diagnostics).
    pub async fn password_hash(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("select password_hash from app_user where project_id = $1 and id = $2")
                .bind(project_id)
                .bind(user_id)
                .fetch_optional(&self.0.pool)
                .await?;
        Ok(match row {
            Some(r) => r.try_get("password_hash")?,
            None => None,
        })
    }

    /// Sets the password hash directly (user import and tests).
    #[cfg(feature = "testkit")]
    pub async fn set_password_hash(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        hash: &str,
    ) -> Result<()> {
        sqlx::query("update app_user set password_hash = $1 where project_id = $2 and id = $3")
            .bind(hash)
            .bind(project_id)
            .bind(user_id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// Disables or enables a user, ending nothing by itself; verification reads `disabled` from
    /// the session view, which this evicts on every node.
    #[cfg(feature = "testkit")]
    pub async fn set_disabled(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        disabled: bool,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "update app_user set disabled = $1, updated_at = $2 where project_id = $3 and id = $4",
        )
        .bind(i64::from(disabled))
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Where a page of users starts and in which order it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSeek {
    /// All users by (created_at, id), after the given position.
    Created { after: Option<(Millis, String)> },
    /// Users whose normalised email starts with `prefix`, by email, after `after`.
    EmailPrefix {
        prefix: String,
        after: Option<String>,
    },
    /// Users whose id starts with `prefix`, by id, after `after`.
    IdPrefix {
        prefix: String,
        after: Option<String>,
    },
}

/// Everything a user update may change (already validated).
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// (address, normalised)
    pub email: Option<(String, String)>,
    pub metadata: Option<serde_json::Value>,
    pub disabled: Option<bool>,
    pub email_verified: Option<bool>,
}

/// The end of a prefix range: every string starting with `prefix` sorts below it byte-wise.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

impl Users<'_> {
    /// One page of users, `limit` at most. Every variant is an index range scan that stops after
    /// `limit` rows, so the cost does not grow with the number of users (see migration 0002).
    pub async fn list(
        &self,
        project_id: &ProjectId,
        seek: &UserSeek,
        limit: i64,
    ) -> Result<Vec<User>> {
        let rows = match seek {
            UserSeek::Created { after } => {
                let (t, id) = after.clone().unwrap_or((i64::MIN, String::new()));
                sqlx::query(&format!(
                    "select {USER_COLUMNS} from app_user u where u.project_id = $1 \
                     and (u.created_at, u.id) > ($2, $3) order by u.created_at, u.id limit $4",
                    USER_COLUMNS = USER_COLUMNS.as_str()
                ))
                .bind(project_id)
                .bind(t)
                .bind(id)
                .bind(limit)
                .fetch_all(&self.0.pool)
                .await?
            }
            UserSeek::EmailPrefix { prefix, after } => {
                let from = after.clone().unwrap_or_default();
                sqlx::query(&format!(
                    "select {USER_COLUMNS} from app_user u where u.project_id = $1 \
                     and u.email_normalized >= $2 and u.email_normalized < $3 and u.email_normalized > $4 \
                     order by u.email_normalized limit $5",
            USER_COLUMNS = USER_COLUMNS.as_str()
                ))
                .bind(project_id)
                .bind(prefix)
                .bind(prefix_end(prefix))
                .bind(from)
                .bind(limit)
                .fetch_all(&self.0.pool)
                .await?
            }
            UserSeek::IdPrefix { prefix, after } => {
                let from = after.clone().unwrap_or_default();
                sqlx::query(&format!(
                    "select {USER_COLUMNS} from app_user u where u.project_id = $1 \
                     and u.id >= $2 and u.id < $3 and u.id > $4 order by u.id limit $5",
                    USER_COLUMNS = USER_COLUMNS.as_str()
                ))
                .bind(project_id)
                .bind(prefix)
                .bind(prefix_end(prefix))
                .bind(from)
                .bind(limit)
                .fetch_all(&self.0.pool)
                .await?
            }
        };
        rows.iter().map(user_from_row).collect()
    }

    /// Applies `changes` if the user is still at `expected_updated_at` (optimistic concurrency:
    /// a concurrent update makes this return `Ok(false)` and the caller re-reads). A new email
    /// voids the user's outstanding one-time tokens; disabling ends every session. Both are
    /// announced so cached session views are dropped on every node.
    pub async fn update(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        expected_updated_at: Millis,
        changes: &UserChanges,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let (email, normalized) = match &changes.email {
            Some((e, n)) => (Some(e.as_str()), Some(n.as_str())),
            None => (None, None),
        };
        let result = sqlx::query(
            "update app_user set email = coalesce($1, email), email_normalized = coalesce($2, email_normalized), \
             metadata = coalesce($3, metadata), disabled = coalesce($4, disabled), \
             email_verified = coalesce($5, email_verified), updated_at = $6 \
             where project_id = $7 and id = $8 and updated_at = $9",
        )
        .bind(email)
        .bind(normalized)
        .bind(changes.metadata.as_ref().map(|m| m.to_string()))
        .bind(changes.disabled.map(i64::from))
        .bind(changes.email_verified.map(i64::from))
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .bind(expected_updated_at)
        .execute(&mut *tx)
        .await;
        let done = match result {
            Ok(done) => done,
            Err(e) if is_unique_violation(&e) => return Err(Error::EmailTaken),
            Err(e) => return Err(e.into()),
        };
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if changes.email.is_some() {
            sqlx::query("delete from one_time_token where project_id = $1 and user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if changes.disabled == Some(true) {
            sqlx::query("update session set ended_at = $1 where project_id = $2 and user_id = $3 and ended_at is null")
                .bind(now)
                .bind(project_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(true)
    }

    /// Deletes a user with everything that hangs off them (sessions, refresh tokens, revoked
    /// token ids and one-time tokens go by `on delete cascade`).
    pub async fn delete(&self, project_id: &ProjectId, user_id: &UserId) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query("delete from app_user where project_id = $1 and id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets a new password hash, ends the user's sessions except `keep`, and voids outstanding
    /// password-reset tokens, in one transaction. Returns how many sessions ended.
    pub async fn replace_password(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        hash: &str,
        keep_session: Option<&str>,
        now: Millis,
    ) -> Result<u64> {
        let mut tx = self.0.writer.begin().await?;
        sqlx::query("update app_user set password_hash = $1, updated_at = $2 where project_id = $3 and id = $4")
            .bind(hash)
            .bind(now)
            .bind(project_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ended =
            Self::after_password_change(&mut tx, project_id, user_id, keep_session, now).await?;
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(ended)
    }

    /// Ends the user's sessions but `keep` and voids their unused reset tokens; returns how many
    /// sessions ended.
    async fn after_password_change(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        project_id: &ProjectId,
        user_id: &UserId,
        keep_session: Option<&str>,
        now: Millis,
    ) -> Result<u64> {
        let ended = sqlx::query(
            "update session set ended_at = $1 where project_id = $2 and user_id = $3 and ended_at is null \
             and id <> $4",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "update one_time_token set used_at = $1 where project_id = $2 and user_id = $3 \
             and purpose = 'password_reset' and used_at is null",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        Ok(ended.rows_affected())
    }

    /// Marks the address or number a passwordless secret went to (`identifier`, by `channel`)
    /// as verified, if it is still the user's: the secret proved possession of it. Announced,
    /// as verification shows the flag.
    pub async fn mark_verified(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        channel: Channel,
        identifier: &str,
        now: Millis,
    ) -> Result<()> {
        let sql = match channel {
            Channel::Email => {
                "update app_user set email_verified = 1, \
                 updated_at = case when updated_at >= $1 then updated_at + 1 else $1 end \
                 where project_id = $2 and id = $3 and email_normalized = $4 and email_verified = 0"
            }
            Channel::Sms | Channel::Whatsapp => {
                "update app_user set phone_verified = 1, \
                 updated_at = case when updated_at >= $1 then updated_at + 1 else $1 end \
                 where project_id = $2 and id = $3 and phone = $4 and phone_verified = 0"
            }
        };
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(sql)
            .bind(now)
            .bind(project_id)
            .bind(user_id)
            .bind(identifier)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(());
        }
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await
    }

    /// Redeems an emailed token in one transaction (SECURITY O1, X1): the token is used up, the
    /// address it was sent to (still the user's) becomes verified, and for a reset the password
    /// is replaced, every session ends and other reset tokens die. False, with nothing changed,
    /// if the token was used meanwhile or the user's email is no longer the one it was sent to.
    pub async fn redeem_emailed_token(
        &self,
        project_id: &ProjectId,
        token: &OneTimeToken,
        new_password_hash: Option<&str>,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let used = sqlx::query(
            "update one_time_token set used_at = $1 where project_id = $2 and id = $3 and used_at is null and expires_at > $1",
        )
        .bind(now)
        .bind(project_id)
        .bind(&token.id)
        .execute(&mut *tx)
        .await?;
        step!("emailed_token.redeem.after_use");
        let updated = sqlx::query(
            "update app_user set email_verified = 1, password_hash = coalesce($1, password_hash), \
             updated_at = case when updated_at >= $2 then updated_at + 1 else $2 end \
             where project_id = $3 and id = $4 and email = $5",
        )
        .bind(new_password_hash)
        .bind(now)
        .bind(project_id)
        .bind(&token.user_id)
        .bind(&token.email)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 || updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        step!("emailed_token.redeem.after_user");
        if new_password_hash.is_some() {
            Self::after_password_change(&mut tx, project_id, &token.user_id, None, now).await?;
        }
        self.0
            .commit_announcing(tx, Invalidation::User(token.user_id.clone()))
            .await?;
        Ok(true)
    }
}
