//! Universal Login's pages: sign in (password, or a code by email), sign up, forgot password,
//! the emailed code, the second factor, the signed-in page and sign-out. The rules are in
//! `protekt_core::universal`; these handlers read forms and cookies and render.
//!
//! Cookies are HttpOnly and SameSite=Lax, named per project. Behind https they are
//! `__Host-` cookies (Secure, Path=/, no Domain: SECURITY S2); over plain http (development)
//! they are scoped to the project's pages instead.
//! Every form POST must carry the flow's CSRF token, come from a browser that holds the flow's
//! cookie, and not come from another site (`Origin` / `Sec-Fetch-Site`, SECURITY U2, U3). Every
//! failure is a page of ours, never a redirect (AS5).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use protekt_core::model::{LoginFlow, Project};
use protekt_core::universal::{Asking, LoginRequest, Started, Step, UniversalLogin};
use protekt_core::Error;
use serde::Deserialize;

use super::{message, render, unexpected, Hosted, Look, PageForm, PageQuery};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/p/{login_id}/", get(home))
        .route("/p/{login_id}/login", get(login_page).post(login_submit))
        .route("/p/{login_id}/signup", get(signup_page).post(signup_submit))
        .route(
            "/p/{login_id}/forgot-password",
            get(forgot_page).post(forgot_submit),
        )
        .route("/p/{login_id}/code", post(code_submit))
        .route("/p/{login_id}/mfa", post(mfa_submit))
        .route("/p/{login_id}/logout", get(logout))
}

/// The two cookies of a project: the browser's session and the binding of a flow.
pub(super) enum Cookie {
    Session,
    Flow,
}

impl Cookie {
    pub(super) fn name(&self, state: &AppState, login_id: &str) -> String {
        let what = match self {
            Cookie::Session => "session",
            Cookie::Flow => "flow",
        };
        let prefix = if secure(state) { "__Host-" } else { "" };
        format!("{prefix}protekt-{what}-{login_id}")
    }

    /// The value this request carries.
    pub(super) fn read(
        &self,
        state: &AppState,
        login_id: &str,
        headers: &HeaderMap,
    ) -> Option<String> {
        let name = self.name(state, login_id);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// A `Set-Cookie` value; `None` clears the cookie.
    pub(super) fn set(&self, state: &AppState, login_id: &str, value: Option<&str>) -> HeaderValue {
        let path = if secure(state) {
            "/".to_owned()
        } else {
            format!("/p/{login_id}/")
        };
        let (value, age) = match (value, self) {
            (Some(v), Cookie::Session) => (v, String::new()),
            (Some(v), Cookie::Flow) => (v, "; Max-Age=1800".to_owned()),
            (None, _) => ("", "; Max-Age=0".to_owned()),
        };
        let secure_flag = if secure(state) { "; Secure" } else { "" };
        let text = format!(
            "{}={value}; Path={path}; HttpOnly; SameSite=Lax{secure_flag}{age}",
            self.name(state, login_id)
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    redirect_url: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    /// Back to the form of a flow under way (from the other pages' links).
    flow: Option<String>,
    /// The address to fill in (an OpenID client's `login_hint`).
    login_hint: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FlowQuery {
    #[serde(default)]
    flow: String,
}

/// Every form of a flow: its id and CSRF token, and the fields of that form.
#[derive(Debug, Deserialize)]
pub struct FlowForm {
    #[serde(default)]
    pub(super) flow: String,
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    /// `code` on the sign-in form: email a code instead of checking the password.
    #[serde(default)]
    method: String,
    /// `sms` on the MFA form: text the code again.
    #[serde(default)]
    resend: String,
    /// `allow` or `deny` on a consent form.
    #[serde(default)]
    pub(super) decision: String,
    /// The device page's user code.
    #[serde(default)]
    pub(super) user_code: String,
}

#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    redirect_url: Option<String>,
}

/// A 303 to `location` (credentials in a URL never travel by 307, SECURITY AS5).
pub(super) fn see_other(look: &Look, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => unexpected(
            look,
            "login",
            Error::Internal(anyhow::anyhow!("a redirect URL is not a header value")),
        ),
    }
}

pub(super) fn cannot_sign_in(look: &Look, status: StatusCode, key: &str) -> Response {
    let text = look.text(key);
    message(status, look, "error.cannot_sign_in", &text, true)
}

/// A failure before a flow exists: our own page, never a redirect (SECURITY AS5, U1).
pub(super) fn refused(look: &Look, e: Error) -> Response {
    match e {
        Error::ValueNotAllowed { .. } => {
            cannot_sign_in(look, StatusCode::BAD_REQUEST, "error.redirect")
        }
        Error::InvalidRequest { field, .. } if field == "redirectUrl" => {
            cannot_sign_in(look, StatusCode::BAD_REQUEST, "error.redirect")
        }
        Error::InvalidRequest { .. } => {
            cannot_sign_in(look, StatusCode::BAD_REQUEST, "error.bad_request")
        }
        e => unexpected(look, "login", e),
    }
}

pub(super) fn forbidden(look: &Look) -> Response {
    cannot_sign_in(look, StatusCode::FORBIDDEN, "error.forbidden")
}

pub(super) fn expired(look: &Look) -> Response {
    cannot_sign_in(look, StatusCode::BAD_REQUEST, "error.expired")
}

/// What a page shows for a refused step (the same for an unknown account, SECURITY L4).
fn refusal(look: &Look, e: &Error, min_length: usize) -> Option<(StatusCode, String)> {
    Some(match e {
        Error::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            look.text("error.invalid_credentials"),
        ),
        Error::InvalidCode => (StatusCode::UNAUTHORIZED, look.text("error.invalid_code")),
        Error::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            look.text("error.rate_limited")
                .replace("{minutes}", &retry_after.div_ceil(60).to_string()),
        ),
        Error::UserDisabled => (StatusCode::FORBIDDEN, look.text("error.user_disabled")),
        Error::EmailNotVerified => (StatusCode::FORBIDDEN, look.text("error.email_not_verified")),
        Error::MfaLocked => (StatusCode::FORBIDDEN, look.text("error.mfa_locked")),
        Error::ServerBusy => (
            StatusCode::SERVICE_UNAVAILABLE,
            look.text("error.server_busy"),
        ),
        Error::WeakPassword { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            look.text("error.weak_password")
                .replace("{min}", &min_length.to_string()),
        ),
        Error::InvalidRequest { field, .. } if field == "email" => {
            (StatusCode::BAD_REQUEST, look.text("error.invalid_email"))
        }
        Error::InvalidRequest { field, .. } if field == "password" => (
            StatusCode::BAD_REQUEST,
            look.text("error.weak_password")
                .replace("{min}", &min_length.to_string()),
        ),
        Error::Conflict { .. } => (StatusCode::CONFLICT, look.text("mfa.no_sms")),
        _ => return None,
    })
}

