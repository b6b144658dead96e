//! Universal Login: the hosted sign-in of a project, its browser session, and the hand-off of
//! a signed-in session to an app.
//!
//! - **A flow** starts when an app sends the browser to the login page: the redirect URL is
//!   checked against the project's allow-list then (a refused one never redirects, SECURITY
//!   AS5, U1), with the app's `state` and PKCE challenge (S256 only). The flow is bound to the
//!   browser by a cookie (U3) and its forms carry a CSRF token derived from that cookie (U2).
//! - **Signing in** goes through [`SignInService`] like every other first factor (throttles,
//!   enumeration-safe answers, MFA); the session it starts becomes the browser's: its secret
//!   sits in an HttpOnly cookie, stored as SHA-256 on the session row. Ending the session by any
//!   API ends the browser's sign-in too; a later visit with a live one skips the form (single
//!   sign-on across the project's apps) unless `prompt=login`.
//! - **The hand-off** is a 303 to the redirect URL with a one-time `code` (256 bits, stored as
//!   SHA-256, 60 seconds, bound to the redirect URL and the PKCE challenge) and `state`. The
//!   app's backend redeems it for tokens of a refresh family of their own; a second redemption
//!   ends the session (RFC 9700 §4.1.2, SECURITY AS2).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::auth::{AuthService, ClientInfo, Tokens};
use crate::clock::{Clock, Millis};
use crate::crypto::{hmac_sha256, MasterKey};
use crate::error::{Error, Result};
use crate::ids::{new_refresh_token, secret_hash};
use crate::mfa::MfaService;
use crate::model::{LoginFlow, OAuthRequest, Project, Redemption, SessionId, User};
use crate::signin::{SignInOutcome, SignInService};
use crate::store::Redeem;
use crate::store::Store;

/// How long a sign-in page may stay open before its form is refused.
pub const FLOW_TTL_MS: Millis = 30 * 60 * 1000;
/// How long a hand-off code lives.
pub const CODE_TTL_MS: Millis = 60 * 1000;

/// A browser on a hosted page: its address is not trusted as an end user's without proxy
/// configuration, so no per-address limit is keyed on it.
pub const BROWSER: ClientInfo = ClientInfo {
    ip: None,
    ip_is_end_user: false,
    user_agent: None,
};

/// What an app asks for when it sends a browser to the login page.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    pub redirect_url: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// `login`: ask for the credentials even with a live browser session. For an OAuth client
    /// also `none` (never show a page: an error instead) and `consent` (ask again).
    pub prompt: Option<String>,
    /// An OAuth client's request (`redirect_url` was then matched against the client's
    /// redirect URIs, not the project's allow-list).
    pub oauth: Option<OAuthRequest>,
    /// OIDC `max_age`: a browser session older than this many seconds signs in again.
    pub max_age: Option<u64>,
    /// OIDC `login_hint`: the address to fill in on the form.
    pub login_hint: Option<String>,
}

/// How a visit to the login page goes on.
#[derive(Debug)]
pub enum Started {
    /// The browser's session is live: straight back to the app with a code.
    HandedOff { location: String },
    /// Show the form. `binding` is the cookie value binding the flow to this browser.
    Form {
        flow: Box<LoginFlow>,
        csrf: String,
        binding: String,
        /// The address to fill in (`login_hint`).
        hint: Option<String>,
    },
    /// The browser's session is live but a third-party client needs the user's consent: show
    /// the consent form for this flow.
    Consent {
        flow: Box<LoginFlow>,
        csrf: String,
        binding: String,
        asking: Asking,
    },
    /// `prompt=none` could not be honoured: back to the client with an error.
    Refused { location: String },
}

/// How a submitted step goes on.
#[derive(Debug)]
pub enum Step {
    /// Signed in: set `browser_session` as the browser's cookie and redirect to `location`.
    Done {
        location: String,
        browser_session: String,
    },
    /// The user has a second factor: show the MFA form (same flow and CSRF token).
    Mfa,
    /// A code went to this address (if it may sign in there): show the code form.
    Code { email: String },
    /// Signed in (set `browser_session` as the browser's cookie), and a third-party client
    /// asks for the user's consent: show the consent form (same flow and CSRF token).
    Consent {
        browser_session: String,
        asking: Asking,
    },
}

