//! Protekt as an OpenID Connect provider (OAuth 2.0 authorization server) for a project's
//! clients: the authorization code grant with PKCE (S256 only, always), refresh tokens bound
//! to their client, client credentials (M2M), the device grant (RFC 8628), userinfo,
//! revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout.
//!
//! - **One session model.** The login step is Universal Login's: a provider sign-in is the same
//!   Protekt session as any other (listed, revocable, throttled, MFA applies), and a code is
//!   Universal Login's code with the client, scope and nonce on it. Redeeming it gives the
//!   client a refresh family of its own in that session.
//! - **No implicit, no password grant** (RFC 9700 §2.1.2, §2.4): only `response_type=code`,
//!   and each client only its configured grants and scopes (SECURITY AS4, AS6).
//! - **Errors** are RFC 6749's: an unknown client or redirect URI is shown on our own page and
//!   never redirected (AS5); any other authorize error goes back to the client.

pub mod clients;
mod device;
mod tokens;

use std::sync::Arc;

use crate::auth::AuthService;
use crate::clock::Clock;
use crate::error::Error;
use crate::model::{ClientKind, GrantType, OAuthClient, OAuthRequest, Project};
use crate::store::Store;
use crate::universal::{with_query, LoginRequest, UniversalLogin};

pub use clients::{redirect_matches, ClientAuth, ClientService};
pub use device::{DeviceAuthorization, DEVICE_INTERVAL_SECS};
pub use tokens::{TokenParams, TokenResponse};

/// An OAuth error (RFC 6749 §4.1.2.1, §5.2; RFC 8628 §3.5).
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    /// The HTTP status of a token-endpoint answer.
    pub status: u16,
}

impl OAuthError {
    fn new(error: &'static str, status: u16, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            status,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", 400, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", 401, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", 400, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", 400, d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", 400, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", 400, d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new("invalid_token", 401, d)
    }
    fn device(error: &'static str, d: impl Into<String>) -> Self {
        Self::new(error, 400, d)
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidToken | Error::TokenExpired | Error::NotFound => {
                Self::invalid_grant("the grant is invalid, expired or revoked")
            }
            Error::UserDisabled => Self::invalid_grant("the user is disabled"),
            Error::InvalidRequest { message, .. } | Error::ValueNotAllowed { message, .. } => {
                Self::invalid_request(message)
            }
            Error::RateLimited { retry_after } => Self::new(
                "temporarily_unavailable",
                429,
                format!("too many requests; retry after {retry_after} s"),
            ),
            Error::ServerBusy => Self::new("temporarily_unavailable", 503, "busy; retry soon"),
            e => {
                tracing::error!(error = ?e, "OAuth request failed");
                Self::new("server_error", 500, "the server failed; retry later")
            }
        }
    }
}

/// An authorize request's parameters, as sent.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// How an authorize request goes on.
#[derive(Debug)]
pub enum Authorize {
    /// The client or redirect URI is unknown: show the error on our page (SECURITY AS5).
    Page(OAuthError),
    /// Back to the client with an error.
    Redirect(String),
    /// On to Universal Login with this request.
    Login(Box<LoginRequest>),
}

#[derive(Clone)]
pub struct Provider {
    store: Store,
    auth: AuthService,
    universal: UniversalLogin,
    clients: ClientService,
    clock: Arc<Clock>,
    /// Keys user codes (HMAC) so the table holds no typeable code.
    user_code_key: [u8; 32],
}

impl Provider {
    pub fn new(
        store: Store,
        auth: AuthService,
        universal: UniversalLogin,
        clients: ClientService,
        master: &crate::crypto::MasterKey,
        clock: Arc<Clock>,
    ) -> Self {
        Self {
            store,
            auth,
            universal,
            clients,
            clock,
            user_code_key: master.derive("protekt/device-user-code/v1"),
        }
    }

    pub fn clients(&self) -> &ClientService {
        &self.clients
    }

    pub fn issuer(&self, project: &Project) -> String {
        self.auth.tokens().issuer(project)
    }

    fn token_endpoint(&self, project: &Project) -> String {
        format!("{}/oauth2/token", self.issuer(project))
    }