/// A page of a flow: the form `template` with the flow's ids, and `extra` fields. Its form may
/// lead back to the app (`form-action`).
#[allow(clippy::too_many_arguments)]
fn flow_page(
    look: &Look,
    project: &Project,
    template: &str,
    title_key: &str,
    flow: &LoginFlow,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
    extra: minijinja::Value,
) -> Response {
    render(
        status,
        template,
        look,
        minijinja::context! {
            title => look.text(title_key),
            flow => flow.id,
            csrf => csrf,
            error => error,
            signup => project.settings.hosted_signup,
            email_code => project.settings.hosted_email_code,
            min_length => project.settings.password_min_length,
            ..extra
        },
        Some(&flow.redirect_url),
    )
}

pub(super) fn login_form(
    look: &Look,
    project: &Project,
    flow: &LoginFlow,
    csrf: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    flow_page(
        look,
        project,
        "login.html",
        "login.title",
        flow,
        csrf,
        error,
        status,
        minijinja::context! { email => email },
    )
}

pub async fn login_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    // Back to the form of a flow under way, if this browser holds it.
    if let Some(flow_id) = &q.flow {
        return match resume(&state, &project, &headers, flow_id).await {
            Some((flow, csrf)) => {
                let hint = q.login_hint.as_deref().filter(|h| h.len() <= 320);
                let email = hint.unwrap_or_default();
                login_form(&look, &project, &flow, &csrf, email, None, StatusCode::OK)
            }
            None => expired(&look),
        };
    }
    let req = LoginRequest {
        redirect_url: q.redirect_url,
        state: q.state,
        code_challenge: q.code_challenge,
        code_challenge_method: q.code_challenge_method,
        prompt: q.prompt,
        oauth: None,
        max_age: None,
        login_hint: None,
    };
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    let result = state
        .universal
        .start(&project, &req, browser.as_deref())
        .await;
    started(&state, &look, &project, result)
}

