//! The OpenID Connect provider's machine endpoints under a project's issuer
//! (`/p/{loginId}`): discovery, token, userinfo, revocation, introspection and device
//! authorization. Their wire format is OAuth's (form bodies, RFC 6749 §5.2 errors), not the
//! `/v1` API's, so they live here and in the discovery document rather than in `/openapi.json`.
//! The rules are `protekt_core::oauth`; the browser's side (authorize, consent, the device
//! page, logout) is `pages::provider`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use protekt_core::model::Project;
use protekt_core::oauth::{ClientAuth, OAuthError, TokenParams};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/p/{login_id}/.well-known/openid-configuration",
            get(discovery),
        )
        .route(
            "/p/{login_id}/.well-known/oauth-authorization-server",
            get(discovery),
        )
        // RFC 8414 §3.1: the well-known segment goes before the issuer's path.
        .route(
            "/.well-known/oauth-authorization-server/p/{login_id}",
            get(discovery),
        )
        .route("/p/{login_id}/oauth2/token", post(token))
        .route(
            "/p/{login_id}/oauth2/userinfo",
            get(userinfo).post(userinfo),
        )
        .route("/p/{login_id}/oauth2/revoke", post(revoke))
        .route("/p/{login_id}/oauth2/introspect", post(introspect))
        .route(
            "/p/{login_id}/oauth2/device_authorization",
            post(device_authorization),
        )
}

/// An OAuth error as JSON, never cached; `invalid_client` after Basic also says how to
/// authenticate (RFC 6749 §5.2).
struct Failure {
    error: OAuthError,
    basic: bool,
}

impl From<OAuthError> for Failure {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            basic: false,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({
            "error": self.error.error,
            "error_description": self.error.description,
        });
        let mut response = no_store(Json(body).into_response());
        *response.status_mut() = status;
        // A client that tried Basic is told how to authenticate (RFC 6749 §5.2); a bad
        // access token at userinfo the Bearer way (RFC 6750 §3).
        let challenge = match self.error.error {
            "invalid_client" if self.basic => Some("Basic realm=\"protekt\"".to_owned()),
            "invalid_token" | "insufficient_scope" => {
                Some(format!("Bearer error=\"{}\"", self.error.error))
            }
            _ => None,
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn project(state: &AppState, login_id: &str) -> Result<Project, Failure> {
    protekt_core::projects::by_login_id(&state.store, login_id)
        .await
        .map_err(|_| {
            let mut e = OAuthError::invalid_request("no such issuer");
            e.status = 404;
            e.into()
        })
}

/// A form body (`application/x-www-form-urlencoded`); a parameter sent twice is refused
/// (RFC 6749 §3.1, §3.2).
fn form(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>, Failure> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form_type {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )
        .into());
    }
    let mut fields = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if fields.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::invalid_request(format!("{k} was sent more than once")).into());
        }
    }
    Ok(fields)
}

/// The client authentication a request carries: HTTP Basic (id and secret form-encoded,
/// RFC 6749 §2.3.1) and the form's fields.
fn client_auth(
    headers: &HeaderMap,
    fields: &mut HashMap<String, String>,
) -> Result<ClientAuth, Failure> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(value) => {
            let bad = || Failure {
                error: OAuthError::invalid_client("malformed Basic credentials"),
                basic: true,
            };
            let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(bad());
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("v={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        }
        None => None,
    };
    Ok(ClientAuth {
        basic,
        client_id: fields.remove("client_id"),
        client_secret: fields.remove("client_secret"),
        assertion_type: fields.remove("client_assertion_type"),
        assertion: fields.remove("client_assertion"),
    })
}

/// Marks an `invalid_client` answer as one to a Basic attempt.
fn with_basic(auth: &ClientAuth) -> impl Fn(OAuthError) -> Failure + '_ {
    move |error| Failure {
        basic: auth.basic.is_some() && error.error == "invalid_client",
        error,
    }
}

async fn discovery(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
) -> Result<Response, Failure> {
    let project = project(&state, &login_id).await?;
    let metadata = state
        .provider
        .metadata(&project)
        .await
        .map_err(OAuthError::from)?;
    let mut response = Json(metadata).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}

/// A client's form request to one of the issuer's endpoints: the project, the client's
/// authentication, and the rest of the form.
struct ClientRequest {
    project: Project,
    auth: ClientAuth,
    fields: HashMap<String, String>,
}

impl FromRequest<AppState> for ClientRequest {
    type Rejection = Failure;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Failure> {
        let (mut parts, body) = req.into_parts();
        let Path(login_id) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| OAuthError::invalid_request("no such issuer"))?;
        let project = project(state, &login_id).await?;
        let body = Bytes::from_request(
            axum::extract::Request::from_parts(parts.clone(), body),
            state,
        )
        .await
        .map_err(|_| OAuthError::invalid_request("the body cannot be read"))?;
        let mut fields = form(&parts.headers, &body)?;
        let auth = client_auth(&parts.headers, &mut fields)?;
        Ok(Self {
            project,
            auth,
            fields,
        })
    }
}

impl ClientRequest {
    /// The `token` field (revocation, introspection).
    fn token(&mut self) -> Result<String, Failure> {
        self.fields
            .remove("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required").into())
    }
}

async fn token(State(state): State<AppState>, mut r: ClientRequest) -> Result<Response, Failure> {
    let mut take = |k: &str| r.fields.remove(k);
    let params = TokenParams {
        grant_type: take("grant_type"),
        code: take("code"),
        redirect_uri: take("redirect_uri"),
        code_verifier: take("code_verifier"),
        refresh_token: take("refresh_token"),
        scope: take("scope"),
        device_code: take("device_code"),
    };
    let answer = state
        .provider
        .token(&r.project, &r.auth, params)
        .await
        .map_err(with_basic(&r.auth))?;
    Ok(no_store(Json(answer).into_response()))
}

async fn userinfo(
    State(state): State<AppState>,
    Path(login_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let project = project(&state, &login_id).await?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or_else(|| OAuthError::invalid_token("a Bearer access token is required"))?;
    let claims = state.provider.userinfo(&project, &token).await?;
    Ok(no_store(Json(claims).into_response()))
}

async fn revoke(State(state): State<AppState>, mut r: ClientRequest) -> Result<Response, Failure> {
    let token = r.token()?;
    state
        .provider
        .revoke(&r.project, &r.auth, &token)
        .await
        .map_err(with_basic(&r.auth))?;
    Ok(no_store(StatusCode::OK.into_response()))
}

async fn introspect(
    State(state): State<AppState>,
    mut r: ClientRequest,
) -> Result<Response, Failure> {
    let token = r.token()?;
    let answer = state
        .provider
        .introspect(&r.project, &r.auth, &token)
        .await
        .map_err(with_basic(&r.auth))?;
    Ok(no_store(Json(answer).into_response()))
}

async fn device_authorization(
    State(state): State<AppState>,
    r: ClientRequest,
) -> Result<Response, Failure> {
    let scope = r.fields.get("scope").map(String::as_str);
    let answer = state
        .provider
        .device_authorization(&r.project, &r.auth, scope)
        .await
        .map_err(with_basic(&r.auth))?;
    Ok(no_store(Json(answer).into_response()))
}
