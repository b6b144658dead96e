//! The OpenID Connect provider's browser side: the authorization endpoint (which hands over to
//! Universal Login's pages), the consent form, the device page (RFC 8628) and RP-initiated
//! logout. The rules are `protekt_core::oauth` and `protekt_core::universal`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use protekt_core::oauth::{Authorize, AuthorizeParams};
use protekt_core::universal::{Asking, Started};
use protekt_core::Error;
use serde::Deserialize;

use super::login::{
    cannot_sign_in, checked_flow, consent_form, consent_page, cross_site, expired, forbidden,
    login_form, see_other, signed_out, started, Cookie, FlowForm,
};
use super::{message, render, unexpected, Hosted, Look, PageForm, PageQuery};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/p/{login_id}/oauth2/authorize", get(authorize))
        .route(
            "/p/{login_id}/consent",
            get(consent_page_get).post(consent_submit),
        )
        .route("/p/{login_id}/device", get(device_page).post(device_submit))
        .route("/p/{login_id}/oauth2/logout", get(end_session))
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    response_mode: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
}

/// The authorization endpoint (OIDC Core §3.1.2): an unknown client or redirect URI is shown
/// here, never redirected (SECURITY AS5); other errors go back to the client; a good request
/// goes on like a Universal Login visit.
pub async fn authorize(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<AuthorizeQuery>,
    headers: HeaderMap,
) -> Response {
    let params = AuthorizeParams {
        response_type: q.response_type,
        client_id: q.client_id,
        redirect_uri: q.redirect_uri,
        scope: q.scope,
        state: q.state,
        nonce: q.nonce,
        code_challenge: q.code_challenge,
        code_challenge_method: q.code_challenge_method,
        prompt: q.prompt,
        max_age: q.max_age,
        login_hint: q.login_hint,
        response_mode: q.response_mode,
        request: q.request,
        request_uri: q.request_uri,
    };
    match state.provider.authorize(&project, params).await {
        Ok(Authorize::Page(e)) => {
            let key = if e.error == "invalid_client" {
                "oauth.invalid_client"
            } else {
                "oauth.invalid_redirect"
            };
            cannot_sign_in(&look, StatusCode::BAD_REQUEST, key)
        }
        Ok(Authorize::Redirect(location)) => see_other(&look, &location),
        Ok(Authorize::Login(req)) => {
            let browser = Cookie::Session.read(&state, &project.login_id, &headers);
            let result = state
                .universal
                .start(&project, &req, browser.as_deref())
                .await;
            // The flow's pages live beside the login page: go there with the flow.
            let base = format!("/p/{}", project.login_id);
            let lang = look.lang();
            let (page, binding) = match result {
                Ok(Started::Form {
                    flow,
                    binding,
                    hint,
                    ..
                }) => {
                    let hint = hint
                        .map(|h| {
                            let h: String =
                                url::form_urlencoded::byte_serialize(h.as_bytes()).collect();
                            format!("&login_hint={h}")
                        })
                        .unwrap_or_default();
                    (
                        format!("{base}/login?flow={}&lang={lang}{hint}", flow.id),
                        binding,
                    )
                }
                Ok(Started::Consent { flow, binding, .. }) => (
                    format!("{base}/consent?flow={}&lang={lang}", flow.id),
                    binding,
                ),
                other => return started(&state, &look, &project, other),
            };
            let mut response = see_other(&look, &page);
            response.headers_mut().append(
                header::SET_COOKIE,
                Cookie::Flow.set(&state, &project.login_id, Some(&binding)),
            );
            response
        }
        Err(e) => unexpected(&look, "authorize", e),
    }
}

#[derive(Debug, Deserialize)]
pub struct FlowQuery {
    #[serde(default)]
    flow: String,
}

/// The consent form of a flow this browser holds, for its signed-in user.
pub async fn consent_page_get(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<FlowQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(binding) = Cookie::Flow.read(&state, &project.login_id, &headers) else {
        return expired(&look);
    };
    let Ok((flow, csrf)) = state.universal.resume(&project, &q.flow, &binding).await else {
        return expired(&look);
    };
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    match state
        .universal
        .asking(&project, &flow, browser.as_deref())
        .await
    {
        Ok(asking) => consent_form(&look, &flow, &csrf, &asking),
        Err(Error::InvalidToken) => expired(&look),
        Err(e) => unexpected(&look, "consent", e),
    }
}

/// The answer on the consent form: back to the client with a code, or with `access_denied`.
pub async fn consent_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    let (flow, _) = match checked_flow(&state, &project, &look, &headers, &form).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    let allow = form.decision == "allow";
    match state
        .universal
        .consent(&project, &flow, browser.as_deref(), allow)
        .await
    {
        Ok(location) => {
            let mut response = see_other(&look, &location);
            response.headers_mut().append(
                header::SET_COOKIE,
                Cookie::Flow.set(&state, &project.login_id, None),
            );
            response
        }
        Err(Error::InvalidToken) => expired(&look),
        Err(e) => unexpected(&look, "consent", e),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

fn device_form(look: &Look, error: bool) -> Response {
    let status = if error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        "device.html",
        look,
        minijinja::context! {
            title => look.text("device.title"),
            error => error.then(|| look.text("device.invalid")),
        },
        None,
    )
}

