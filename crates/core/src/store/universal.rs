//! Universal Login's rows: sign-in flows, browser sessions (a hash on the session row) and the
//! one-time codes that hand a session to an app (migration 0007).

use sqlx::Row;

use super::Store;
use crate::clock::Millis;
use crate::error::Result;
use crate::model::{AuthCode, LoginFlow, OAuthRequest, ProjectId, Redemption, SessionId};

/// Reached through [`Store::universal`].
pub struct Universal<'a>(pub(super) &'a Store);

impl Universal<'_> {
    pub async fn insert_flow(
        &self,
        project_id: &ProjectId,
        f: &LoginFlow,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into login_flow (id, project_id, binding_hash, redirect_url, state, code_challenge, \
             created_at, expires_at, client_id, scope, nonce, hosted_return) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&f.id)
        .bind(project_id)
        .bind(&f.binding_hash)
        .bind(&f.redirect_url)
        .bind(&f.state)
        .bind(&f.code_challenge)
        .bind(now)
        .bind(f.expires_at)
        .bind(f.oauth.as_ref().map(|o| &o.client_id))
        .bind(f.oauth.as_ref().map(|o| &o.scope))
        .bind(f.oauth.as_ref().and_then(|o| o.nonce.as_ref()))
        .bind(i64::from(f.hosted_return))
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// The live flow with this id.
    pub async fn flow(
        &self,
        project_id: &ProjectId,
        id: &str,
        now: Millis,
    ) -> Result<Option<LoginFlow>> {
        let row = sqlx::query(
            "select id, binding_hash, redirect_url, state, code_challenge, mfa_token, pending_email, \
             pending_password_hash, expires_at, client_id, scope, nonce, hosted_return from login_flow where project_id = $1 and id = $2 \
             and expires_at > $3",
        )
        .bind(project_id)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|r| {
            Ok(LoginFlow {
                id: r.try_get("id")?,
                binding_hash: r.try_get("binding_hash")?,
                redirect_url: r.try_get("redirect_url")?,
                state: r.try_get("state")?,
                code_challenge: r.try_get("code_challenge")?,
                mfa_token: r.try_get("mfa_token")?,
                pending_email: r.try_get("pending_email")?,
                pending_password_hash: r.try_get("pending_password_hash")?,
                oauth: oauth_request(&r)?,
                hosted_return: r.try_get::<i64, _>("hosted_return")? != 0,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Records the (sealed) MFA token of a flow whose first factor passed.
    pub async fn set_flow_mfa(&self, project_id: &ProjectId, id: &str, sealed: &str) -> Result<()> {
        sqlx::query("update login_flow set mfa_token = $1 where project_id = $2 and id = $3")
            .bind(sealed)
            .bind(project_id)
            .bind(id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// Records the address a flow's emailed code went to (and, for a sign-up, the new
    /// password's hash).
    pub async fn set_flow_pending(
        &self,
        project_id: &ProjectId,
        id: &str,
        email: &str,
        password_hash: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "update login_flow set pending_email = $1, pending_password_hash = $2 \
             where project_id = $3 and id = $4",
        )
        .bind(email)
        .bind(password_hash)
        .bind(project_id)
        .bind(id)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// Ends a flow (done, or abandoned); old ones are swept by the cleanup.
    pub async fn delete_flow(&self, project_id: &ProjectId, id: &str) -> Result<()> {
        sqlx::query("delete from login_flow where project_id = $1 and id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// Ties a browser (the hash of its cookie's secret) to a session.
    pub async fn set_browser(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
        hash: &str,
    ) -> Result<()> {
        sqlx::query("update session set browser_hash = $1 where project_id = $2 and id = $3")
            .bind(hash)
            .bind(project_id)
            .bind(session_id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// The session a browser's cookie names (live or not: the caller checks).
    pub async fn session_of_browser(
        &self,
        project_id: &ProjectId,
        hash: &str,
    ) -> Result<Option<SessionId>> {
        let row = sqlx::query("select id from session where project_id = $1 and browser_hash = $2")
            .bind(project_id)
            .bind(hash)
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_code(
        &self,
        project_id: &ProjectId,
        code_hash: &str,
        session_id: &SessionId,
        redirect_url: &str,
        code_challenge: Option<&str>,
        oauth: Option<&OAuthRequest>,
        expires_at: Millis,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into auth_code (id, project_id, code_hash, session_id, redirect_url, code_challenge, \
             created_at, expires_at, client_id, scope, nonce) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(crate::ids::new_id("ac"))
        .bind(project_id)
        .bind(code_hash)
        .bind(session_id)
        .bind(redirect_url)
        .bind(code_challenge)
        .bind(now)
        .bind(expires_at)
        .bind(oauth.map(|o| &o.client_id))
        .bind(oauth.map(|o| &o.scope))
        .bind(oauth.and_then(|o| o.nonce.as_ref()))
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// A code by its hash, without using it: `Fresh` if unused and unexpired, `Replayed` if
    /// used before, else `Unknown`. It is used up with the tokens it buys
    /// (`Sessions::add_refresh`), so of concurrent redemptions exactly one wins.
    pub async fn code(
        &self,
        project_id: &ProjectId,
        code_hash: &str,
        now: Millis,
    ) -> Result<Redemption> {
        let row = sqlx::query(
            "select session_id, redirect_url, code_challenge, used_at, expires_at, client_id, scope, \
             nonce from auth_code \
             where project_id = $1 and code_hash = $2",
        )
        .bind(project_id)
        .bind(code_hash)
        .fetch_optional(&self.0.pool)
        .await?;
        let Some(r) = row else {
            return Ok(Redemption::Unknown);
        };
        let used: Option<Millis> = r.try_get("used_at")?;
        let expires_at: Millis = r.try_get("expires_at")?;
        Ok(match used {
            Some(_) => Redemption::Replayed(r.try_get("session_id")?),
            None if expires_at <= now => Redemption::Unknown,
            None => Redemption::Fresh(AuthCode {
                session_id: r.try_get("session_id")?,
                redirect_url: r.try_get("redirect_url")?,
                code_challenge: r.try_get("code_challenge")?,
                oauth: oauth_request(&r)?,
            }),
        })
    }
}

/// The OAuth request columns of a flow or code row (`client_id`, `scope`, `nonce`).
fn oauth_request(r: &sqlx::any::AnyRow) -> Result<Option<OAuthRequest>> {
    let client_id: Option<String> = r.try_get("client_id")?;
    Ok(match client_id {
        None => None,
        Some(client_id) => Some(OAuthRequest {
            client_id: client_id.into(),
            scope: r.try_get::<Option<String>, _>("scope")?.unwrap_or_default(),
            nonce: r.try_get("nonce")?,
        }),
    })
}
