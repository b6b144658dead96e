//! The pages behind emailed links: confirm an email, choose a new password.
//!
//! Mail scanners open links before people do, so a GET only shows a page; the token is used by
//! that page's POST (SECURITY O6). After success the browser goes only to the redirect URL
//! recorded with the token, which was checked against the project's allow-list when the email
//! was requested.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use protekt_core::model::Project;
use protekt_core::universal::BROWSER;
use protekt_core::Error;
use serde::Deserialize;

use super::{message, render, unexpected, Hosted, Look, PageForm, PageQuery};
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

fn invalid_link(look: &Look, title_key: &str) -> Response {
    let text = look.text("link_invalid");
    message(StatusCode::BAD_REQUEST, look, title_key, &text, true)
}

fn done(look: &Look, title_key: &str, text_key: &str, redirect: Option<String>) -> Response {
    match redirect {
        Some(url) => Redirect::to(&url).into_response(),
        None => {
            let text = look.text(text_key);
            message(StatusCode::OK, look, title_key, &text, false)
        }
    }
}

pub async fn verify_email_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<TokenQuery>,
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
            &look,
            minijinja::context! { title => look.text("verify.title"), token => q.token },
            redirect.as_deref(),
        ),
        Err(Error::InvalidToken) => invalid_link(&look, "verify.title"),
        Err(e) => unexpected(&look, "verify-email", e),
    }
}

pub async fn verify_email_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageForm(form): PageForm<VerifyForm>,
) -> Response {
    match state
        .account
        .verify_email(&project, &form.token, &BROWSER)
        .await
    {
        Ok((_, redirect)) => done(&look, "verify.done_title", "verify.done_text", redirect),
        Err(Error::InvalidToken) => invalid_link(&look, "verify.title"),
        Err(e) => unexpected(&look, "verify-email", e),
    }
}

fn reset_form(
    look: &Look,
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
        look,
        minijinja::context! {
            title => look.text("reset.title"),
            token => token,
            error => error,
            min_length => project.settings.password_min_length,
        },
        redirect,
    )
}

pub async fn reset_password_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<TokenQuery>,
) -> Response {
    match state.account.reset_redirect(&project, &q.token).await {
        Ok(redirect) => reset_form(&look, &project, &q.token, None, redirect.as_deref()),
        Err(Error::InvalidToken) => invalid_link(&look, "reset.title"),
        Err(e) => unexpected(&look, "reset-password", e),
    }
}

pub async fn reset_password_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageForm(form): PageForm<ResetForm>,
) -> Response {
    let account = &state.account;
    match account
        .confirm_password_reset(&project, &form.token, &form.password, &BROWSER)
        .await
    {
        Ok(redirect) => done(&look, "reset.done_title", "reset.done_text", redirect),
        Err(Error::InvalidToken) => invalid_link(&look, "reset.title"),
        Err(Error::WeakPassword { .. } | Error::InvalidRequest { .. }) => {
            let why = look
                .text("error.weak_password")
                .replace("{min}", &project.settings.password_min_length.to_string());
            reset_refused(&state, &look, &project, &form.token, &why).await
        }
        Err(e) => unexpected(&look, "reset-password", e),
    }
}

/// The reset form again, saying why the password was refused (the link is still good).
async fn reset_refused(
    state: &AppState,
    look: &Look,
    project: &Project,
    token: &str,
    why: &str,
) -> Response {
    let redirect = state
        .account
        .reset_redirect(project, token)
        .await
        .ok()
        .flatten();
    reset_form(look, project, token, Some(why), redirect.as_deref())
}