/// The answer to a visit that starts a flow: back to the app, or the flow's first form (the
/// sign-in, or the consent of a signed-in browser) with the cookie binding the flow to it.
pub(super) fn started(
    state: &AppState,
    look: &Look,
    project: &Project,
    result: protekt_core::Result<Started>,
) -> Response {
    let (mut page, binding) = match result {
        Ok(Started::HandedOff { location }) | Ok(Started::Refused { location }) => {
            return see_other(look, &location)
        }
        Ok(Started::Form {
            flow,
            csrf,
            binding,
            hint,
        }) => {
            let email = hint.unwrap_or_default();
            let page = login_form(look, project, &flow, &csrf, &email, None, StatusCode::OK);
            (page, binding)
        }
        Ok(Started::Consent {
            flow,
            csrf,
            binding,
            asking,
        }) => (consent_form(look, &flow, &csrf, &asking), binding),
        Err(e) => return refused(look, e),
    };
    page.headers_mut().append(
        header::SET_COOKIE,
        Cookie::Flow.set(state, &project.login_id, Some(&binding)),
    );
    page
}

/// The consent form of a flow: which client asks, for which scopes (SECURITY AS8).
pub(super) fn consent_form(look: &Look, flow: &LoginFlow, csrf: &str, asking: &Asking) -> Response {
    let scope = flow
        .oauth
        .as_ref()
        .map(|o| o.scope.as_str())
        .unwrap_or_default();
    consent_page(
        look,
        "consent",
        &flow.id,
        csrf,
        None,
        scope,
        asking,
        Some(&flow.redirect_url),
    )
}

/// A consent page (of a flow, or of the device page: `action`), listing the scopes in words.
#[allow(clippy::too_many_arguments)]
pub(super) fn consent_page(
    look: &Look,
    action: &str,
    flow: &str,
    csrf: &str,
    user_code: Option<&str>,
    scope: &str,
    asking: &Asking,
    form_action: Option<&str>,
) -> Response {
    let scopes: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let key = format!("consent.scope.{s}");
            let text = look.text(&key);
            if text == key {
                s.to_owned()
            } else {
                text
            }
        })
        .collect();
    let template = if user_code.is_some() {
        "device.confirm"
    } else {
        "consent.intro"
    };
    let intro = look
        .text(template)
        .replace("{client}", &asking.client)
        .replace("{who}", &asking.user);
    render(
        StatusCode::OK,
        "consent.html",
        look,
        minijinja::context! {
            title => look.text("consent.title"),
            intro => intro,
            scopes => scopes,
            action => action,
            flow => flow,
            csrf => csrf,
            user_code => user_code,
        },
        form_action,
    )
}

/// A flow named in a link, with its CSRF token, if this browser started it.
async fn resume(
    state: &AppState,
    project: &Project,
    headers: &HeaderMap,
    flow_id: &str,
) -> Option<(LoginFlow, String)> {
    let binding = Cookie::Flow.read(state, &project.login_id, headers)?;
    state
        .universal
        .resume(project, flow_id, &binding)
        .await
        .ok()
}

/// A form from another site is refused before anything else (SECURITY U2). A real `Origin`
/// must be ours. Our pages send no referrer, so browsers post their forms with `Origin: null`:
/// then (and when there is no `Origin` at all) `Sec-Fetch-Site`, where the browser sends it,
/// must say `same-origin`. The CSRF token and the flow's cookie are checked after this anyway.
pub(super) fn cross_site(state: &AppState, headers: &HeaderMap) -> bool {
    let ours = url::Url::parse(&state.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null");
    if let Some(origin) = origin {
        return origin != ours;
    }
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site != "same-origin")
}

/// The flow a form belongs to, with its CSRF token, or the page that refuses the form.
pub(super) async fn checked_flow(
    state: &AppState,
    project: &Project,
    look: &Look,
    headers: &HeaderMap,
    form: &FlowForm,
) -> Result<(LoginFlow, String), Response> {
    if cross_site(state, headers) {
        return Err(forbidden(look));
    }
    let binding = Cookie::Flow.read(state, &project.login_id, headers);
    match state
        .universal
        .flow(project, &form.flow, binding.as_deref(), &form.csrf)
        .await
    {
        Ok(found) => {
            let csrf = form.csrf.clone();
            Ok((found, csrf))
        }
        Err(Error::Forbidden) => Err(forbidden(look)),
        Err(Error::InvalidToken) => Err(expired(look)),
        Err(e) => Err(unexpected(look, "login", e)),
    }
}

