//! The token endpoint's grants, ID tokens, userinfo, introspection and revocation.

use base64::Engine;
use sha2::{Digest, Sha256, Sha512};

use super::{ClientAuth, OAuthError, Provider};
use crate::auth::Tokens;
use crate::error::Error;
use crate::ids::{new_id, secret_hash};
use crate::model::{GrantType, OAuthClient, Project, Redemption, SessionView, SigningAlg, User};
use crate::store::Redeem;
use crate::tokens::ClientClaims;

/// A token request's parameters, as sent (form fields).
#[derive(Debug, Clone, Default)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub device_code: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// OIDC `at_hash`: the left half of the access token's hash, with the ID token's algorithm's
/// hash (SHA-512 for Ed25519, OIDC Core errata).
fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::EdDsa => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The standard claims of `user` that `scope` releases (OIDC Core §5.4).
pub fn user_claims(user: &User, scope: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), user.id.to_string().into());
    if has_scope(scope, "email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), email.clone().into());
            claims.insert("email_verified".into(), user.email_verified.into());
        }
    }
    if has_scope(scope, "phone") {
        if let Some(phone) = &user.phone {
            claims.insert("phone_number".into(), phone.clone().into());
            claims.insert("phone_number_verified".into(), user.phone_verified.into());
        }
    }
    if has_scope(scope, "profile") {
        claims.insert("updated_at".into(), (user.updated_at / 1000).into());
        // Profile claims the app stored in the user's metadata under their OIDC names.
        for name in ["name", "given_name", "family_name", "picture"] {
            if let Some(v) = user.metadata.get(name).filter(|v| v.is_string()) {
                claims.insert(name.into(), v.clone());
            }
        }
    }
    claims
}