    /// The OpenID Provider / authorization server metadata (OIDC Discovery, RFC 8414).
    pub async fn metadata(&self, project: &Project) -> crate::Result<serde_json::Value> {
        let iss = self.issuer(project);
        let alg = self
            .auth
            .tokens()
            .current_alg(project, self.clock.now())
            .await?;
        let alg = match alg {
            crate::model::SigningAlg::Es256 => "ES256",
            crate::model::SigningAlg::EdDsa => "EdDSA",
            crate::model::SigningAlg::Rs256 => "RS256",
        };
        Ok(serde_json::json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/oauth2/authorize"),
            "token_endpoint": format!("{iss}/oauth2/token"),
            "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{iss}/oauth2/revoke"),
            "introspection_endpoint": format!("{iss}/oauth2/introspect"),
            "end_session_endpoint": format!("{iss}/oauth2/logout"),
            "device_authorization_endpoint": format!("{iss}/oauth2/device_authorization"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": GrantType::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "revocation_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "scopes_supported": crate::model::SCOPES,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [alg],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr",
                "amr", "sid", "azp", "at_hash", "email", "email_verified", "phone_number",
                "phone_number_verified", "name", "given_name", "family_name", "picture", "updated_at"],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
        }))
    }

    /// Checks an authorize request (OIDC Core §3.1.2.1, RFC 9700): the client and its exact
    /// redirect URI first (a failure there is shown, never redirected), then the rest (a failure
    /// goes back to the client).
    pub async fn authorize(
        &self,
        project: &Project,
        p: AuthorizeParams,
    ) -> crate::Result<Authorize> {
        let client_id = p.client_id.as_deref().unwrap_or_default();
        let client = match client_id.len() {
            1..=128 => self.store.oauth().client(&project.id, client_id).await?,
            _ => None,
        };
        let Some(client) = client else {
            return Ok(Authorize::Page(OAuthError::invalid_client(
                "unknown client_id",
            )));
        };
        let redirect = p.redirect_uri.clone().unwrap_or_default();
        if !redirect_matches(&client.redirect_uris, &redirect) {
            return Ok(Authorize::Page(OAuthError::invalid_request(
                "redirect_uri is not registered for this client",
            )));
        }
        let iss = self.issuer(project);
        let back = |e: OAuthError| -> crate::Result<Authorize> {
            let location = with_query(
                &redirect,
                &[("error", e.error), ("error_description", &e.description)],
                p.state.as_deref(),
                Some(&iss),
            )?;
            Ok(Authorize::Redirect(location))
        };
        match self.check_authorize(&client, &p) {
            Ok((scope, max_age)) => Ok(Authorize::Login(Box::new(LoginRequest {
                redirect_url: Some(redirect.clone()),
                state: p.state.clone(),
                code_challenge: p.code_challenge.clone(),
                code_challenge_method: p.code_challenge_method.clone(),
                prompt: p.prompt.clone(),
                oauth: Some(OAuthRequest {
                    client_id: client.id.clone(),
                    scope,
                    nonce: p.nonce.clone(),
                }),
                max_age,
                login_hint: p.login_hint.clone(),
            }))),
            Err(e) => back(e),
        }
    }

    /// The scope granted and `max_age`, or the error to send back.
    fn check_authorize(
        &self,
        client: &OAuthClient,
        p: &AuthorizeParams,
    ) -> Result<(String, Option<u64>), OAuthError> {
        if p.request.is_some() || p.request_uri.is_some() {
            return Err(OAuthError::new(
                "request_not_supported",
                400,
                "request objects are not supported",
            ));
        }
        match p.response_type.as_deref() {
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    "unsupported_response_type",
                    400,
                    "only response_type=code is supported (no implicit or hybrid flow)",
                ))
            }
            None => return Err(OAuthError::invalid_request("response_type is required")),
        }
        if p.response_mode.as_deref().is_some_and(|m| m != "query") {
            return Err(OAuthError::invalid_request(
                "only response_mode=query is supported",
            ));
        }
        if !client.allows(GrantType::AuthorizationCode) {
            return Err(OAuthError::unauthorized_client(
                "this client may not use the authorization code grant",
            ));
        }
        // PKCE S256 for every client, plain refused (RFC 9700 §2.1.1, SECURITY AS3).
        match (&p.code_challenge, p.code_challenge_method.as_deref()) {
            (Some(_), Some("S256")) => {}
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256",
                ))
            }
            (Some(_), None) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method=S256 is required",
                ))
            }
            (None, _) => {
                return Err(OAuthError::invalid_request(
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                ))
            }
        }
        if let Some(prompt) = &p.prompt {
            let values: Vec<&str> = prompt.split(' ').filter(|v| !v.is_empty()).collect();
            if values
                .iter()
                .any(|v| !["none", "login", "consent"].contains(v))
                || (values.contains(&"none") && values.len() > 1)
                || values.len() > 1
            {
                return Err(OAuthError::invalid_request(
                    "prompt must be one of none, login, consent",
                ));
            }
        }
        if p.nonce.as_ref().is_some_and(|n| n.len() > 512) {
            return Err(OAuthError::invalid_request("nonce is too long"));
        }
        let max_age = match &p.max_age {
            None => None,
            Some(m) => Some(
                m.parse::<u64>()
                    .map_err(|_| OAuthError::invalid_request("max_age must be whole seconds"))?,
            ),
        };
        let scope = self.requested_scope(client, p.scope.as_deref())?;
        Ok((scope, max_age))
    }

    /// The scope a request asks for, each assigned to the client (`invalid_scope` otherwise);
    /// none asked: `openid` if the client has it.
    fn requested_scope(
        &self,
        client: &OAuthClient,
        scope: Option<&str>,
    ) -> Result<String, OAuthError> {
        let mut wanted: Vec<&str> = Vec::new();
        for s in scope
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            if !wanted.contains(&s) {
                wanted.push(s);
            }
        }
        if wanted.is_empty() && client.scopes.iter().any(|s| s == "openid") {
            wanted.push("openid");
        }
        let scope = wanted.join(" ");
        if scope.len() > 2048 || !client.allows_scope(&scope) {
            return Err(OAuthError::invalid_scope(
                "a requested scope is not assigned to this client",
            ));
        }
        Ok(scope)
    }

    /// Where an RP-initiated logout sends the browser once signed out (OIDC RP-Initiated
    /// Logout §2): `post_logout_redirect_uri` only when registered for the client named by
    /// `id_token_hint` or `client_id`; an unregistered one is an error shown on our page.
    pub async fn logout_target(
        &self,
        project: &Project,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Option<String>, OAuthError> {
        let Some(uri) = post_logout_redirect_uri else {
            return Ok(None);
        };
        let hinted = match id_token_hint {
            Some(hint) => self
                .auth
                .tokens()
                .read_id_token(project, hint, self.clock.now())
                .await
                .and_then(|claims| {
                    claims
                        .get("aud")
                        .and_then(|a| a.as_str())
                        .map(str::to_owned)
                }),
            None => None,
        };
        let client_id = match (hinted, client_id) {
            (Some(h), Some(c)) if h != c => {
                return Err(OAuthError::invalid_request(
                    "client_id is not the audience of id_token_hint",
                ))
            }
            (Some(h), _) => h,
            (None, Some(c)) => c.to_owned(),
            (None, None) => {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri needs id_token_hint or client_id",
                ))
            }
        };
        let client = self
            .store
            .oauth()
            .client(&project.id, &client_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
        if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
            return Err(OAuthError::invalid_request(
                "post_logout_redirect_uri is not registered for this client",
            ));
        }
        Ok(Some(with_query(uri, &[], state, None)?))
    }

    /// Whether a client may be given tokens for the refresh grant at all.
    fn issues_refresh(client: &OAuthClient) -> bool {
        client.allows(GrantType::RefreshToken)
    }

    fn is_public(client: &OAuthClient) -> bool {
        client.kind == ClientKind::Public
    }
}

impl Provider {
    /// The consents the access token's user gave third-party clients.
    pub async fn grants(
        &self,
        project: &Project,
        access_token: &str,
    ) -> crate::Result<Vec<crate::model::UserGrant>> {
        let (user, _) = self.auth.verify(project, access_token).await?;
        self.store.oauth().grants(&project.id, &user.id).await
    }

    /// Withdraws a consent (SECURITY AS8): the client's refresh tokens of the user end, and its
    /// next request asks again. `NotFound` if there was none.
    pub async fn revoke_grant(
        &self,
        project: &Project,
        access_token: &str,
        client_id: &str,
    ) -> crate::Result<()> {
        let (user, _) = self.auth.verify(project, access_token).await?;
        if !self
            .store
            .oauth()
            .delete_grant(&project.id, &user.id, client_id)
            .await?
        {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}