/// The answer of a step: back to the app with the browser's session cookie, or the next form.
fn stepped(
    state: &AppState,
    look: &Look,
    project: &Project,
    flow: &LoginFlow,
    csrf: &str,
    step: Step,
) -> Response {
    match step {
        Step::Done {
            location,
            browser_session,
        } => {
            let mut response = see_other(look, &location);
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                Cookie::Session.set(state, &project.login_id, Some(&browser_session)),
            );
            h.append(
                header::SET_COOKIE,
                Cookie::Flow.set(state, &project.login_id, None),
            );
            response
        }
        Step::Consent {
            browser_session,
            asking,
        } => {
            let mut response = consent_form(look, flow, csrf, &asking);
            response.headers_mut().append(
                header::SET_COOKIE,
                Cookie::Session.set(state, &project.login_id, Some(&browser_session)),
            );
            response
        }
        Step::Mfa => mfa_form(look, project, flow, csrf, None, None, StatusCode::OK),
        Step::Code { email } => code_form(look, project, flow, csrf, &email, None, StatusCode::OK),
    }
}

/// The answer of a submitted step: the next page on success; a refusal shown on the step's own
/// form (`again`, with the text and status); anything else on a failure page of ours.
#[allow(clippy::too_many_arguments)]
fn answered(
    state: &AppState,
    look: &Look,
    project: &Project,
    flow: &LoginFlow,
    csrf: &str,
    page: &str,
    result: protekt_core::Result<Step>,
    again: impl FnOnce(&str, StatusCode) -> Response,
) -> Response {
    match result {
        Ok(step) => stepped(state, look, project, flow, csrf, step),
        Err(Error::Forbidden) => forbidden(look),
        // The flow's code or MFA token died (used, expired, too many wrong tries): start again.
        Err(Error::InvalidToken) => expired(look),
        Err(e) => match refusal(look, &e, project.settings.password_min_length) {
            Some((status, text)) => again(&text, status),
            None => unexpected(look, page, e),
        },
    }
}

fn mfa_form(
    look: &Look,
    project: &Project,
    flow: &LoginFlow,
    csrf: &str,
    error: Option<&str>,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    flow_page(
        look,
        project,
        "mfa.html",
        "mfa.title",
        flow,
        csrf,
        error,
        status,
        minijinja::context! { notice => notice },
    )
}

fn code_form(
    look: &Look,
    project: &Project,
    flow: &LoginFlow,
    csrf: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    flow_page(
        look,
        project,
        "code.html",
        "code.title",
        flow,
        csrf,
        error,
        status,
        minijinja::context! { email => email },
    )
}

pub async fn login_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    let (flow, csrf) = match checked_flow(&state, &project, &look, &headers, &form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if UniversalLogin::wants_mfa(&flow) {
        return mfa_form(&look, &project, &flow, &csrf, None, None, StatusCode::OK);
    }
    let universal = &state.universal;
    let result = if form.method == "code" {
        universal
            .send_code(&project, &flow, &form.email, None)
            .await
    } else {
        universal
            .password(&project, &flow, &form.email, &form.password)
            .await
    };
    answered(
        &state,
        &look,
        &project,
        &flow,
        &csrf,
        "login",
        result,
        |text, status| {
            login_form(
                &look,
                &project,
                &flow,
                &csrf,
                &form.email,
                Some(text),
                status,
            )
        },
    )
}

pub async fn signup_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<FlowQuery>,
    headers: HeaderMap,
) -> Response {
    if !project.settings.hosted_signup {
        return cannot_sign_in(&look, StatusCode::NOT_FOUND, "error.signup_closed");
    }
    match resume(&state, &project, &headers, &q.flow).await {
        Some((flow, csrf)) => signup_form(&look, &project, &flow, &csrf, "", None, StatusCode::OK),
        None => expired(&look),
    }
}

fn signup_form(
    look: &Look,
    project: &Project,
    flow: &LoginFlow,
    csrf: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    flow_page(
        look,
        project,
        "signup.html",
        "signup.title",
        flow,
        csrf,
        error,
        status,
        minijinja::context! { email => email },
    )
}

/// A sign-up: the password is checked against the policy here, then a code goes to the
/// address, whose page looks the same whether or not it has an account (SECURITY L4).
pub async fn signup_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    if !project.settings.hosted_signup {
        return cannot_sign_in(&look, StatusCode::NOT_FOUND, "error.signup_closed");
    }
    let (flow, csrf) = match checked_flow(&state, &project, &look, &headers, &form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let result = state
        .universal
        .send_code(&project, &flow, &form.email, Some(&form.password))
        .await;
    answered(
        &state,
        &look,
        &project,
        &flow,
        &csrf,
        "signup",
        result,
        |text, status| {
            signup_form(
                &look,
                &project,
                &flow,
                &csrf,
                &form.email,
                Some(text),
                status,
            )
        },
    )
}