/// Who asks whom for consent: shown on the consent page.
#[derive(Debug, Clone)]
pub struct Asking {
    /// The client's name.
    pub client: String,
    /// The signed-in user, as they know themselves (email or phone).
    pub user: String,
}

#[derive(Clone)]
pub struct UniversalLogin {
    store: Store,
    auth: AuthService,
    signin: SignInService,
    mfa: MfaService,
    master: MasterKey,
    csrf_key: [u8; 32],
    clock: Arc<Clock>,
}

/// PKCE S256 (RFC 7636): base64url(SHA-256(verifier)).
pub(crate) fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `url` with `pairs` and, if any, `state` and the issuer (RFC 9207) added to its query.
pub fn with_query(
    url: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
    iss: Option<&str>,
) -> Result<String> {
    let mut url = url::Url::parse(url)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored redirect URL: {e}")))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        if let Some(iss) = iss {
            query.append_pair("iss", iss);
        }
    }
    Ok(url.to_string())
}

impl UniversalLogin {
    pub fn new(
        store: Store,
        auth: AuthService,
        signin: SignInService,
        mfa: MfaService,
        master: MasterKey,
        clock: Arc<Clock>,
    ) -> Self {
        let csrf_key = master.derive("protekt/login-csrf/v1");
        Self {
            store,
            auth,
            signin,
            mfa,
            master,
            csrf_key,
            clock,
        }
    }

    /// The CSRF token of a flow in the browser holding `binding`: only that browser's page has
    /// it, and it is worth nothing without that browser's cookie (SECURITY U2, U3).
    fn csrf(&self, flow_id: &str, binding: &str) -> String {
        data_encoding::HEXLOWER.encode(&hmac_sha256(
            &self.csrf_key,
            format!("{flow_id}:{binding}").as_bytes(),
        ))
    }

    /// Checks what the app asked for: a redirect URL the project allows (its first allowed one
    /// when none is given), `state` and `code_challenge` of sane sizes, S256 only.
    fn check(
        project: &Project,
        req: &LoginRequest,
    ) -> Result<(String, Option<String>, Option<String>)> {
        let redirect = match &req.oauth {
            // Matched against the client's redirect URIs by the provider.
            Some(_) => req.redirect_url.clone(),
            None => crate::account::AccountService::check_redirect(
                project,
                req.redirect_url.as_deref(),
            )?,
        };
        let redirect = redirect
            .or_else(|| project.settings.default_redirect().map(str::to_owned))
            .ok_or_else(|| {
                Error::not_allowed(
                    "redirect_url",
                    "the project has no allowed redirect URL to send the browser back to",
                )
            })?;
        if req.state.as_ref().is_some_and(|s| s.len() > 2048) {
            return Err(Error::invalid(
                "state",
                "state must be at most 2048 characters",
            ));
        }
        let challenge = match (&req.code_challenge, req.code_challenge_method.as_deref()) {
            (None, None) => None,
            (Some(c), None | Some("S256")) => {
                let ok = c.len() == 43
                    && c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
                if !ok {
                    return Err(Error::invalid(
                        "code_challenge",
                        "code_challenge must be a base64url SHA-256 (43 characters)",
                    ));
                }
                Some(c.clone())
            }
            (_, Some(_)) => {
                return Err(Error::invalid(
                    "code_challenge_method",
                    "only code_challenge_method=S256 is supported, with a code_challenge",
                ))
            }
        };
        Ok((redirect, req.state.clone(), challenge))
    }

