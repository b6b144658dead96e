//! Sessions, refresh tokens and revoked access tokens.

use sqlx::Row;
use std::sync::Arc;

use super::users::{user_from_row, USER_COLUMNS};
use super::Store;
use crate::cache::Invalidation;
use crate::clock::Millis;
use crate::error::Result;
use crate::model::{Aal, Amr, ClientId, ProjectId, SessionId, SessionInfo, SessionView, UserId};

/// A session about to be created.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id: &'a SessionId,
    pub project_id: &'a ProjectId,
    pub user_id: &'a UserId,
    pub amr: &'a [Amr],
    pub aal: Aal,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub now: Millis,
    pub expires_at: Millis,
}

/// What a successful login records on the user.
#[derive(Debug, Clone, Copy)]
pub struct LoginStamp<'a> {
    /// Set when the stored hash used outdated parameters and was recomputed.
    pub new_password_hash: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub id: String,
    pub session_id: SessionId,
    pub used_at: Option<Millis>,
    pub expires_at: Millis,
    /// The OAuth client the token was issued to (`None`: the project's own API).
    pub client_id: Option<ClientId>,
    pub scope: Option<String>,
}

/// What a new refresh family is bought with, used up in the same transaction.
#[derive(Debug, Clone, Copy)]
pub enum Redeem<'a> {
    /// A hand-off or authorization code (by its hash).
    Code(&'a str),
    /// An approved device authorization request (by its id).
    Device(&'a str),
}

/// Sessions, their refresh tokens and revoked access tokens. Reached through [`Store::sessions`].
pub struct Sessions<'a>(pub(super) &'a Store);

