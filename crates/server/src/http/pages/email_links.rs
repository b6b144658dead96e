//! The pages behind emailed links: confirm an email, choose a new password.
//!
//! Mail scanners open links before people do, so a GET only shows a page; the token is used by
//! that page's POST (SECURITY O6). After success the browser goes only to the redirect URL
//! recorded with the token, which was checked against the project's allow-list when the email
//! was requested.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use protekt_core::auth::ClientInfo;
use protekt_core::model::Project;
use protekt_core::Error;
use serde::Deserialize;

/// A browser on a hosted page: its address is not trusted as an end user's without proxy
/// configuration, so no per-address limit is keyed on it.
const BROWSER: ClientInfo = ClientInfo {
    ip: None,
    ip_is_end_user: false,
    user_agent: None,
};

use super::{message, render, unexpected, HostedProject};
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

fn invalid_link(title: &str) -> Response {
    message(
        StatusCode::BAD_REQUEST,
        title,
        "This link is invalid, was already used, or has expired. Ask for a new one.",
        true,
    )
}

fn done(title: &str, text: &str, redirect: Option<String>) -> Response {
    match redirect {
        Some(url) => Redirect::to(&url).into_response(),
        None => message(StatusCode::OK, title, text, false),
    }
}

pub async fn verify_email_page(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    Query(q): Query<TokenQuery>,
) -> Response {
    // Looking the token up uses nothing; it tells where the form may lead.
    match state
        .account
        .verification_redirect(&project, &q.token)
        .await
    {
        Ok(redirect) => render(
            StatusCode::OK,
            "verify_email.html",
            minijinja::context! { title => "Confirm your email", project => project.name, token => q.token },
            redirect.as_deref(),
        ),
        Err(Error::InvalidToken) => invalid_link("Confirm your email"),
        Err(e) => unexpected("verify-email", e),
    }
}

pub async fn verify_email_submit(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    Form(form): Form<VerifyForm>,
) -> Response {
    match state
        .account
        .verify_email(&project, &form.token, &BROWSER)
        .await
    {
        Ok((_, redirect)) => done(
            "Email confirmed",
            "Your email address is confirmed. You can close this page.",
            redirect,
        ),
        Err(Error::InvalidToken) => invalid_link("Confirm your email"),
        Err(e) => unexpected("verify-email", e),
    }
}

fn reset_form(
    project: &Project,
    token: &str,
    error: Option<&str>,
    redirect: Option<&str>,
) -> Response {
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "reset_password.html",
        minijinja::context! {
            title => "Choose a new password",
            project => project.name,
            token => token,
            error => error,
            min_length => project.settings.password_min_length,
        },
        redirect,
    )
}

pub async fn reset_password_page(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    Query(q): Query<TokenQuery>,
) -> Response {
    match state.account.reset_redirect(&project, &q.token).await {
        Ok(redirect) => reset_form(&project, &q.token, None, redirect.as_deref()),
        Err(Error::InvalidToken) => invalid_link("Choose a new password"),
        Err(e) => unexpected("reset-password", e),
    }
}

const PASSWORD_CHANGED: &str =
    "Your password is changed and your other sessions are signed out. You can sign in now.";

pub async fn reset_password_submit(
    State(state): State<AppState>,
    HostedProject(project): HostedProject,
    Form(form): Form<ResetForm>,
) -> Response {
    let account = &state.account;
    match account
        .confirm_password_reset(&project, &form.token, &form.password, &BROWSER)
        .await
    {
        Ok(redirect) => done("Password changed", PASSWORD_CHANGED, redirect),
        Err(Error::InvalidToken) => invalid_link("Choose a new password"),
        Err(Error::WeakPassword { message: m, .. } | Error::InvalidRequest { message: m, .. }) => {
            reset_refused(&state, &project, &form.token, &m).await
        }
        Err(e) => unexpected("reset-password", e),
    }
}

/// The reset form again, saying why the password was refused (the link is still good).
async fn reset_refused(state: &AppState, project: &Project, token: &str, why: &str) -> Response {
    let redirect = state
        .account
        .reset_redirect(project, token)
        .await
        .ok()
        .flatten();
    reset_form(project, token, Some(why), redirect.as_deref())
}
