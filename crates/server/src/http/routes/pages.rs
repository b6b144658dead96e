//! Hosted pages behind emailed links: confirm an email, choose a new password.
//!
//! Mail scanners open links before people do, so a GET only shows a page; the token is used by
//! that page's POST (SECURITY O6). The token travels in the form; a small script (allowed by the
//! CSP nonce of that one response) drops it from the address bar and history as soon as the page
//! loads. Every page forbids referrers, framing, plugins and third-party resources (SECURITY F5,
//! U4). After success the browser goes only to the redirect URL recorded with the token, which
//! was checked against the project's allow-list when the email was requested; the page's
//! `form-action` names that URL's origin, or browsers would refuse to follow the redirect.

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use protekt_core::model::Project;
use protekt_core::Error;
use serde::Deserialize;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/p/{login_id}/verify-email",
            get(verify_email_page).post(verify_email_submit),
        )
        .route(
            "/p/{login_id}/reset-password",
            get(reset_password_page).post(reset_password_submit),
        )
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A page with the security headers every hosted page carries. `form_target` is an extra
/// origin the form's POST may redirect to.
fn page(status: StatusCode, title: &str, body: &str, form_target: Option<&str>) -> Response {
    let nonce: String = protekt_core::ids::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let body = format!(
        "{body}<script nonce=\"{nonce}\">if(location.search)history.replaceState(null,\"\",location.pathname)</script>"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{t}</title><style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}}\
         button{{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#2740c9;color:#fff;cursor:pointer}}\
         input{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0 1rem}}.error{{color:#b00020}}</style></head>\
         <body><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    );
    let origin = form_target
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; form-action 'self'{origin}; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

async fn project(state: &AppState, login_id: &str) -> Result<Project, Response> {
    match state.store.project_by_login_id(login_id).await {
        Ok(Some(p)) => Ok(p),
        _ => Err(page(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>There is no such page.</p>",
            None,
        )),
    }
}

fn invalid_link(state_title: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        state_title,
        "<p class=\"error\">This link is invalid, was already used, or has expired. Ask for a new one.</p>",
        None,
    )
}

fn done(title: &str, message: &str, redirect: Option<String>) -> Response {
    match redirect {
        Some(url) => Redirect::to(&url).into_response(),
        None => page(
            StatusCode::OK,
            title,
            &format!("<p>{}</p>", esc(message)),
            None,
        ),
    }
}

pub async fn verify_email_page(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let project = match project(&state, &login_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    // Looking the token up uses nothing; it tells where the form may lead.
    let redirect = match state
        .account
        .verification_redirect(&project, &q.token)
        .await
    {
        Ok(redirect) => redirect,
        Err(Error::InvalidToken) => return invalid_link("Confirm your email"),
        Err(e) => return unexpected("verify-email", e),
    };
    let body = format!(
        "<p>Confirm the email address of your {} account.</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Confirm my email</button></form>",
        esc(&project.name),
        esc(&q.token)
    );
    page(
        StatusCode::OK,
        "Confirm your email",
        &body,
        redirect.as_deref(),
    )
}

pub async fn verify_email_submit(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
    Form(form): Form<VerifyForm>,
) -> Response {
    let project = match project(&state, &login_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.account.verify_email(&project, &form.token).await {
        Ok((_, redirect)) => done(
            "Email confirmed",
            "Your email address is confirmed. You can close this page.",
            redirect,
        ),
        Err(Error::InvalidToken) => invalid_link("Confirm your email"),
        Err(e) => unexpected("verify-email", e),
    }
}

/// An unexpected failure: logged with its cause, answered with a generic page.
fn unexpected(page_name: &str, e: Error) -> Response {
    tracing::error!(error = ?e, page = page_name, "hosted page failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "<p class=\"error\">Please try again.</p>",
        None,
    )
}

fn reset_form(
    project: &Project,
    token: &str,
    error: Option<&str>,
    redirect: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<p>Choose a new password for your {} account.</p>{error}\
         <form method=\"post\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label for=\"password\">New password</label>\
         <input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"new-password\" minlength=\"{}\" required>\
         <button type=\"submit\">Set new password</button></form>",
        esc(&project.name),
        esc(token),
        project.settings.password_min_length
    );
    page(
        if error.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        },
        "Choose a new password",
        &body,
        redirect,
    )
}

pub async fn reset_password_page(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    let project = match project(&state, &login_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state.account.reset_redirect(&project, &q.token).await {
        Ok(redirect) => reset_form(&project, &q.token, None, redirect.as_deref()),
        Err(_) => invalid_link("Choose a new password"),
    }
}

pub async fn reset_password_submit(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
    Form(form): Form<ResetForm>,
) -> Response {
    let project = match project(&state, &login_id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match state
        .account
        .confirm_password_reset(&project, &form.token, &form.password)
        .await
    {
        Ok(redirect) => done(
            "Password changed",
            "Your password is changed and your other sessions are signed out. You can sign in now.",
            redirect,
        ),
        Err(Error::InvalidToken) => invalid_link("Choose a new password"),
        Err(Error::WeakPassword { message: m, .. }) => {
            let redirect = state
                .account
                .reset_redirect(&project, &form.token)
                .await
                .ok()
                .flatten();
            reset_form(&project, &form.token, Some(&m), redirect.as_deref())
        }
        Err(Error::InvalidRequest { message, .. }) => {
            reset_form(&project, &form.token, Some(&message), None)
        }
        Err(e) => unexpected("reset-password", e),
    }
}
