//! Sessions: starting one, token verification, logout, refresh and revocation. (Signing in,
//! which ends by starting a session, is `signin`.)
//!
//! A session is created by every successful sign-in and carries a refresh-token family. Access
//! tokens are short-lived JWTs naming their session (`sid`); verification checks the signature
//! and then the session's live state, so logout, revocation and disabling a user take effect on
//! the next call. Refresh tokens rotate on every use (RFC 9700 §4.14): a rotated token presented
//! again within the project's grace window gets the same successor (a client retry), after it
//! the whole session ends (theft).

use std::sync::Arc;

use crate::audit;
use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::ids::{new_id, new_refresh_token, secret_hash};
use crate::limits::{Class, Limiter};
use crate::model::{
    Aal, Amr, AuditKind, ClientId, Project, SessionId, SessionInfo, SessionView, User, UserId,
};
use crate::store::sessions::{LoginStamp, NewSession};
use crate::store::Store;
use crate::store::{Redeem, RefreshRow};
use crate::tokens::{AccessClaims, TokenService};

/// Shortest access-token lifetime a client may ask for, in seconds.
pub const MIN_TOKEN_EXPIRY: u64 = 10;
/// The longest access-token lifetime any project may have (`accessTokenTtl`).
pub const MAX_TOKEN_EXPIRY: u64 = 86_400;

/// Where a request came from, recorded on the session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The end user's address when the calling backend says it (`X-Client-Ip`), else the
    /// address of the connection, which is usually the backend's.
    pub ip: Option<String>,
    /// True when `ip` is the end user's, as told by the backend.
    pub ip_is_end_user: bool,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The end user's address as a throttling subject, when the backend gave it
    /// (`X-Client-Ip`). Without it the address is the backend's own, shared by all its users:
    /// nothing to key a limit on.
    pub fn end_user_address(&self) -> Option<String> {
        match (&self.ip, self.ip_is_end_user) {
            (Some(ip), true) => Some(crate::limits::address_subject(ip)),
            _ => None,
        }
    }
}

/// A signed-in session's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The session they belong to.
    pub session_id: SessionId,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

#[derive(Clone)]
pub struct AuthService {
    store: Store,
    tokens: Arc<TokenService>,
    limiter: Limiter,
    clock: Arc<Clock>,
}

impl AuthService {
    pub fn new(
        store: Store,
        tokens: Arc<TokenService>,
        limiter: Limiter,
        clock: Arc<Clock>,
    ) -> Self {
        Self {
            store,
            tokens,
            limiter,
            clock,
        }
    }

    pub fn tokens(&self) -> &Arc<TokenService> {
        &self.tokens
    }