impl Provider {
    /// The token endpoint (RFC 6749 §3.2): authenticates the client, then runs its grant.
    pub async fn token(
        &self,
        project: &Project,
        auth: &ClientAuth,
        p: TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let grant = match p.grant_type.as_deref() {
            None => return Err(OAuthError::invalid_request("grant_type is required")),
            Some(g) => GrantType::parse(g),
        };
        let client = self.authenticated(project, auth).await?;
        let Some(grant) = grant else {
            // The password grant and the rest do not exist here (SECURITY AS4).
            return Err(match p.grant_type.as_deref() {
                Some("password") | Some("implicit") => {
                    OAuthError::unauthorized_client("this grant is not offered")
                }
                _ => OAuthError::unsupported_grant_type("unsupported grant_type"),
            });
        };
        if !client.allows(grant) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use this grant",
            ));
        }
        match grant {
            GrantType::AuthorizationCode => self.code_grant(project, &client, p).await,
            GrantType::RefreshToken => self.refresh_grant(project, &client, p).await,
            GrantType::ClientCredentials => self.client_credentials(project, &client, p).await,
            GrantType::DeviceCode => self.device_grant(project, &client, p).await,
        }
    }

    /// The client a request authenticates as; the audiences of a client assertion are the
    /// token endpoint and the issuer.
    pub async fn authenticated(
        &self,
        project: &Project,
        auth: &ClientAuth,
    ) -> Result<OAuthClient, OAuthError> {
        let audiences = [self.token_endpoint(project), self.issuer(project)];
        self.clients.authenticate(project, auth, &audiences).await
    }

    /// The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): the code must be this
    /// client's, for this redirect URI, with the verifier of its challenge. A code redeemed
    /// again ends the session the first redemption handed out (SECURITY AS2).
    async fn code_grant(
        &self,
        project: &Project,
        client: &OAuthClient,
        p: TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let invalid = || OAuthError::invalid_grant("the code is invalid, expired or used");
        let code = p
            .code
            .filter(|c| (1..=512).contains(&c.len()))
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let code_hash = secret_hash(&code);
        let now = self.clock.now();
        let found = match self
            .store
            .universal()
            .code(&project.id, &code_hash, now)
            .await?
        {
            Redemption::Fresh(found) => found,
            Redemption::Replayed(session_id) => {
                self.universal.replayed(project, &session_id).await;
                return Err(invalid());
            }
            Redemption::Unknown => return Err(invalid()),
        };
        let Some(oauth) = found.oauth.as_ref().filter(|o| o.client_id == client.id) else {
            return Err(invalid());
        };
        if p.redirect_uri.as_deref() != Some(found.redirect_url.as_str()) {
            return Err(invalid());
        }
        let pkce_ok = match (&found.code_challenge, p.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) if (43..=128).contains(&verifier.len()) => {
                subtle::ConstantTimeEq::ct_eq(
                    crate::universal::s256(verifier).as_bytes(),
                    challenge.as_bytes(),
                )
                .into()
            }
            _ => false,
        };
        if !pkce_ok {
            return Err(invalid());
        }
        let handed = self
            .auth
            .tokens_for_session(
                project,
                &found.session_id,
                None,
                Redeem::Code(&code_hash),
                Some((&client.id, &oauth.scope)),
            )
            .await?;
        let Some((view, tokens)) = handed else {
            // Another redemption of the code won the race: this one is a replay.
            self.universal.replayed(project, &found.session_id).await;
            return Err(invalid());
        };
        self.respond(
            project,
            client,
            &view,
            tokens,
            &oauth.scope,
            oauth.nonce.as_deref(),
        )
        .await
    }

    /// The token response of a user's grant: the access and refresh tokens, and an ID token
    /// when the scope has `openid`.
    pub(super) async fn respond(
        &self,
        project: &Project,
        client: &OAuthClient,
        view: &SessionView,
        tokens: Tokens,
        scope: &str,
        nonce: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let id_token = if has_scope(scope, "openid") {
            Some(
                self.id_token(project, client, view, &tokens.access_token, scope, nonce)
                    .await?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token: tokens.access_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            scope: scope.to_owned(),
            refresh_token: Self::issues_refresh(client).then_some(tokens.refresh_token),
            id_token,
        })
    }

    /// An ID token (OIDC Core §2): `typ: JWT`, so it is never taken for an access token (T3).
    async fn id_token(
        &self,
        project: &Project,
        client: &OAuthClient,
        view: &SessionView,
        access_token: &str,
        scope: &str,
        nonce: Option<&str>,
    ) -> crate::Result<String> {
        let now = self.clock.now();
        let iat = now.div_euclid(1000);
        let alg = self.auth.tokens().current_alg(project, now).await?;
        let mut claims = user_claims(&view.user, scope);
        let mut put = |k: &str, v: serde_json::Value| {
            claims.insert(k.to_owned(), v);
        };
        put("iss", self.issuer(project).into());
        put("aud", client.id.to_string().into());
        put("azp", client.id.to_string().into());
        put("iat", iat.into());
        put(
            "exp",
            (iat + project.settings.access_token_ttl as i64).into(),
        );
        put("auth_time", view.created_at.div_euclid(1000).into());
        put("acr", view.aal.as_str().into());
        put(
            "amr",
            serde_json::to_value(&view.amr).map_err(|e| Error::Internal(e.into()))?,
        );
        put("sid", view.session_id.to_string().into());
        put("at_hash", at_hash(alg, access_token).into());
        if let Some(nonce) = nonce {
            put("nonce", nonce.into());
        }
        let (token, _) = self
            .auth
            .tokens()
            .sign(project, &serde_json::Value::Object(claims), "JWT", now)
            .await?;
        Ok(token)
    }

    /// The refresh grant: the token must be this client's; rotation is the API's (grace window,
    /// reuse ends the session). A `scope` must be the granted one (narrowing is not offered).
    async fn refresh_grant(
        &self,
        project: &Project,
        client: &OAuthClient,
        p: TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let token = p
            .refresh_token
            .filter(|t| (1..=512).contains(&t.len()))
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        // The scope is checked before the token rotates: a refused request leaves it usable.
        let granted = self
            .store
            .sessions()
            .refresh_by_hash(&project.id, &secret_hash(&token))
            .await?
            .filter(|row| row.client_id.as_ref() == Some(&client.id))
            .and_then(|row| row.scope)
            .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid or revoked"))?;
        let scope = match p.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => granted.clone(),
            Some(asked) => {
                let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
                if !asked.iter().all(|s| has_scope(&granted, s)) {
                    return Err(OAuthError::invalid_scope(
                        "a refresh may narrow the granted scope, not widen it",
                    ));
                }
                asked.join(" ")
            }
        };
        let (view, _, tokens) = self
            .auth
            .refresh(
                project,
                &token,
                None,
                &crate::universal::BROWSER,
                Some((&client.id, &scope)),
            )
            .await?;
        self.respond(project, client, &view, tokens, &scope, None)
            .await
    }

    /// Client credentials (RFC 6749 §4.4): a token for the client itself, `sub` = its id, with
    /// scopes it was assigned only (SECURITY AS6).
    async fn client_credentials(
        &self,
        project: &Project,
        client: &OAuthClient,
        p: TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        if Self::is_public(client) {
            return Err(OAuthError::unauthorized_client(
                "a public client has no credentials",
            ));
        }
        let scope = match p.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(asked) => {
                let scope = asked
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                if scope.len() > 2048 || !client.allows_scope(&scope) {
                    return Err(OAuthError::invalid_scope(
                        "a requested scope is not assigned to this client",
                    ));
                }
                scope
            }
            None => client.scopes.join(" "),
        };
        let now = self.clock.now();
        let iat = now.div_euclid(1000);
        let ttl = project.settings.access_token_ttl;
        let claims = ClientClaims {
            iss: self.issuer(project),
            sub: client.id.to_string(),
            aud: project.login_id.clone(),
            exp: iat + ttl as i64,
            iat,
            jti: new_id("jti"),
            client_id: client.id.to_string(),
            scope: scope.clone(),
        };
        let access_token = self
            .auth
            .tokens()
            .issue_client(project, &claims, now)
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope,
            refresh_token: None,
            id_token: None,
        })
    }

    /// A client-credentials token that verifies: signature and time, its client still exists,
    /// and it was not revoked.
    pub async fn verify_client_token(
        &self,
        project: &Project,
        token: &str,
    ) -> crate::Result<(OAuthClient, ClientClaims)> {
        let claims = self
            .auth
            .tokens()
            .verify_client(project, token, self.clock.now())
            .await?;
        let client = self
            .store
            .oauth()
            .client(&project.id, &claims.client_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        if self
            .store
            .oauth()
            .client_token_revoked(&project.id, &claims.jti)
            .await?
        {
            return Err(Error::InvalidToken);
        }
        Ok((client, claims))
    }

    /// Userinfo (OIDC Core §5.3): the claims the token's scope releases; the token must be a
    /// live user token with `openid`.
    pub async fn userinfo(
        &self,
        project: &Project,
        access_token: &str,
    ) -> Result<serde_json::Value, OAuthError> {
        let invalid = || OAuthError::invalid_token("the access token is invalid or expired");
        let (user, claims) = self
            .auth
            .verify(project, access_token)
            .await
            .map_err(|_| invalid())?;
        let scope = claims.scope.as_deref().ok_or_else(invalid)?;
        if !has_scope(scope, "openid") {
            return Err(OAuthError::new(
                "insufficient_scope",
                403,
                "the token's scope has no openid",
            ));
        }
        Ok(serde_json::Value::Object(user_claims(&user, scope)))
    }

    /// Introspection (RFC 7662). Access tokens of users and clients are reported to any
    /// confidential client of the project (resource servers) and to the client they were issued
    /// to; refresh tokens only to their client. Everything else is `{"active": false}`.
    pub async fn introspect(
        &self,
        project: &Project,
        auth: &ClientAuth,
        token: &str,
    ) -> Result<serde_json::Value, OAuthError> {
        let caller = self.authenticated(project, auth).await?;
        let inactive = serde_json::json!({"active": false});
        if token.is_empty() || token.len() > 8192 {
            return Ok(inactive);
        }
        let may_see = |client_id: Option<&str>| {
            !Self::is_public(&caller) || client_id == Some(caller.id.as_str())
        };
        if token.split('.').count() == 3 {
            if let Ok((user, claims)) = self.auth.verify(project, token).await {
                if !may_see(claims.client_id.as_deref()) {
                    return Ok(inactive);
                }
                let mut out = serde_json::json!({
                    "active": true,
                    "token_type": "Bearer",
                    "sub": user.id,
                    "iss": claims.iss,
                    "aud": claims.aud,
                    "exp": claims.exp,
                    "iat": claims.iat,
                    "jti": claims.jti,
                    "sid": claims.sid,
                });
                if let Some(c) = &claims.client_id {
                    out["client_id"] = c.clone().into();
                }
                if let Some(s) = &claims.scope {
                    out["scope"] = s.clone().into();
                }
                if let Some(e) = &user.email {
                    out["username"] = e.clone().into();
                }
                return Ok(out);
            }
            if let Ok((client, claims)) = self.verify_client_token(project, token).await {
                if !may_see(Some(client.id.as_str())) {
                    return Ok(inactive);
                }
                return Ok(serde_json::json!({
                    "active": true,
                    "token_type": "Bearer",
                    "sub": claims.sub,
                    "client_id": claims.client_id,
                    "scope": claims.scope,
                    "iss": claims.iss,
                    "aud": claims.aud,
                    "exp": claims.exp,
                    "iat": claims.iat,
                    "jti": claims.jti,
                }));
            }
            return Ok(inactive);
        }
        let Some(row) = self
            .store
            .sessions()
            .refresh_by_hash(&project.id, &secret_hash(token))
            .await?
        else {
            return Ok(inactive);
        };
        let now = self.clock.now();
        if row.client_id.as_ref() != Some(&caller.id)
            || row.used_at.is_some()
            || now >= row.expires_at
        {
            return Ok(inactive);
        }
        let Some(view) = self.auth.live_view(project, &row.session_id).await? else {
            return Ok(inactive);
        };
        Ok(serde_json::json!({
            "active": true,
            "client_id": caller.id,
            "scope": row.scope,
            "sub": view.user.id,
            "sid": row.session_id,
            "exp": row.expires_at.div_euclid(1000),
            "iss": self.issuer(project),
        }))
    }

    /// Revocation (RFC 7009): an access token stops verifying; a refresh token ends the
    /// client's refresh tokens in its session. Only the client's own tokens; anything else is
    /// accepted and left alone (§2.2).
    pub async fn revoke(
        &self,
        project: &Project,
        auth: &ClientAuth,
        token: &str,
    ) -> Result<(), OAuthError> {
        let caller = self.authenticated(project, auth).await?;
        if token.is_empty() || token.len() > 8192 {
            return Ok(());
        }
        let now = self.clock.now();
        if token.split('.').count() == 3 {
            let tokens = self.auth.tokens();
            if let Ok(claims) = tokens.verify_ignoring_time(project, token, now).await {
                if claims.client_id.as_deref() == Some(caller.id.as_str()) {
                    self.auth.revoke(project, token).await?;
                }
            } else if let Ok((client, claims)) = self.verify_client_token(project, token).await {
                if client.id == caller.id {
                    self.store
                        .oauth()
                        .revoke_client_token(
                            &project.id,
                            &client.id,
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
            if row.client_id.as_ref() == Some(&caller.id) {
                self.store
                    .oauth()
                    .end_client_refresh(&project.id, &row.session_id, &caller.id)
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // OIDC Core §3.1.3.6's construction, checked against a value computed independently:
        // base64url(left 16 bytes of SHA-256("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"))
        let h = at_hash(
            SigningAlg::Es256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
        );
        assert_eq!(h.len(), 22);
        let full = Sha256::digest(b"jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(
            h,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&full[..16])
        );
        assert_eq!(at_hash(SigningAlg::EdDsa, "x").len(), 43);
    }
}
