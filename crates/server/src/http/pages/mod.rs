//! Hosted pages under `/p/{loginId}/…`: server-rendered from minijinja templates shipped in the
//! binary (`crates/server/templates/`, HTML auto-escaped), one file per flow.
//!
//! Every page carries the same headers (SECURITY U4, F5): a strict CSP whose only script is the
//! one with this response's nonce, no framing, no referrer, no caching, no sniffing. A page
//! whose form may lead to another origin (a redirect back to the app) names that origin in
//! `form-action`, or browsers refuse to follow the redirect.

mod email_links;
mod login;
mod magic_link;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use minijinja::Environment;
use std::sync::LazyLock;

use protekt_core::model::Project;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    email_links::router()
        .merge(magic_link::router())
        .merge(login::router())
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../../../templates/base.html")),
        (
            "message.html",
            include_str!("../../../templates/message.html"),
        ),
        (
            "verify_email.html",
            include_str!("../../../templates/verify_email.html"),
        ),
        (
            "reset_password.html",
            include_str!("../../../templates/reset_password.html"),
        ),
        (
            "magic_link.html",
            include_str!("../../../templates/magic_link.html"),
        ),
        ("login.html", include_str!("../../../templates/login.html")),
        ("mfa.html", include_str!("../../../templates/mfa.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            // The templates ship in the binary; a broken one is caught by every page test.
            tracing::error!(error = %e, template = name, "a hosted-page template does not compile");
        }
    }
    env
});

/// Renders `template` with `context` (plus the script nonce) into a page with the hosted-page
/// headers. `form_target`: a URL the page's form may redirect to.
pub(crate) fn render(
    status: StatusCode,
    template: &str,
    context: minijinja::Value,
    form_target: Option<&str>,
) -> Response {
    let nonce: String = protekt_core::ids::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let html = TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(minijinja::context! { nonce => nonce, ..context }));
    let (status, html) = match html {
        Ok(html) => (status, html),
        Err(e) => {
            tracing::error!(error = %e, template, "cannot render a hosted page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned(),
            )
        }
    };
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

/// The project of a hosted page, from the `{login_id}` in its path; a "not found" page if
/// there is none.
pub(crate) struct HostedProject(pub Project);

impl FromRequestParts<AppState> for HostedProject {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let not_found = || {
            message(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such page.",
                true,
            )
        };
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        let login_id = params.get("login_id").ok_or_else(not_found)?;
        protekt_core::projects::by_login_id(&state.store, login_id)
            .await
            .map(HostedProject)
            .map_err(|_| not_found())
    }
}

/// A page that only says something (`error`: shown as an alert).
pub(crate) fn message(status: StatusCode, title: &str, text: &str, error: bool) -> Response {
    render(
        status,
        "message.html",
        minijinja::context! { title => title, message => text, error => error },
        None,
    )
}

/// An unexpected failure: logged with its cause, answered with a generic page.
pub(crate) fn unexpected(page: &str, e: protekt_core::Error) -> Response {
    tracing::error!(error = ?e, page, "hosted page failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Please try again.",
        true,
    )
}