    /// Starts the session of a sign-in that passed every factor it needed, stamping the login
    /// on the user (and an upgraded password hash, if the first factor made one) in the same
    /// commit.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_login(
        &self,
        project: &Project,
        user: User,
        client: &ClientInfo,
        token_expiry: Option<u64>,
        amr: &[Amr],
        aal: Aal,
        rehashed_password: Option<&str>,
    ) -> Result<(User, Tokens)> {
        let ttl = token_ttl(project, token_expiry)?;
        let now = self.clock.now();
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        let stamp = LoginStamp {
            new_password_hash: rehashed_password,
        };
        let tokens = self
            .start_session(project, &user, client, ttl, now, Some(stamp), amr, aal)
            .await?;
        Ok((user, tokens))
    }

    /// Creates a session (and its first refresh token) and signs its first access token.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start_session(
        &self,
        project: &Project,
        user: &User,
        client: &ClientInfo,
        ttl: u64,
        now: Millis,
        login: Option<LoginStamp<'_>>,
        amr: &[Amr],
        aal: Aal,
    ) -> Result<Tokens> {
        let session_id = crate::ids::new::<SessionId>();
        let refresh_token = new_refresh_token();
        let expires_at = now + (project.settings.session_lifetime as i64) * 1000;
        self.store
            .sessions()
            .create(
                &NewSession {
                    id: &session_id,
                    project_id: &project.id,
                    user_id: &user.id,
                    amr,
                    aal,
                    ip: client.ip.as_deref(),
                    user_agent: client.user_agent.as_deref(),
                    now,
                    expires_at,
                },
                &secret_hash(&refresh_token),
                login,
            )
            .await?;
        let access_token = self
            .sign(project, user, &session_id, amr, aal, None, ttl, now)
            .await?;
        Ok(Tokens {
            session_id,
            access_token,
            refresh_token,
            expires_in: ttl,
        })
    }

    /// New tokens for a live session, for an app it is handed to (Universal Login) or an OAuth
    /// client (`client`: its id and granted scope): an access token with the session's `amr`
    /// and `aal`, and a refresh token of a family of its own. `redeem` (the code, or the
    /// approved device request) is used up with them, atomically: `None` if it was used already
    /// (a replay, which the caller answers by ending the session).
    pub async fn tokens_for_session(
        &self,
        project: &Project,
        session_id: &SessionId,
        token_expiry: Option<u64>,
        redeem: Redeem<'_>,
        client: Option<(&ClientId, &str)>,
    ) -> Result<Option<(Arc<SessionView>, Tokens)>> {
        let ttl = token_ttl(project, token_expiry)?;
        let now = self.clock.now();
        let view = self
            .store
            .sessions()
            .view(&project.id, session_id)
            .await?
            .filter(|v| v.is_live(now, idle_ms(project)))
            .ok_or(Error::InvalidToken)?;
        if view.user.disabled {
            return Err(Error::UserDisabled);
        }
        let refresh_token = new_refresh_token();
        let redeemed = self
            .store
            .sessions()
            .add_refresh(
                &project.id,
                session_id,
                &secret_hash(&refresh_token),
                view.expires_at,
                redeem,
                client,
                now,
            )
            .await?;
        if !redeemed {
            return Ok(None);
        }
        let access_token = self
            .sign(
                project, &view.user, session_id, &view.amr, view.aal, client, ttl, now,
            )
            .await?;
        let tokens = Tokens {
            session_id: session_id.clone(),
            access_token,
            refresh_token,
            expires_in: ttl,
        };
        Ok(Some((view, tokens)))
    }

    /// The live session with this id, if any (not ended, expired or idle, its user enabled).
    pub async fn live_view(
        &self,
        project: &Project,
        session_id: &SessionId,
    ) -> Result<Option<Arc<SessionView>>> {
        let now = self.clock.now();
        Ok(self
            .store
            .sessions()
            .view(&project.id, session_id)
            .await?
            .filter(|v| v.is_live(now, idle_ms(project)) && !v.user.disabled))
    }

    /// Whether a session is live (not ended, expired or idle, its user enabled).
    pub async fn session_is_live(&self, project: &Project, session_id: &SessionId) -> Result<bool> {
        let now = self.clock.now();
        Ok(self
            .store
            .sessions()
            .view(&project.id, session_id)
            .await?
            .is_some_and(|v| v.is_live(now, idle_ms(project)) && !v.user.disabled))
    }

    /// Ends a session (a browser's sign-out, a replayed hand-off).
    pub async fn end_session(&self, project: &Project, session_id: &SessionId) -> Result<()> {
        self.store
            .sessions()
            .end(&project.id, session_id, self.clock.now())
            .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn sign(
        &self,
        project: &Project,
        user: &User,
        session_id: &SessionId,
        amr: &[Amr],
        aal: Aal,
        client: Option<(&ClientId, &str)>,
        ttl: u64,
        now: Millis,
    ) -> Result<String> {
        let iat = now.div_euclid(1000);
        let claims = AccessClaims {
            iss: self.tokens.issuer(project),
            sub: user.id.clone(),
            aud: project.login_id.clone(),
            exp: iat + ttl as i64,
            iat,
            nbf: None,
            jti: new_id("jti"),
            sid: session_id.clone(),
            amr: amr.to_vec(),
            aal,
            email: user.email.clone(),
            email_verified: user.email_verified,
            phone_number: user.phone.clone(),
            phone_number_verified: user.phone.as_ref().map(|_| user.phone_verified),
            client_id: client.map(|c| c.0.to_string()),
            scope: client.map(|c| c.1.to_owned()),
        };
        self.tokens.issue(project, &claims, now).await
    }

    /// Verifies an access token: signature and claims, then revocation (session ended or
    /// expired, this token revoked, user disabled or deleted). Errors fail closed.
    pub async fn verify(
        &self,
        project: &Project,
        token: &str,
    ) -> Result<(User, Arc<AccessClaims>)> {
        let now = self.clock.now();
        let claims = self.tokens.verify(project, token, now).await?;
        let view = self.live_session(project, &claims, now).await?;
        if view.user.disabled {
            return Err(Error::UserDisabled);
        }
        // A token handed to an OAuth client dies with the client.
        if let Some(client_id) = &claims.client_id {
            if self
                .store
                .oauth()
                .client(&project.id, client_id)
                .await?
                .is_none()
            {
                return Err(Error::InvalidToken);
            }
        }
        Ok((view.user.clone(), claims))
    }

    /// The session a token names, if it is live, belongs to the token's user, and the token was
    /// not revoked on its own.
    async fn live_session(
        &self,
        project: &Project,
        claims: &AccessClaims,
        now: Millis,
    ) -> Result<Arc<SessionView>> {
        let view = self
            .store
            .sessions()
            .view(&project.id, &claims.sid)
            .await?
            .ok_or(Error::InvalidToken)?;
        if !view.is_live(now, idle_ms(project))
            || view.user.id != claims.sub
            || view.revoked_jtis.contains(&claims.jti)
        {
            return Err(Error::InvalidToken);
        }
        Ok(view)
    }

    /// Ends the session of a (valid) access token.
    pub async fn logout(&self, project: &Project, access_token: &str) -> Result<()> {
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify_ignoring_time(project, access_token, now)
            .await?;
        self.live_session(project, &claims, now).await?;
        self.store
            .sessions()
            .end(&project.id, &claims.sid, now)
            .await?;
        audit::record(
            &self.store,
            audit::event(&project.id, AuditKind::Logout, true, Some(&claims.sub)),
            now,
        )
        .await;
        Ok(())
    }

    /// The live sessions of the access token's user, and which one is the caller's.
    pub async fn list_sessions(
        &self,
        project: &Project,
        access_token: &str,
    ) -> Result<(SessionId, Vec<SessionInfo>)> {
        let (user, claims) = self.verify(project, access_token).await?;
        let now = self.clock.now();
        let sessions = self
            .store
            .sessions()
            .list(&project.id, &user.id, now, now - idle_ms(project))
            .await?;
        Ok((claims.sid.clone(), sessions))
    }

    /// Ends one of the caller's own sessions; another user's session id is `NotFound`.
    pub async fn revoke_session(
        &self,
        project: &Project,
        access_token: &str,
        session_id: &SessionId,
    ) -> Result<()> {
        let (user, _) = self.verify(project, access_token).await?;
        let now = self.clock.now();
        if !self
            .store
            .sessions()
            .end_one_of_user(&project.id, &user.id, session_id, now)
            .await?
        {
            return Err(Error::NotFound);
        }
        audit::record(
            &self.store,
            audit::event(&project.id, AuditKind::SessionRevoke, true, Some(&user.id)),
            now,
        )
        .await;
        Ok(())
    }

    /// Ends all the caller's sessions, or all but the current one.
    pub async fn revoke_all_sessions(
        &self,
        project: &Project,
        access_token: &str,
        keep_current: bool,
    ) -> Result<u64> {
        let (user, claims) = self.verify(project, access_token).await?;
        let now = self.clock.now();
        let keep = keep_current.then_some(&claims.sid);
        let count = self
            .store
            .sessions()
            .end_all_of_user(&project.id, &user.id, keep, now)
            .await?;
        let mut event = audit::event(
            &project.id,
            AuditKind::SessionRevokeAll,
            true,
            Some(&user.id),
        );
        event.detail = serde_json::json!({"revoked": count, "keepCurrent": keep_current});
        audit::record(&self.store, event, now).await;
        Ok(count)
    }

    /// Rotates a refresh token (see the module docs). A token issued to an OAuth client works
    /// only for that client (`oauth_client`: its id and the scope of the new access token, the
    /// granted one or narrower), and one of the project's own API only there.
    pub async fn refresh(
        &self,
        project: &Project,
        refresh_token: &str,
        token_expiry: Option<u64>,
        client: &ClientInfo,
        oauth_client: Option<(&ClientId, &str)>,
    ) -> Result<(Arc<SessionView>, RefreshRow, Tokens)> {
        let ttl = token_ttl(project, token_expiry)?;
        let now = self.clock.now();
        let found = match refresh_token.len() {
            1..=512 => {
                self.store
                    .sessions()
                    .refresh_by_hash(&project.id, &secret_hash(refresh_token))
                    .await?
            }
            _ => None,
        };
        let found = found.filter(|row| row.client_id.as_ref() == oauth_client.map(|c| c.0));
        let Some(row) = found else {
            // Unknown tokens are counted per end-user address (SECURITY L2); known ones never
            // are, since every live session refreshes.
            if let Some(address) = client.end_user_address() {
                let key = self.limiter.key("guess:refresh", &project.id, &address);
                self.limiter
                    .check_and_count(project, Class::TokenGuesses, &key)
                    .await?;
            }
            return Err(Error::InvalidToken);
        };
        let view = self
            .store
            .sessions()
            .view(&project.id, &row.session_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        if !view.is_live(now, idle_ms(project)) {
            return Err(Error::InvalidToken);
        }
        if view.user.disabled {
            return Err(Error::UserDisabled);
        }
        if now >= row.expires_at {
            return Err(Error::TokenExpired);
        }
        let successor = self.tokens.refresh_successor(refresh_token);
        self.rotate(project, refresh_token, &row, &successor, &view.user.id, now)
            .await?;
        let access_token = self
            .sign(
                project,
                &view.user,
                &row.session_id,
                &view.amr,
                view.aal,
                oauth_client,
                ttl,
                now,
            )
            .await?;
        let tokens = Tokens {
            session_id: row.session_id.clone(),
            access_token,
            refresh_token: successor,
            expires_in: ttl,
        };
        Ok((view, row, tokens))
    }

    /// Marks `row` used with `successor` as its successor (of concurrent rotations exactly one
    /// wins, the others get the same successor). A token rotated more than the grace window ago
    /// is a stolen one being replayed: the whole session ends (RFC 9700 §4.14).
    async fn rotate(
        &self,
        project: &Project,
        refresh_token: &str,
        row: &RefreshRow,
        successor: &str,
        user_id: &UserId,
        now: Millis,
    ) -> Result<()> {
        let mut used_at = row.used_at;
        if used_at.is_none()
            && !self
                .store
                .sessions()
                .rotate_refresh(&project.id, row, &secret_hash(successor), now)
                .await?
        {
            // A concurrent refresh of the same token won; it committed before we lost.
            used_at = self
                .store
                .sessions()
                .refresh_by_hash(&project.id, &secret_hash(refresh_token))
                .await?
                .and_then(|r| r.used_at);
        }
        let grace_ms = (project.settings.refresh_grace as i64) * 1000;
        if used_at.is_some_and(|used_at| now - used_at > grace_ms) {
            self.store
                .sessions()
                .end(&project.id, &row.session_id, now)
                .await?;
            let mut event = audit::event(
                &project.id,
                AuditKind::RefreshReuseDetected,
                false,
                Some(user_id),
            );
            event.detail = serde_json::json!({"sessionId": row.session_id});
            audit::record(&self.store, event, now).await;
            tracing::warn!(session_id = %row.session_id, "refresh token reuse detected; session ended");
            return Err(Error::InvalidToken);
        }
        Ok(())
    }

    /// Revokes an access token (by its `jti`) or a refresh token (ending its session). Unknown
    /// or already-invalid tokens are accepted silently, as RFC 7009 §2.2 asks.
    pub async fn revoke(&self, project: &Project, token: &str) -> Result<()> {
        let now = self.clock.now();
        if token.is_empty() || token.chars().count() > 8 * 1024 {
            return Err(Error::invalid(
                "token",
                "token must be 1 to 8192 characters",
            ));
        }
        if token.split('.').count() == 3 {
            if let Ok(claims) = self.tokens.verify_ignoring_time(project, token, now).await {
                if claims.exp * 1000 > now {
                    self.store
                        .sessions()
                        .revoke_access_token(
                            &project.id,
                            &claims.sid,
                            &claims.jti,
                            claims.exp * 1000,
                        )
                        .await?;
                }
            }
            return Ok(());
        }
        if let Some(row) = self
            .store
            .sessions()
            .refresh_by_hash(&project.id, &secret_hash(token))
            .await?
        {
            self.store
                .sessions()
                .end(&project.id, &row.session_id, now)
                .await?;
        }
        Ok(())
    }
}

fn idle_ms(project: &Project) -> Millis {
    (project.settings.session_idle_timeout as i64) * 1000
}

/// The access-token lifetime for a request: the project's, or shorter if the client asks.
pub fn token_ttl(project: &Project, requested: Option<u64>) -> Result<u64> {
    let max = project.settings.access_token_ttl;
    match requested {
        None => Ok(max),
        Some(t) if !(MIN_TOKEN_EXPIRY..=MAX_TOKEN_EXPIRY).contains(&t) => Err(Error::invalid(
            "tokenExpiry",
            format!("tokenExpiry must be {MIN_TOKEN_EXPIRY} to {MAX_TOKEN_EXPIRY} seconds"),
        )),
        Some(t) => Ok(t.min(max)),
    }
}