    /// A visit to the login page: straight back to the app if the browser's session is live
    /// (and the app did not ask for `prompt=login`, nor `max_age` is past), else a new flow for
    /// the form (or the consent form, for a third-party client the user has not consented to).
    pub async fn start(
        &self,
        project: &Project,
        req: &LoginRequest,
        browser_session: Option<&str>,
    ) -> Result<Started> {
        let (redirect, state, challenge) = Self::check(project, req)?;
        let prompt = req.prompt.as_deref();
        let iss = req
            .oauth
            .as_ref()
            .map(|_| self.auth.tokens().issuer(project));
        let refuse = |error: &str, description: &str| -> Result<Started> {
            Ok(Started::Refused {
                location: with_query(
                    &redirect,
                    &[("error", error), ("error_description", description)],
                    state.as_deref(),
                    iss.as_deref(),
                )?,
            })
        };
        let live = match self.browser_session(project, browser_session).await? {
            Some(session_id) if prompt != Some("login") => {
                self.auth.live_view(project, &session_id).await?
            }
            _ => None,
        };
        let now = self.clock.now();
        let live = live.filter(|view| {
            req.max_age
                .is_none_or(|max| now - view.created_at <= (max as i64).saturating_mul(1000))
        });
        let mut consent = None;
        if let Some(view) = &live {
            consent = self
                .needs_consent(project, &view.user, req.oauth.as_ref(), prompt)
                .await?;
            if consent.is_none() {
                let location = self
                    .hand_off(
                        project,
                        &view.session_id,
                        &redirect,
                        state.as_deref(),
                        challenge.as_deref(),
                        req.oauth.as_ref(),
                    )
                    .await?;
                return Ok(Started::HandedOff { location });
            }
        }
        if prompt == Some("none") {
            return match live {
                Some(_) => refuse(
                    "consent_required",
                    "the user has not consented to this client",
                ),
                None => refuse("login_required", "the user is not signed in"),
            };
        }
        let (flow, csrf, binding) = self
            .new_flow(
                project,
                redirect,
                state,
                challenge,
                req.oauth.clone(),
                false,
            )
            .await?;
        Ok(if let Some(asking) = consent {
            Started::Consent {
                flow,
                csrf,
                binding,
                asking,
            }
        } else {
            Started::Form {
                flow,
                csrf,
                binding,
                hint: req.login_hint.clone().filter(|h| h.len() <= 320),
            }
        })
    }

    /// A sign-in that ends on one of our own pages (`return_to`, the device page), not with a
    /// code for an app.
    pub async fn start_hosted(
        &self,
        project: &Project,
        return_to: String,
    ) -> Result<(Box<LoginFlow>, String, String)> {
        self.new_flow(project, return_to, None, None, None, true)
            .await
    }

    async fn new_flow(
        &self,
        project: &Project,
        redirect_url: String,
        state: Option<String>,
        code_challenge: Option<String>,
        oauth: Option<OAuthRequest>,
        hosted_return: bool,
    ) -> Result<(Box<LoginFlow>, String, String)> {
        let now = self.clock.now();
        let binding = new_refresh_token();
        let flow = LoginFlow {
            id: crate::ids::new_id("flow"),
            binding_hash: secret_hash(&binding),
            redirect_url,
            state,
            code_challenge,
            mfa_token: None,
            pending_email: None,
            pending_password_hash: None,
            oauth,
            hosted_return,
            expires_at: now + FLOW_TTL_MS,
        };
        self.store
            .universal()
            .insert_flow(&project.id, &flow, now)
            .await?;
        let csrf = self.csrf(&flow.id, &binding);
        Ok((Box::new(flow), csrf, binding))
    }