impl Sessions<'_> {
    /// Creates a session and its first refresh token (stored as `refresh_hash`) atomically; for a
    /// login, the user's `last_login_at` (and an upgraded password hash) are stamped in the same
    /// transaction, so a login costs one commit.
    pub async fn create(
        &self,
        s: &NewSession<'_>,
        refresh_hash: &str,
        login: Option<LoginStamp<'_>>,
    ) -> Result<()> {
        let amr = serde_json::to_string(s.amr).map_err(|e| anyhow::anyhow!("amr: {e}"))?;
        let mut tx = self.0.writer.begin().await?;
        sqlx::query(
            "insert into session (id, project_id, user_id, amr, aal, ip, user_agent, created_at, \
             last_active_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id)
        .bind(s.project_id)
        .bind(s.user_id)
        .bind(amr)
        .bind(s.aal.as_str())
        .bind(s.ip)
        .bind(s.user_agent)
        .bind(s.now)
        .bind(s.now)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await?;
        step!("session.create.after_session");
        sqlx::query(
            "insert into refresh_token (id, project_id, session_id, token_hash, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(crate::ids::new_id("rt"))
        .bind(s.project_id)
        .bind(s.id)
        .bind(refresh_hash)
        .bind(s.now)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await?;
        let Some(stamp) = login else {
            tx.commit().await?;
            return Ok(());
        };
        sqlx::query(
            "update app_user set last_login_at = $1, password_hash = coalesce($2, password_hash) \
             where project_id = $3 and id = $4",
        )
        .bind(s.now)
        .bind(stamp.new_password_hash)
        .bind(s.project_id)
        .bind(s.user_id)
        .execute(&mut *tx)
        .await?;
        // Cached session views carry the user; they must show the new last_login_at.
        self.0
            .commit_announcing(tx, Invalidation::User(s.user_id.clone()))
            .await
    }

    /// The session with its user and revoked token ids (cached; `None` if it does not exist in
    /// this project).
    pub async fn view(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
    ) -> Result<Option<Arc<SessionView>>> {
        if let Some(view) = self.0.cache.session(session_id) {
            if view.user.project_id == *project_id {
                return Ok(Some(view));
            }
            return Ok(None);
        }
        let generation = self.0.cache.generation();
        let row = sqlx::query(&format!(
            "select s.amr as s_amr, s.aal as s_aal, s.created_at as s_created_at, s.expires_at as s_expires_at, s.ended_at as s_ended_at, \
             s.last_active_at as s_last_active_at, \
             {USER_COLUMNS} from session s join app_user u on u.id = s.user_id \
             where s.project_id = $1 and s.id = $2",
            USER_COLUMNS = USER_COLUMNS.as_str()
        ))
        .bind(project_id)
        .bind(session_id)
        .fetch_optional(&self.0.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let jtis =
            sqlx::query("select jti from revoked_token where project_id = $1 and session_id = $2")
                .bind(project_id)
                .bind(session_id)
                .fetch_all(&self.0.pool)
                .await?;
        let amr: String = row.try_get("s_amr")?;
        let view = Arc::new(SessionView {
            session_id: session_id.to_owned(),
            user: user_from_row(&row)?,
            amr: serde_json::from_str(&amr).map_err(|e| {
                anyhow::anyhow!("session {session_id}: amr is not a JSON list: {e}")
            })?,
            aal: {
                let aal: String = row.try_get("s_aal")?;
                Aal::parse(&aal)
                    .ok_or_else(|| anyhow::anyhow!("session {session_id}: unknown aal {aal:?}"))?
            },
            created_at: row.try_get("s_created_at")?,
            expires_at: row.try_get("s_expires_at")?,
            last_active_at: row.try_get("s_last_active_at")?,
            ended_at: row.try_get("s_ended_at")?,
            revoked_jtis: jtis
                .iter()
                .map(|r| r.try_get::<String, _>("jti"))
                .collect::<Result<_, _>>()?,
        });
        self.0.cache.put_session(generation, Arc::clone(&view));
        Ok(Some(view))
    }

    /// Ends a session (logout, revocation, refresh-token reuse). Returns false if it was not live.
    pub async fn end(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
        now: Millis,
    ) -> Result<bool> {
        self.end_one(project_id, None, session_id, now).await
    }

    /// Gives a live session one more refresh-token family (an app or OAuth client it is handed
    /// to), bought with `redeem`, which is used up in the same transaction: false (nothing
    /// stored) if it was used already, so a concurrent replay always finds the tokens it must
    /// revoke (SECURITY AS2).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_refresh(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
        refresh_hash: &str,
        expires_at: Millis,
        redeem: Redeem<'_>,
        client: Option<(&ClientId, &str)>,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let used = match redeem {
            Redeem::Code(code_hash) => sqlx::query(
                "update auth_code set used_at = $1 where project_id = $2 and code_hash = $3 \
                 and session_id = $4 and used_at is null and expires_at > $1",
            )
            .bind(now)
            .bind(project_id)
            .bind(code_hash)
            .bind(session_id),
            Redeem::Device(id) => sqlx::query(
                "update device_code set status = 'used' where project_id = $2 and id = $3 \
                 and session_id = $4 and status = 'approved' and expires_at > $1",
            )
            .bind(now)
            .bind(project_id)
            .bind(id)
            .bind(session_id),
        }
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "insert into refresh_token (id, project_id, session_id, token_hash, created_at, expires_at, \
             client_id, scope) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(crate::ids::new_id("rt"))
        .bind(project_id)
        .bind(session_id)
        .bind(refresh_hash)
        .bind(now)
        .bind(expires_at)
        .bind(client.map(|c| c.0))
        .bind(client.map(|c| c.1))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn refresh_by_hash(
        &self,
        project_id: &ProjectId,
        token_hash: &str,
    ) -> Result<Option<RefreshRow>> {
        let row = sqlx::query(
            "select id, session_id, used_at, expires_at, client_id, scope from refresh_token \
             where project_id = $1 and token_hash = $2",
        )
        .bind(project_id)
        .bind(token_hash)
        .fetch_optional(&self.0.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(RefreshRow {
                id: r.try_get("id")?,
                session_id: r.try_get("session_id")?,
                used_at: r.try_get("used_at")?,
                expires_at: r.try_get("expires_at")?,
                client_id: r.try_get("client_id")?,
                scope: r.try_get("scope")?,
            })),
            None => Ok(None),
        }
    }

    /// Rotates `parent`: marks it used and inserts its successor, in one transaction (SECURITY
    /// R7) shared with the other rotations waiting (group commit, see [`super::rotation`]). The
    /// conditional update is the lock: of N concurrent rotations of one token exactly one sees
    /// `used_at is null` and inserts; the others get `false` and nothing changes (R3).
    pub async fn rotate_refresh(
        &self,
        project_id: &ProjectId,
        parent: &RefreshRow,
        successor_hash: &str,
        now: Millis,
    ) -> Result<bool> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let rotation = super::rotation::Rotation {
            project_id: project_id.clone(),
            parent_id: parent.id.clone(),
            session_id: parent.session_id.clone(),
            successor_hash: successor_hash.to_owned(),
            expires_at: parent.expires_at,
            client_id: parent.client_id.clone(),
            scope: parent.scope.clone(),
            now,
            done,
        };
        let stopped = || anyhow::anyhow!("the refresh rotation task has stopped");
        self.0
            .rotations
            .send(rotation)
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    /// Revokes one access token by its `jti` until it would have expired anyway.
    pub async fn revoke_access_token(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
        jti: &str,
        expires_at: Millis,
    ) -> Result<()> {
        let mut tx = self.0.writer.begin().await?;
        let result = sqlx::query(
            "insert into revoked_token (jti, project_id, session_id, expires_at) values ($1, $2, $3, $4)",
        )
        .bind(jti)
        .bind(project_id)
        .bind(session_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            // Revoked twice: nothing more to do.
            Err(e) if crate::error::is_unique_violation(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.0
            .commit_announcing(tx, Invalidation::Session(session_id.to_owned()))
            .await?;
        Ok(())
    }

    /// Counts refresh tokens of a session that have not been rotated (tests: exactly one).
    #[cfg(feature = "testkit")]
    pub async fn active_refresh_tokens(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
    ) -> Result<i64> {
        let row = sqlx::query(
            "select count(*) as n from refresh_token where project_id = $1 and session_id = $2 and used_at is null",
        )
        .bind(project_id)
        .bind(session_id)
        .fetch_one(&self.0.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

impl Sessions<'_> {
    /// The user's sessions that are neither ended nor past their absolute expiry or idle
    /// timeout (`active_since`: the oldest last-activity that still counts as live), newest first.
    pub async fn list(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        now: Millis,
        active_since: Millis,
    ) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "select id, created_at, last_active_at, expires_at, ip, user_agent from session \
             where project_id = $1 and user_id = $2 and ended_at is null and expires_at > $3 \
             and last_active_at > $4 order by created_at desc, id limit 1000",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(now)
        .bind(active_since)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    last_active_at: r.try_get("last_active_at")?,
                    expires_at: r.try_get("expires_at")?,
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Ends one session of `user_id` (ownership is part of the query). False if there is no
    /// such live session of that user.
    pub async fn end_one_of_user(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        session_id: &SessionId,
        now: Millis,
    ) -> Result<bool> {
        self.end_one(project_id, Some(user_id), session_id, now)
            .await
    }

    /// Ends one live session, of `owner` if given; false if there was no such live session.
    async fn end_one(
        &self,
        project_id: &ProjectId,
        owner: Option<&UserId>,
        session_id: &SessionId,
        now: Millis,
    ) -> Result<bool> {
        let sql = match owner {
            None => "update session set ended_at = $1 where project_id = $2 and id = $3 and ended_at is null",
            Some(_) => "update session set ended_at = $1 where project_id = $2 and id = $3 and ended_at is null and user_id = $4",
        };
        let mut tx = self.0.writer.begin().await?;
        let mut query = sqlx::query(sql).bind(now).bind(project_id).bind(session_id);
        if let Some(user_id) = owner {
            query = query.bind(user_id);
        }
        let done = query.execute(&mut *tx).await?;
        self.0
            .commit_announcing(tx, Invalidation::Session(session_id.clone()))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every live session of a user except `keep`; returns how many ended.
    pub async fn end_all_of_user(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: Millis,
    ) -> Result<u64> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "update session set ended_at = $1 where project_id = $2 and user_id = $3 and ended_at is null \
             and expires_at > $1 and id <> $4",
        )
        .bind(now)
        .bind(project_id)
        .bind(user_id)
        .bind(keep.map_or("", SessionId::as_str))
        .execute(&mut *tx)
        .await?;
        self.0
            .commit_announcing(tx, Invalidation::User(user_id.to_owned()))
            .await?;
        Ok(done.rows_affected())
    }
}
