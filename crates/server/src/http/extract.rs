//! Extractors: the JSON body (with our error codes), the project from `X-Api-Key`, the bearer
//! token and where the request came from.

use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequestParts, Request,
};
use axum::http::{header, request::Parts};
use protekt_api_types::ErrorCode;
use protekt_core::auth::ClientInfo;
use protekt_core::model::{ManagementToken, Project};
use protekt_core::projects;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;

use super::error::ApiError;
use crate::app::AppState;

/// A JSON body parsed strictly: the content type must be JSON, unknown fields, wrong types and
/// duplicate keys are refused (SECURITY I1), and the error names the field at fault.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            } else {
                ApiError::new(ErrorCode::InvalidRequest, "cannot read the request body")
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a request body, which is always a JSON object (serde would also build a struct from
/// an array of its fields in order).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.trim_ascii_start().first() {
        Some(b'{') => {}
        None => return Err(ApiError::invalid("body", "the request body is empty")),
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() => {
            return Err(ApiError::invalid(
                "body",
                "the request body is not valid JSON",
            ))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "body",
                "the request body must be a JSON object",
            ))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid("body", "the request body is not valid JSON");
        }
        let text = inner.to_string();
        let mut field = e.path().to_string();
        if field == "." || field.is_empty() {
            field = between_backticks(&text).unwrap_or_else(|| "body".to_owned());
        }
        let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
        ApiError::invalid(field.clone(), format!("{field}: {message}"))
    })?;
    de.end()
        .map_err(|_| ApiError::invalid("body", "trailing characters after the JSON body"))?;
    Ok(value)
}

fn between_backticks(s: &str) -> Option<String> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(s[start..start + len].to_owned())
}

/// The project whose API key (`X-Api-Key`) the request carries.
pub struct ApiProject(pub Arc<Project>);

impl FromRequestParts<AppState> for ApiProject {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let project = projects::authenticate(&state.store, key).await?;
        // Clients that know their Login ID (the SDK) send it; a key of another project is refused.
        if let Some(login_id) = parts.headers.get("x-login-id") {
            if login_id.as_bytes() != project.login_id.as_bytes() {
                return Err(ApiError::new(
                    ErrorCode::InvalidApiKey,
                    "the API key does not belong to this Login ID",
                ));
            }
        }
        Ok(ApiProject(project))
    }
}

/// The user's access token from `Authorization: Bearer …` (the scheme in any case, RFC 9110
/// §11.1). As `Option<Bearer>`, a route may take it or not.
pub struct Bearer(pub String);

fn bearer_token(parts: &Parts) -> Option<Bearer> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Bearer(token.to_owned()))
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        bearer_token(parts).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidToken,
                "an access token is required (Authorization: Bearer …)",
            )
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Bearer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(bearer_token(parts))
    }
}

/// A live management token (`Authorization: Bearer mt_…`); what it may do is checked by
/// `protekt_core::operator`.
pub struct Management(pub ManagementToken);

impl FromRequestParts<AppState> for Management {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).map(|b| b.0);
        match state.operator.authenticate(token.as_deref()).await {
            Ok(found) => Ok(Management(found)),
            Err(protekt_core::Error::InvalidToken) => Err(ApiError::new(
                ErrorCode::InvalidToken,
                "a valid management token (mt_…) is required",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// Where the request came from (`X-Client-Ip` from the backend, else the peer) and the user
/// agent, recorded on new sessions and used for per-address quotas.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // A backend (it holds the API key) may tell us its end user's address.
        let end_user_ip = parts
            .headers
            .get("x-client-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
            .map(|ip| ip.to_string());
        let ip_is_end_user = end_user_ip.is_some();
        let ip = end_user_ip.or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(Client(ClientInfo {
            ip,
            ip_is_end_user,
            user_agent,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protekt_api_types::LoginRequest;

    #[test]
    fn arrays_where_strings_belong_are_refused_naming_the_field_i1() {
        let e =
            parse_json::<LoginRequest>(br#"{"email":["a@x.com","b@y.com"],"password":"x"}"#).err();
        assert_eq!(e.as_ref().and_then(|e| e.field.as_deref()), Some("email"));
    }

    #[test]
    fn duplicate_keys_are_refused_i1() {
        let e =
            parse_json::<LoginRequest>(br#"{"email":"a@x.com","email":"b@y.com","password":"x"}"#)
                .err();
        assert!(e.is_some());
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let e = parse_json::<LoginRequest>(br#"{"email":"a@x.com"}"#).err();
        assert_eq!(
            e.as_ref().and_then(|e| e.field.as_deref()),
            Some("password")
        );
        let e =
            parse_json::<LoginRequest>(br#"{"email":"a@x.com","password":"x","admin":true}"#).err();
        assert_eq!(e.as_ref().and_then(|e| e.field.as_deref()), Some("admin"));
        let e = parse_json::<LoginRequest>(br#"{"email":"#).err();
        assert_eq!(e.as_ref().and_then(|e| e.field.as_deref()), Some("body"));
    }
}
