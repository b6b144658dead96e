//! The HTTP layer: routes per capability, merged here, with the layers every request passes:
//! a body limit, panic catching (a panic answers a generic 500 JSON, never a dropped
//! connection), request tracing (method and path only: query strings and bodies can carry
//! secrets), JSON answers for unknown routes and methods, `Cache-Control: no-store` on every
//! answer that does not set its own (answers carry tokens and user data; RFC 6749 §5.1), and
//! HSTS when the server is reached over https (SECURITY U4).

pub mod api;
pub mod error;
pub mod extract;
pub mod oauth;
pub mod openapi;
pub mod pages;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use protekt_api_types::ErrorCode;
use protekt_core::clock::rfc3339;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use error::ApiError;
use protekt_core::model::User;

/// Largest accepted request body. Metadata may be 16 KiB; nothing needs more than this.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let hsts = state.public_url.starts_with("https://");
    Router::new()
        .merge(api::auth::router())
        .merge(api::account::router())
        .merge(api::users::router())
        .merge(api::sessions::router())
        .merge(api::mfa::router())
        .merge(api::passwordless::router())
        .merge(api::projects::router())
        .merge(api::clients::router())
        .merge(api::management_tokens::router())
        .merge(pages::router())
        .merge(oauth::router())
        .merge(api::system::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(move |req, next| {
            response_headers(req, next, hsts)
        }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::new(ErrorCode::InternalError, "an internal error occurred").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// Headers every answer carries unless its handler chose otherwise.
async fn response_headers(req: axum::extract::Request, next: Next, hsts: bool) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// No such route: a page under the hosted pages' `/p/`, JSON elsewhere.
async fn not_found(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    if uri.path().starts_with("/p/") {
        return pages::failure_page(
            &uri,
            &headers,
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    ApiError::new(ErrorCode::NotFound, "no such route").into_response()
}

async fn method_not_allowed(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    if uri.path().starts_with("/p/") {
        return pages::failure_page(
            &uri,
            &headers,
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "not_found",
        );
    }
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    )
    .into_response()
}

/// The answer of a sign-up or sign-in: the user, and the session's tokens if one started.
pub fn auth_response(
    user: &User,
    tokens: Option<protekt_core::auth::Tokens>,
) -> protekt_api_types::AuthResponse {
    let (access_token, refresh_token, expires_in) = match tokens {
        Some(t) => (
            Some(t.access_token),
            Some(t.refresh_token),
            Some(t.expires_in),
        ),
        None => (None, None, None),
    };
    protekt_api_types::AuthResponse {
        user: user_json(user),
        access_token,
        refresh_token,
        expires_in,
    }
}

/// The wire form of a user.
/// The answer of a finished first factor: a session, or 401 `mfa_required` with the token for
/// `POST /v1/mfa/verify`.
pub(crate) fn signed_in(
    outcome: protekt_core::signin::SignInOutcome,
) -> error::ApiResult<axum::Json<protekt_api_types::AuthResponse>> {
    use protekt_core::signin::SignInOutcome;
    match outcome {
        SignInOutcome::Session(user, tokens) => Ok(axum::Json(auth_response(&user, Some(tokens)))),
        SignInOutcome::MfaRequired { mfa_token } => {
            Err(protekt_core::Error::MfaRequired { mfa_token }.into())
        }
    }
}

pub fn user_json(user: &User) -> protekt_api_types::User {
    protekt_api_types::User {
        id: user.id.to_string(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        phone: user.phone.clone(),
        phone_verified: user.phone_verified,
        metadata: user.metadata.clone(),
        disabled: user.disabled,
        created_at: rfc3339(user.created_at),
        updated_at: rfc3339(user.updated_at),
        last_login_at: user.last_login_at.map(rfc3339),
        mfa_methods: user
            .mfa_methods
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
    }
}