    /// Whether a third-party client must ask `user` before it gets a code (and then who asks
    /// whom): the user has not consented to every scope it asks for, or it asked again
    /// (`prompt=consent`). First-party clients never ask (SECURITY AS8).
    async fn needs_consent(
        &self,
        project: &Project,
        user: &User,
        oauth: Option<&OAuthRequest>,
        prompt: Option<&str>,
    ) -> Result<Option<Asking>> {
        let Some(oauth) = oauth else {
            return Ok(None);
        };
        let Some(client) = self
            .store
            .oauth()
            .client(&project.id, &oauth.client_id)
            .await?
        else {
            return Err(Error::InvalidToken);
        };
        if client.first_party {
            return Ok(None);
        }
        let asking = Asking {
            client: client.name.clone(),
            user: user.known_as(),
        };
        if prompt == Some("consent") {
            return Ok(Some(asking));
        }
        let granted = self
            .store
            .oauth()
            .grant(&project.id, &user.id, &oauth.client_id)
            .await?
            .unwrap_or_default();
        let covered = oauth
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| granted.iter().any(|g| g == s));
        Ok((!covered).then_some(asking))
    }

    /// Who asks whom on the consent form of `flow`, for a browser signed in by `cookie`.
    pub async fn asking(
        &self,
        project: &Project,
        flow: &LoginFlow,
        cookie: Option<&str>,
    ) -> Result<Asking> {
        let oauth = flow.oauth.as_ref().ok_or(Error::InvalidToken)?;
        let view = self.signed_in_view(project, cookie).await?;
        let client = self
            .store
            .oauth()
            .client(&project.id, &oauth.client_id)
            .await?
            .ok_or(Error::InvalidToken)?;
        Ok(Asking {
            client: client.name,
            user: view.user.known_as(),
        })
    }

    /// The live session of a browser signed in by `cookie`; `InvalidToken` if none.
    async fn signed_in_view(
        &self,
        project: &Project,
        cookie: Option<&str>,
    ) -> Result<Arc<crate::model::SessionView>> {
        let session_id = self
            .browser_session(project, cookie)
            .await?
            .ok_or(Error::InvalidToken)?;
        self.auth
            .live_view(project, &session_id)
            .await?
            .ok_or(Error::InvalidToken)
    }

    /// The user's answer on the consent form of `flow` (a browser signed in by `cookie`):
    /// allowed, the consent is recorded and the client gets its code; denied, it gets
    /// `access_denied`. Either way the flow ends; returns where the browser goes.
    pub async fn consent(
        &self,
        project: &Project,
        flow: &LoginFlow,
        cookie: Option<&str>,
        allow: bool,
    ) -> Result<String> {
        let oauth = flow.oauth.as_ref().ok_or(Error::InvalidToken)?;
        let view = self.signed_in_view(project, cookie).await?;
        let session_id = view.session_id.clone();
        self.store
            .universal()
            .delete_flow(&project.id, &flow.id)
            .await?;
        let iss = self.auth.tokens().issuer(project);
        if !allow {
            return with_query(
                &flow.redirect_url,
                &[
                    ("error", "access_denied"),
                    ("error_description", "the user denied the request"),
                ],
                flow.state.as_deref(),
                Some(&iss),
            );
        }
        let scopes: Vec<String> = oauth
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        self.store
            .oauth()
            .put_grant(
                &project.id,
                &view.user.id,
                &oauth.client_id,
                &scopes,
                self.clock.now(),
            )
            .await?;
        self.hand_off(
            project,
            &session_id,
            &flow.redirect_url,
            flow.state.as_deref(),
            flow.code_challenge.as_deref(),
            Some(oauth),
        )
        .await
    }

    /// A flow named by a link of its pages, with its CSRF token, if `binding` (this browser's
    /// cookie) is the one that started it.
    pub async fn resume(
        &self,
        project: &Project,
        flow_id: &str,
        binding: &str,
    ) -> Result<(LoginFlow, String)> {
        let csrf = self.csrf(flow_id, binding);
        let flow = self.flow(project, flow_id, Some(binding), &csrf).await?;
        Ok((flow, csrf))
    }

    /// The user of a browser's live session, if any.
    pub async fn browser_user(
        &self,
        project: &Project,
        cookie: Option<&str>,
    ) -> Result<Option<User>> {
        let Some(session_id) = self.browser_session(project, cookie).await? else {
            return Ok(None);
        };
        Ok(self
            .store
            .sessions()
            .view(&project.id, &session_id)
            .await?
            .map(|v| v.user.clone()))
    }

    /// The live session a browser's cookie names, if any.
    pub async fn browser_session(
        &self,
        project: &Project,
        cookie: Option<&str>,
    ) -> Result<Option<SessionId>> {
        let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 128) else {
            return Ok(None);
        };
        let Some(session_id) = self
            .store
            .universal()
            .session_of_browser(&project.id, &secret_hash(cookie))
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .auth
            .session_is_live(project, &session_id)
            .await?
            .then_some(session_id))
    }

    /// The flow a form names, if this browser started it and the form carries its CSRF token;
    /// `Forbidden` otherwise (SECURITY U2, U3). An expired flow is `InvalidToken`.
    pub async fn flow(
        &self,
        project: &Project,
        flow_id: &str,
        binding: Option<&str>,
        csrf: &str,
    ) -> Result<LoginFlow> {
        let flow = self
            .store
            .universal()
            .flow(&project.id, flow_id, self.clock.now())
            .await?
            .ok_or(Error::InvalidToken)?;
        let binding = binding.ok_or(Error::Forbidden)?;
        let bound: bool = subtle::ConstantTimeEq::ct_eq(
            secret_hash(binding).as_bytes(),
            flow.binding_hash.as_bytes(),
        )
        .into();
        let token: bool =
            subtle::ConstantTimeEq::ct_eq(self.csrf(flow_id, binding).as_bytes(), csrf.as_bytes())
                .into();
        if !bound || !token {
            return Err(Error::Forbidden);
        }
        Ok(flow)
    }

    /// A CSRF token for a form of ours that is not a flow's (`purpose` names it), bound to this
    /// browser's cookie `binding` (SECURITY U2).
    pub fn page_csrf(&self, purpose: &str, binding: &str) -> String {
        self.csrf(purpose, binding)
    }

    /// Whether `token` is the CSRF token of `purpose` for this browser.
    pub fn page_csrf_ok(&self, purpose: &str, binding: &str, token: &str) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.csrf(purpose, binding).as_bytes(), token.as_bytes())
            .into()
    }

    /// The CSRF token of a flow for this browser (to render the flow's next form).
    pub fn csrf_for(&self, flow: &LoginFlow, binding: &str) -> String {
        self.csrf(&flow.id, binding)
    }

    /// The password step. Wrong credentials, throttles and refusals come back as errors for
    /// the page to show; the flow stays usable.
    pub async fn password(
        &self,
        project: &Project,
        flow: &LoginFlow,
        email: &str,
        password: &str,
    ) -> Result<Step> {
        let outcome = self
            .signin
            .password(project, email, password, None, &BROWSER)
            .await?;
        self.after_first_factor(project, flow, outcome).await
    }

    async fn after_first_factor(
        &self,
        project: &Project,
        flow: &LoginFlow,
        outcome: SignInOutcome,
    ) -> Result<Step> {
        match outcome {
            SignInOutcome::Session(_, tokens) => self.signed_in(project, flow, &tokens).await,
            SignInOutcome::MfaRequired { mfa_token } => {
                let sealed = self
                    .master
                    .seal(mfa_token.as_bytes(), &format!("login_flow:{}", flow.id));
                self.store
                    .universal()
                    .set_flow_mfa(&project.id, &flow.id, &sealed)
                    .await?;
                Ok(Step::Mfa)
            }
        }
    }

    /// Emails a code instead of asking for the password, or (with `signup_password`) to create
    /// an account: the same page follows whether or not the address has one (SECURITY L4);
    /// behind it, a new address gets a code that creates the account, a known one a code that
    /// signs it in (the password typed for a sign-up is then not used).
    pub async fn send_code(
        &self,
        project: &Project,
        flow: &LoginFlow,
        email: &str,
        signup_password: Option<&str>,
    ) -> Result<Step> {
        let to = crate::signin::Recipient::parse(Some(email), None, None)?;
        let hash = match signup_password {
            Some(password) if project.settings.hosted_signup => Some(
                self.signin
                    .new_password_hash(project, &to.address, password)
                    .await?,
            ),
            Some(_) => return Err(Error::Forbidden),
            None if project.settings.hosted_email_code => None,
            None => return Err(Error::Forbidden),
        };
        let signup = hash.is_some();
        self.store
            .universal()
            .set_flow_pending(&project.id, &flow.id, &to.address, hash.as_deref())
            .await?;
        let address = to.address.clone();
        self.signin.send_code(project, to, signup, &BROWSER).await?;
        Ok(Step::Code { email: address })
    }

    /// The emailed code of a flow (sign-in by code, or a sign-up).
    pub async fn code(&self, project: &Project, flow: &LoginFlow, otp: &str) -> Result<Step> {
        let email = flow.pending_email.as_deref().ok_or(Error::InvalidToken)?;
        let to = crate::signin::Recipient::parse(Some(email), None, None)?;
        let outcome = self
            .signin
            .verify_code(
                project,
                &to,
                otp,
                flow.pending_password_hash.as_deref(),
                None,
                &BROWSER,
            )
            .await?;
        self.after_first_factor(project, flow, outcome).await
    }

    /// The second-factor step: a TOTP code, the SMS code or a backup code.
    pub async fn mfa(&self, project: &Project, flow: &LoginFlow, code: &str) -> Result<Step> {
        let mfa_token = self.mfa_token(flow)?;
        let (_, tokens) = self
            .mfa
            .verify_login(project, &mfa_token, code, None)
            .await?;
        self.signed_in(project, flow, &tokens).await
    }

    /// Texts the flow's SMS code again.
    pub async fn resend_sms(&self, project: &Project, flow: &LoginFlow) -> Result<()> {
        let mfa_token = self.mfa_token(flow)?;
        self.mfa.resend(project, &mfa_token, &BROWSER).await
    }

    fn mfa_token(&self, flow: &LoginFlow) -> Result<String> {
        flow.mfa_token
            .as_deref()
            .and_then(|sealed| self.master.open(sealed, &format!("login_flow:{}", flow.id)))
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(Error::InvalidToken)
    }

    /// Whether the flow waits for its second factor.
    pub fn wants_mfa(flow: &LoginFlow) -> bool {
        flow.mfa_token.is_some()
    }

    /// The flow's sign-in is done: the session becomes the browser's, the flow ends, and the
    /// browser goes back to the app with a code. The tokens the sign-in made are not handed
    /// out: the app gets tokens of its own by the code.
    async fn signed_in(
        &self,
        project: &Project,
        flow: &LoginFlow,
        tokens: &Tokens,
    ) -> Result<Step> {
        let browser_session = new_refresh_token();
        let universal = self.store.universal();
        universal
            .set_browser(
                &project.id,
                &tokens.session_id,
                &secret_hash(&browser_session),
            )
            .await?;
        if let Some(view) = self.auth.live_view(project, &tokens.session_id).await? {
            if let Some(asking) = self
                .needs_consent(project, &view.user, flow.oauth.as_ref(), None)
                .await?
            {
                return Ok(Step::Consent {
                    browser_session,
                    asking,
                });
            }
        }
        universal.delete_flow(&project.id, &flow.id).await?;
        let location = if flow.hosted_return {
            flow.redirect_url.clone()
        } else {
            self.hand_off(
                project,
                &tokens.session_id,
                &flow.redirect_url,
                flow.state.as_deref(),
                flow.code_challenge.as_deref(),
                flow.oauth.as_ref(),
            )
            .await?
        };
        Ok(Step::Done {
            location,
            browser_session,
        })
    }

    /// Issues a code for `session_id` and returns where the browser goes with it (with the
    /// issuer too, for an OAuth client: RFC 9207).
    async fn hand_off(
        &self,
        project: &Project,
        session_id: &SessionId,
        redirect: &str,
        state: Option<&str>,
        challenge: Option<&str>,
        oauth: Option<&OAuthRequest>,
    ) -> Result<String> {
        let now = self.clock.now();
        let code = new_refresh_token();
        self.store
            .universal()
            .insert_code(
                &project.id,
                &secret_hash(&code),
                session_id,
                redirect,
                challenge,
                oauth,
                now + CODE_TTL_MS,
                now,
            )
            .await?;
        let iss = oauth.map(|_| self.auth.tokens().issuer(project));
        with_query(redirect, &[("code", &code)], state, iss.as_deref())
    }

    /// Redeems a code for tokens (`POST /v1/auth/exchange`). The PKCE verifier must match the
    /// challenge, and be absent when there was none (no downgrade, SECURITY AS3); a redirect URL,
    /// when given, must be the code's. A code used before ends its session (AS2). Every
    /// failure is `invalid_token`.
    pub async fn exchange(
        &self,
        project: &Project,
        code: &str,
        code_verifier: Option<&str>,
        redirect_url: Option<&str>,
        token_expiry: Option<u64>,
    ) -> Result<(User, Tokens)> {
        crate::auth::token_ttl(project, token_expiry)?;
        let now = self.clock.now();
        let code_hash = secret_hash(code);
        let found = match self
            .store
            .universal()
            .code(&project.id, &code_hash, now)
            .await?
        {
            // An OAuth client's code is redeemed at the token endpoint only.
            Redemption::Fresh(found) if found.oauth.is_none() => found,
            Redemption::Fresh(_) => return Err(Error::InvalidToken),
            Redemption::Replayed(session_id) => {
                return Err(self.replayed(project, &session_id).await)
            }
            Redemption::Unknown => return Err(Error::InvalidToken),
        };
        let pkce_ok = match (&found.code_challenge, code_verifier) {
            (None, None) => true,
            (Some(challenge), Some(verifier)) => {
                subtle::ConstantTimeEq::ct_eq(s256(verifier).as_bytes(), challenge.as_bytes())
                    .into()
            }
            _ => false,
        };
        let redirect_ok = redirect_url.is_none_or(|u| {
            crate::model::normalize_redirect(u).as_deref() == Some(found.redirect_url.as_str())
        });
        if !pkce_ok || !redirect_ok {
            return Err(Error::InvalidToken);
        }
        match self
            .auth
            .tokens_for_session(
                project,
                &found.session_id,
                token_expiry,
                Redeem::Code(&code_hash),
                None,
            )
            .await?
        {
            Some((view, tokens)) => Ok((view.user.clone(), tokens)),
            // Another redemption of the code won the race: this one is a replay.
            None => Err(self.replayed(project, &found.session_id).await),
        }
    }

    /// A code redeemed again: the session it was issued for ends, and with it every token
    /// the first redemption bought (RFC 9700 §4.1.2, SECURITY AS2).
    pub async fn replayed(&self, project: &Project, session_id: &SessionId) -> Error {
        tracing::warn!(session_id = %session_id, "an authorization code was redeemed twice; its session ends");
        if let Err(e) = self.auth.end_session(project, session_id).await {
            return e;
        }
        Error::InvalidToken
    }

    /// Signs the browser out: its session ends (and with it every app's tokens of it).
    pub async fn logout(&self, project: &Project, browser_session: Option<&str>) -> Result<()> {
        if let Some(session_id) = self.browser_session(project, browser_session).await? {
            self.auth.end_session(project, &session_id).await?;
        }
        Ok(())
    }

    /// Where a sign-out may send the browser: an allowed redirect URL, or nowhere.
    pub fn logout_target(project: &Project, redirect_url: Option<&str>) -> Option<String> {
        redirect_url.and_then(|u| project.settings.allowed_redirect(u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_code_and_state_are_added_to_the_redirect() {
        let url = with_query(
            "https://app.test/cb?x=1",
            &[("code", "c0de")],
            Some("s t"),
            None,
        )
        .unwrap();
        assert_eq!(url, "https://app.test/cb?x=1&code=c0de&state=s+t");
        let url = with_query(
            "https://app.test/cb",
            &[("code", "c")],
            None,
            Some("https://i/p/x"),
        )
        .unwrap();
        assert_eq!(
            url,
            "https://app.test/cb?code=c&iss=https%3A%2F%2Fi%2Fp%2Fx"
        );
    }
}
