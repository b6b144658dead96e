//! Universal Login's pages: sign in, the second factor, sign out. The rules are in
//! `protekt_core::universal`; these handlers read the forms and cookies and render.
//!
//! Cookies are HttpOnly and SameSite=Lax, named per project. Behind https they are
//! `__Host-` cookies (Secure, Path=/, no Domain: SECURITY S2); over plain http (development)
//! they are scoped to the project's pages instead.
//! Every form POST must carry the flow's CSRF token, come from a browser that holds the flow's
//! cookie, and not come from another site (`Origin` / `Sec-Fetch-Site`, SECURITY U2, U3).

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protekt_core::model::{LoginFlow, Project};
use protekt_core::universal::{LoginRequest, Started, Step, UniversalLogin};
use protekt_core::Error;
use serde::Deserialize;

use super::{message, render, unexpected, HostedProject};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/p/{login_id}/login", get(login_page).post(login_submit))
        .route("/p/{login_id}/mfa", axum::routing::post(mfa_submit))
        .route("/p/{login_id}/logout", get(logout))
}

/// The two cookies of a project: the browser's session and the binding of a flow.
enum Cookie {
    Session,
    Flow,
}

impl Cookie {
    fn name(&self, state: &AppState, login_id: &str) -> String {
        let what = match self {
            Cookie::Session => "session",
            Cookie::Flow => "flow",
        };
        let prefix = if secure(state) { "__Host-" } else { "" };
        format!("{prefix}protekt-{what}-{login_id}")
    }

    /// The value this request carries.
    fn read(&self, state: &AppState, login_id: &str, headers: &HeaderMap) -> Option<String> {
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
    fn set(&self, state: &AppState, login_id: &str, value: Option<&str>) -> HeaderValue {
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
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct MfaForm {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    redirect_url: Option<String>,
}

/// A 303 to `location` (credentials in a URL never travel by 307, SECURITY AS5).
fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => unexpected(
            "login",
            Error::Internal(anyhow::anyhow!("a redirect URL is not a header value")),
        ),
    }
}

/// A failure before a flow exists: our own page, never a redirect (SECURITY AS5).
fn refused(e: Error) -> Response {
    match e {
        Error::InvalidRequest { message: m, .. } | Error::ValueNotAllowed { message: m, .. } => {
            message(StatusCode::BAD_REQUEST, "Cannot sign in", &m, true)
        }
        e => unexpected("login", e),
    }
}

pub async fn login_page(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    let req = LoginRequest {
        redirect_url: q.redirect_url,
        state: q.state,
        code_challenge: q.code_challenge,
        code_challenge_method: q.code_challenge_method,
        prompt: q.prompt,
    };
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    match state
        .universal
        .start(&project, &req, browser.as_deref())
        .await
    {
        Ok(Started::HandedOff { location }) => see_other(&location),
        Ok(Started::Form {
            flow_id,
            csrf,
            binding,
        }) => {
            let mut page = login_form(&project, &flow_id, &csrf, "", None, StatusCode::OK);
            page.headers_mut().append(
                header::SET_COOKIE,
                Cookie::Flow.set(&state, &project.login_id, Some(&binding)),
            );
            page
        }
        Err(e) => refused(e),
    }
}

fn login_form(
    project: &Project,
    flow: &str,
    csrf: &str,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    render(
        status,
        "login.html",
        minijinja::context! {
            title => "Sign in", project => project.name, flow => flow, csrf => csrf, email => email, error => error,
        },
        None,
    )
}

fn mfa_form(flow: &str, csrf: &str, error: Option<&str>, status: StatusCode) -> Response {
    render(
        status,
        "mfa.html",
        minijinja::context! { title => "Two-step verification", flow => flow, csrf => csrf, error => error },
        None,
    )
}

/// A form from another site is refused before anything else (SECURITY U2): its `Origin` must
/// be ours, or (browsers that send no `Origin`) `Sec-Fetch-Site` must not say cross-site.
fn cross_site(state: &AppState, headers: &HeaderMap) -> bool {
    let ours = url::Url::parse(&state.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin != ours;
    }
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    )
}

fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Cannot sign in",
        "This form was not sent from the sign-in page opened in this browser. Go back to the app and start again.",
        true,
    )
}

fn expired() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Cannot sign in",
        "This sign-in page has expired. Go back to the app and start again.",
        true,
    )
}

