//! The page behind an emailed magic link.
//!
//! Link scanners and prefetchers open emailed links before people do: a GET (or HEAD) only
//! shows a "Sign in" button, and uses nothing. The button's POST uses the link up and sends
//! the browser to the app's redirect URL with a fresh single-use token (60 seconds), which the
//! app's backend exchanges for a session (SECURITY O6).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use protekt_core::Error;
use serde::Deserialize;

use super::{message, render, unexpected, Hosted, Look, PageForm, PageQuery};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/p/{login_id}/magic-link",
        get(magic_link_page).post(magic_link_submit),
    )
}

#[derive(Debug, Deserialize)]
pub struct TokenParam {
    #[serde(default)]
    token: String,
}

fn invalid_link(look: &Look) -> Response {
    let text = look.text("magic.invalid");
    message(StatusCode::BAD_REQUEST, look, "magic.title", &text, true)
}

pub async fn magic_link_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<TokenParam>,
) -> Response {
    match state.signin.pending_magic_link(&project, &q.token).await {
        Ok(link) => render(
            StatusCode::OK,
            "magic_link.html",
            &look,
            minijinja::context! {
                title => look.text("magic.title"), token => q.token, email => link.masked_email,
            },
            Some(&link.redirect_url),
        ),
        Err(Error::InvalidToken) => invalid_link(&look),
        Err(e) => unexpected(&look, "magic-link", e),
    }
}

pub async fn magic_link_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageForm(form): PageForm<TokenParam>,
) -> Response {
    match state.signin.confirm_magic_link(&project, &form.token).await {
        Ok(redirect) => Redirect::to(&redirect).into_response(),
        Err(Error::InvalidToken) => invalid_link(&look),
        Err(e) => unexpected(&look, "magic-link", e),
    }
}