pub async fn code_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    let (flow, csrf) = match checked_flow(&state, &project, &look, &headers, &form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let email = flow.pending_email.clone().unwrap_or_default();
    let result = state.universal.code(&project, &flow, &form.code).await;
    answered(
        &state,
        &look,
        &project,
        &flow,
        &csrf,
        "code",
        result,
        |text, status| code_form(&look, &project, &flow, &csrf, &email, Some(text), status),
    )
}

pub async fn forgot_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<FlowQuery>,
    headers: HeaderMap,
) -> Response {
    match resume(&state, &project, &headers, &q.flow).await {
        Some((flow, csrf)) => flow_page(
            &look,
            &project,
            "forgot_password.html",
            "forgot.title",
            &flow,
            &csrf,
            None,
            StatusCode::OK,
            minijinja::context! {},
        ),
        None => expired(&look),
    }
}

/// Asks for a reset link: the same page follows for every address (SECURITY L4, F6); the link
/// leads to the reset page.
pub async fn forgot_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    let (flow, csrf) = match checked_flow(&state, &project, &look, &headers, &form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let browser = protekt_core::universal::BROWSER;
    match state
        .account
        .request_password_reset(&project, &form.email, None, &browser)
        .await
    {
        Ok(()) => render(
            StatusCode::OK,
            "message.html",
            &look,
            minijinja::context! {
                title => look.text("forgot.sent_title"),
                message => look.text("forgot.sent_text"),
                back => format!("login?flow={}&lang={}", flow.id, look.lang()),
            },
            None,
        ),
        Err(e) => match refusal(&look, &e, project.settings.password_min_length) {
            Some((status, text)) => flow_page(
                &look,
                &project,
                "forgot_password.html",
                "forgot.title",
                &flow,
                &csrf,
                Some(&text),
                status,
                minijinja::context! {},
            ),
            None => unexpected(&look, "forgot-password", e),
        },
    }
}

pub async fn mfa_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    let (flow, csrf) = match checked_flow(&state, &project, &look, &headers, &form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let again =
        |text: &str, status| mfa_form(&look, &project, &flow, &csrf, Some(text), None, status);
    if form.resend == "sms" {
        return match state.universal.resend_sms(&project, &flow).await {
            Ok(()) => {
                let notice = look.text("mfa.resent");
                mfa_form(
                    &look,
                    &project,
                    &flow,
                    &csrf,
                    None,
                    Some(&notice),
                    StatusCode::OK,
                )
            }
            Err(Error::InvalidToken) => expired(&look),
            Err(e) => match refusal(&look, &e, project.settings.password_min_length) {
                Some((status, text)) => again(&text, status),
                None => unexpected(&look, "mfa", e),
            },
        };
    }
    let result = state.universal.mfa(&project, &flow, &form.code).await;
    answered(&state, &look, &project, &flow, &csrf, "mfa", result, again)
}

/// The signed-in page: who the browser is signed in as, and a way out. Without a live browser
/// session, the sign-in page.
pub async fn home(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
) -> Response {
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    match state
        .universal
        .browser_user(&project, browser.as_deref())
        .await
    {
        Ok(Some(user)) => {
            let who = user.known_as();
            render(
                StatusCode::OK,
                "home.html",
                &look,
                minijinja::context! { title => look.text("home.title"), who => who },
                None,
            )
        }
        Ok(None) => see_other(&look, &format!("login?lang={}", look.lang())),
        Err(e) => unexpected(&look, "home", e),
    }
}

/// Signs the browser out (its session ends everywhere) and goes to `redirect_url` if the
/// project allows it, else says so on a page.
pub async fn logout(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<LogoutQuery>,
    headers: HeaderMap,
) -> Response {
    let target = UniversalLogin::logout_target(&project, q.redirect_url.as_deref());
    signed_out(&state, &look, &project, &headers, target).await
}

/// Ends the browser's session and clears its cookie, then goes to `target` (already checked)
/// or shows the signed-out page.
pub(super) async fn signed_out(
    state: &AppState,
    look: &Look,
    project: &Project,
    headers: &HeaderMap,
    target: Option<String>,
) -> Response {
    let browser = Cookie::Session.read(state, &project.login_id, headers);
    if let Err(e) = state.universal.logout(project, browser.as_deref()).await {
        return unexpected(look, "logout", e);
    }
    let mut response = match target {
        Some(target) => see_other(look, &target),
        None => {
            let text = look.text("logout.text");
            message(StatusCode::OK, look, "logout.title", &text, false)
        }
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        Cookie::Session.set(state, &project.login_id, None),
    );
    response
}