/// The flow a form belongs to, or the page that refuses the form.
async fn checked_flow(
    state: &AppState,
    project: &Project,
    headers: &HeaderMap,
    flow: &str,
    csrf: &str,
) -> Result<(LoginFlow, String), Response> {
    if cross_site(state, headers) {
        return Err(forbidden());
    }
    let binding = Cookie::Flow.read(state, &project.login_id, headers);
    match state
        .universal
        .flow(project, flow, binding.as_deref(), csrf)
        .await
    {
        Ok(found) => Ok((found, binding.unwrap_or_default())),
        Err(Error::Forbidden) => Err(forbidden()),
        Err(Error::InvalidToken) => Err(expired()),
        Err(e) => Err(unexpected("login", e)),
    }
}

/// The answer of a step: back to the app with the browser's session cookie, or the MFA form.
fn stepped(
    state: &AppState,
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
            let mut response = see_other(&location);
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
        Step::Mfa => mfa_form(&flow.id, csrf, None, StatusCode::OK),
    }
}

/// What a refused step says on the page (the same for an unknown account, SECURITY L4).
fn refusal_text(e: &Error) -> Option<(StatusCode, String)> {
    Some(match e {
        Error::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "Wrong email or password.".to_owned(),
        ),
        Error::InvalidCode => (
            StatusCode::UNAUTHORIZED,
            "That code is not right. Try again.".to_owned(),
        ),
        Error::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many attempts. Try again in {} minute(s).",
                retry_after.div_ceil(60)
            ),
        ),
        Error::UserDisabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled.".to_owned(),
        ),
        Error::EmailNotVerified => (
            StatusCode::FORBIDDEN,
            "Confirm your email address first: open the link we emailed you.".to_owned(),
        ),
        Error::MfaLocked => (
            StatusCode::FORBIDDEN,
            "Too many wrong codes: use one of your backup codes.".to_owned(),
        ),
        Error::ServerBusy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "We are busy. Try again in a moment.".to_owned(),
        ),
        Error::InvalidRequest { message, .. } => (StatusCode::BAD_REQUEST, message.clone()),
        _ => return None,
    })
}

pub async fn login_submit(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let (flow, binding) =
        match checked_flow(&state, &project, &headers, &form.flow, &form.csrf).await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let csrf = state.universal.csrf_for(&flow, &binding);
    if UniversalLogin::wants_mfa(&flow) {
        return mfa_form(&flow.id, &csrf, None, StatusCode::OK);
    }
    match state
        .universal
        .password(&project, &flow, &form.email, &form.password)
        .await
    {
        Ok(step) => stepped(&state, &project, &flow, &csrf, step),
        Err(e) => match refusal_text(&e) {
            Some((status, text)) => {
                login_form(&project, &flow.id, &csrf, &form.email, Some(&text), status)
            }
            None => unexpected("login", e),
        },
    }
}

pub async fn mfa_submit(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    headers: HeaderMap,
    Form(form): Form<MfaForm>,
) -> Response {
    let (flow, binding) =
        match checked_flow(&state, &project, &headers, &form.flow, &form.csrf).await {
            Ok(found) => found,
            Err(page) => return page,
        };
    let csrf = state.universal.csrf_for(&flow, &binding);
    match state.universal.mfa(&project, &flow, &form.code).await {
        Ok(step) => stepped(&state, &project, &flow, &csrf, step),
        // The MFA token died (five wrong codes, or its five minutes): sign in again.
        Err(Error::InvalidToken) => expired(),
        Err(e) => match refusal_text(&e) {
            Some((status, text)) => mfa_form(&flow.id, &csrf, Some(&text), status),
            None => unexpected("mfa", e),
        },
    }
}

/// Signs the browser out (its session ends everywhere) and goes to `redirect_url` if the
/// project allows it, else says so on a page.
pub async fn logout(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    Query(q): Query<LogoutQuery>,
    headers: HeaderMap,
) -> Response {
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    if let Err(e) = state.universal.logout(&project, browser.as_deref()).await {
        return unexpected("logout", e);
    }
    let mut response = match UniversalLogin::logout_target(&project, q.redirect_url.as_deref()) {
        Some(target) => see_other(&target),
        None => message(
            StatusCode::OK,
            "Signed out",
            "You are signed out. You can close this page.",
            false,
        ),
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        Cookie::Session.set(&state, &project.login_id, None),
    );
    response
}