/// What a device request's CSRF token is bound to.
fn device_purpose(request_id: &str) -> String {
    format!("device:{request_id}")
}

/// The device page: the code form; with a code, the sign-in first (a flow that comes back
/// here), then the question whether this device may use the account.
pub async fn device_page(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<DeviceQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(typed) = q.user_code.filter(|c| !c.trim().is_empty()) else {
        return device_form(&look, false);
    };
    let (request, client) = match state.provider.device_request(&project, &typed).await {
        Ok(Some(found)) => found,
        Ok(None) => return device_form(&look, true),
        Err(e) => return unexpected(&look, "device", e),
    };
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    let user = match state
        .universal
        .browser_user(&project, browser.as_deref())
        .await
    {
        Ok(user) => user,
        Err(e) => return unexpected(&look, "device", e),
    };
    let (Some(user), Some(browser)) = (user, browser) else {
        // Sign in first; the flow ends back on this page with the code.
        let here = format!(
            "{}/p/{}/device?user_code={}",
            state.public_url.trim_end_matches('/'),
            project.login_id,
            url::form_urlencoded::byte_serialize(typed.as_bytes()).collect::<String>()
        );
        return match state.universal.start_hosted(&project, here).await {
            Ok((flow, csrf, binding)) => {
                let mut page = login_form(&look, &project, &flow, &csrf, "", None, StatusCode::OK);
                page.headers_mut().append(
                    header::SET_COOKIE,
                    Cookie::Flow.set(&state, &project.login_id, Some(&binding)),
                );
                page
            }
            Err(e) => unexpected(&look, "device", e),
        };
    };
    let csrf = state
        .universal
        .page_csrf(&device_purpose(&request.id), &browser);
    let asking = Asking {
        client: client.name,
        user: user.known_as(),
    };
    consent_page(
        &look,
        "device",
        &request.id,
        &csrf,
        Some(&typed),
        &request.scope,
        &asking,
        None,
    )
}

/// The user's answer for a device: approved with this browser's session, or denied.
pub async fn device_submit(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    headers: HeaderMap,
    PageForm(form): PageForm<FlowForm>,
) -> Response {
    if cross_site(&state, &headers) {
        return forbidden(&look);
    }
    let browser = Cookie::Session.read(&state, &project.login_id, &headers);
    let session = match state
        .universal
        .browser_session(&project, browser.as_deref())
        .await
    {
        Ok(Some(session)) => session,
        Ok(None) => return expired(&look),
        Err(e) => return unexpected(&look, "device", e),
    };
    let request = match state
        .provider
        .device_request(&project, &form.user_code)
        .await
    {
        Ok(Some((request, _))) if request.id == form.flow => request,
        Ok(_) => return device_form(&look, true),
        Err(e) => return unexpected(&look, "device", e),
    };
    let bound = browser.as_deref().is_some_and(|b| {
        state
            .universal
            .page_csrf_ok(&device_purpose(&request.id), b, &form.csrf)
    });
    if !bound {
        return forbidden(&look);
    }
    let allow = form.decision == "allow";
    let approved_by = allow.then_some(&session);
    match state
        .provider
        .device_decide(&project, &request, approved_by)
        .await
    {
        Ok(true) if allow => {
            let text = look.text("device.approved");
            message(StatusCode::OK, &look, "device.approved_title", &text, false)
        }
        Ok(true) => {
            let text = look.text("device.denied");
            message(StatusCode::OK, &look, "device.denied_title", &text, false)
        }
        Ok(false) => device_form(&look, true),
        Err(e) => unexpected(&look, "device", e),
    }
}

#[derive(Debug, Deserialize)]
pub struct EndSessionQuery {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the browser's session ends,
/// then back to the client's post-logout URI if it is registered, else our signed-out page.
pub async fn end_session(
    State(state): State<AppState>,
    Hosted { project, look }: Hosted,
    PageQuery(q): PageQuery<EndSessionQuery>,
    headers: HeaderMap,
) -> Response {
    let target = match state
        .provider
        .logout_target(
            &project,
            q.id_token_hint.as_deref(),
            q.client_id.as_deref(),
            q.post_logout_redirect_uri.as_deref(),
            q.state.as_deref(),
        )
        .await
    {
        Ok(target) => target,
        // Not a URI this client registered: signed out all the same, but no redirect there
        // (RP-Initiated Logout §3).
        Err(e) => {
            tracing::info!(error = e.error, reason = %e.description, "post-logout redirect refused");
            None
        }
    };
    signed_out(&state, &look, &project, &headers, target).await
}
