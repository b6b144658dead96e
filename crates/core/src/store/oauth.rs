//! The OpenID Connect provider's rows: clients, users' consents, client-assertion `jti`s,
//! device authorization requests and revoked client tokens (migration 0008).

use sqlx::Row;

use super::Store;
use crate::clock::Millis;
use crate::error::{is_unique_violation, Error, Result};
use crate::model::{
    AuthMethod, ClientId, ClientKind, DeviceRequest, DeviceStatus, GrantType, OAuthClient,
    ProjectId, SessionId, UserGrant, UserId,
};

/// Reached through [`Store::oauth`].
pub struct OAuth<'a>(pub(super) &'a Store);

const CLIENT_COLUMNS: &str =
    "id, name, kind, redirect_uris, post_logout_redirect_uris, grant_types, \
     scopes, first_party, auth_method, jwks, secret_hash, previous_secret_hash, \
     previous_secret_expires_at, created_at, updated_at";

fn json_list(r: &sqlx::any::AnyRow, column: &str) -> Result<Vec<String>> {
    let text: String = r.try_get(column)?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Internal(anyhow::anyhow!("oauth_client.{column}: {e}")))
}

fn client_from_row(r: &sqlx::any::AnyRow) -> Result<OAuthClient> {
    let bad = |what: &str| Error::Internal(anyhow::anyhow!("oauth_client: unknown {what}"));
    let kind: String = r.try_get("kind")?;
    let method: String = r.try_get("auth_method")?;
    let jwks: Option<String> = r.try_get("jwks")?;
    Ok(OAuthClient {
        id: r.try_get::<String, _>("id")?.into(),
        name: r.try_get("name")?,
        kind: ClientKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        redirect_uris: json_list(r, "redirect_uris")?,
        post_logout_redirect_uris: json_list(r, "post_logout_redirect_uris")?,
        grant_types: json_list(r, "grant_types")?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| bad("grant type")))
            .collect::<Result<_>>()?,
        scopes: json_list(r, "scopes")?,
        first_party: r.try_get::<i64, _>("first_party")? != 0,
        auth_method: AuthMethod::parse(&method).ok_or_else(|| bad("auth method"))?,
        jwks: jwks
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(|e| Error::Internal(anyhow::anyhow!("oauth_client.jwks: {e}")))?,
        secret_hash: r.try_get("secret_hash")?,
        previous_secret_hash: r.try_get("previous_secret_hash")?,
        previous_secret_expires_at: r.try_get("previous_secret_expires_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(e.into()))
}

impl OAuth<'_> {
    pub async fn insert_client(&self, project_id: &ProjectId, c: &OAuthClient) -> Result<()> {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        sqlx::query(&format!(
            "insert into oauth_client (project_id, {CLIENT_COLUMNS}) values \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(project_id)
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.kind.as_str())
        .bind(to_json(&c.redirect_uris)?)
        .bind(to_json(&c.post_logout_redirect_uris)?)
        .bind(to_json(&grants)?)
        .bind(to_json(&c.scopes)?)
        .bind(i64::from(c.first_party))
        .bind(c.auth_method.as_str())
        .bind(c.jwks.as_ref().map(to_json).transpose()?)
        .bind(&c.secret_hash)
        .bind(&c.previous_secret_hash)
        .bind(c.previous_secret_expires_at)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    pub async fn client(&self, project_id: &ProjectId, id: &str) -> Result<Option<OAuthClient>> {
        let row = sqlx::query(&format!(
            "select {CLIENT_COLUMNS} from oauth_client where project_id = $1 and id = $2"
        ))
        .bind(project_id)
        .bind(id)
        .fetch_optional(&self.0.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn clients(&self, project_id: &ProjectId) -> Result<Vec<OAuthClient>> {
        let rows = sqlx::query(&format!(
            "select {CLIENT_COLUMNS} from oauth_client where project_id = $1 order by created_at, id"
        ))
        .bind(project_id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Replaces a client's secret, keeping the old one valid until `previous_expires_at`.
    pub async fn rotate_secret(
        &self,
        project_id: &ProjectId,
        id: &ClientId,
        secret_hash: &str,
        previous_expires_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "update oauth_client set previous_secret_hash = secret_hash, \
             previous_secret_expires_at = $1, secret_hash = $2, updated_at = $3 \
             where project_id = $4 and id = $5 and secret_hash is not null",
        )
        .bind(previous_expires_at)
        .bind(secret_hash)
        .bind(now)
        .bind(project_id)
        .bind(id)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a client; its refresh tokens go with it (their sessions stay).
    pub async fn delete_client(&self, project_id: &ProjectId, id: &str) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        sqlx::query("delete from refresh_token where project_id = $1 and client_id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("delete from oauth_client where project_id = $1 and id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The scopes the user consented to for a client, if any.
    pub async fn grant(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        client_id: &ClientId,
    ) -> Result<Option<Vec<String>>> {
        let row = sqlx::query(
            "select scopes from oauth_grant where project_id = $1 and user_id = $2 and client_id = $3",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("scopes"))
            .transpose()?
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }))
    }

    /// Records a consent (the union with what was consented before).
    pub async fn put_grant(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        client_id: &ClientId,
        scopes: &[String],
        now: Millis,
    ) -> Result<()> {
        let mut all = self
            .grant(project_id, user_id, client_id)
            .await?
            .unwrap_or_default();
        for s in scopes {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        let mut tx = self.0.writer.begin().await?;
        sqlx::query("delete from oauth_grant where user_id = $1 and client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into oauth_grant (project_id, user_id, client_id, scopes, created_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(client_id)
        .bind(all.join(" "))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn grants(&self, project_id: &ProjectId, user_id: &UserId) -> Result<Vec<UserGrant>> {
        let rows = sqlx::query(
            "select g.client_id, c.name, g.scopes, g.created_at from oauth_grant g \
             join oauth_client c on c.id = g.client_id \
             where g.project_id = $1 and g.user_id = $2 order by g.created_at, g.client_id",
        )
        .bind(project_id)
        .bind(user_id)
        .fetch_all(&self.0.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let scopes: String = r.try_get("scopes")?;
                Ok(UserGrant {
                    client_id: r.try_get::<String, _>("client_id")?.into(),
                    client_name: r.try_get("name")?,
                    scopes: scopes.split(' ').map(str::to_owned).collect(),
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Withdraws a consent; the client's refresh tokens of the user's sessions end with it.
    pub async fn delete_grant(
        &self,
        project_id: &ProjectId,
        user_id: &UserId,
        client_id: &str,
    ) -> Result<bool> {
        let mut tx = self.0.writer.begin().await?;
        let done = sqlx::query(
            "delete from oauth_grant where project_id = $1 and user_id = $2 and client_id = $3",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "delete from refresh_token where project_id = $1 and client_id = $2 and session_id in \
             (select id from session where project_id = $1 and user_id = $3)",
        )
        .bind(project_id)
        .bind(client_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a client assertion's `jti`: false if it was seen before (a replay).
    pub async fn record_assertion(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "insert into client_assertion (client_id, jti, expires_at) values ($1, $2, $3)",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&self.0.writer)
        .await;
        match done {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_device(
        &self,
        project_id: &ProjectId,
        id: &str,
        client_id: &ClientId,
        device_hash: &str,
        user_code_hash: &str,
        scope: &str,
        expires_at: Millis,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into device_code (id, project_id, client_id, device_hash, user_code_hash, scope, \
             status, created_at, expires_at) values ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
        )
        .bind(id)
        .bind(project_id)
        .bind(client_id)
        .bind(device_hash)
        .bind(user_code_hash)
        .bind(scope)
        .bind(now)
        .bind(expires_at)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }

    /// A device request by the hash of its device code or of its user code (expired ones too:
    /// the caller tells `expired_token`).
    pub async fn device(
        &self,
        project_id: &ProjectId,
        by_user_code: bool,
        hash: &str,
    ) -> Result<Option<DeviceRequest>> {
        let column = if by_user_code {
            "user_code_hash"
        } else {
            "device_hash"
        };
        let row = sqlx::query(&format!(
            "select id, client_id, scope, status, session_id, last_polled_at, expires_at \
             from device_code where project_id = $1 and {column} = $2"
        ))
        .bind(project_id)
        .bind(hash)
        .fetch_optional(&self.0.pool)
        .await?;
        row.map(|r| {
            let status: String = r.try_get("status")?;
            Ok(DeviceRequest {
                id: r.try_get("id")?,
                client_id: r.try_get::<String, _>("client_id")?.into(),
                scope: r.try_get("scope")?,
                status: DeviceStatus::parse(&status).ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!("device_code: unknown status {status}"))
                })?,
                session_id: r
                    .try_get::<Option<String>, _>("session_id")?
                    .map(SessionId::from),
                last_polled_at: r.try_get("last_polled_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Approves (with the browser's session) or denies a pending request.
    pub async fn decide_device(
        &self,
        project_id: &ProjectId,
        id: &str,
        session_id: Option<&SessionId>,
        now: Millis,
    ) -> Result<bool> {
        let status = if session_id.is_some() {
            DeviceStatus::Approved
        } else {
            DeviceStatus::Denied
        };
        let done = sqlx::query(
            "update device_code set status = $1, session_id = $2 where project_id = $3 and id = $4 \
             and status = 'pending' and expires_at > $5",
        )
        .bind(status.as_str())
        .bind(session_id)
        .bind(project_id)
        .bind(id)
        .bind(now)
        .execute(&self.0.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stamps a poll of the token endpoint.
    pub async fn polled(&self, project_id: &ProjectId, id: &str, now: Millis) -> Result<()> {
        sqlx::query("update device_code set last_polled_at = $1 where project_id = $2 and id = $3")
            .bind(now)
            .bind(project_id)
            .bind(id)
            .execute(&self.0.writer)
            .await?;
        Ok(())
    }

    /// Revokes a client-credentials token by its `jti` until it would have expired anyway.
    pub async fn revoke_client_token(
        &self,
        project_id: &ProjectId,
        client_id: &ClientId,
        jti: &str,
        expires_at: Millis,
    ) -> Result<()> {
        let done = sqlx::query(
            "insert into revoked_client_token (jti, project_id, client_id, expires_at) \
             values ($1, $2, $3, $4)",
        )
        .bind(jti)
        .bind(project_id)
        .bind(client_id)
        .bind(expires_at)
        .execute(&self.0.writer)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn client_token_revoked(&self, project_id: &ProjectId, jti: &str) -> Result<bool> {
        let row = sqlx::query(
            "select 1 as one from revoked_client_token where project_id = $1 and jti = $2",
        )
        .bind(project_id)
        .bind(jti)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Ends the refresh tokens a client holds in a session (RFC 7009 revocation of one of them).
    pub async fn end_client_refresh(
        &self,
        project_id: &ProjectId,
        session_id: &SessionId,
        client_id: &ClientId,
    ) -> Result<()> {
        sqlx::query(
            "delete from refresh_token where project_id = $1 and session_id = $2 and client_id = $3",
        )
        .bind(project_id)
        .bind(session_id)
        .bind(client_id)
        .execute(&self.0.writer)
        .await?;
        Ok(())
    }
}
