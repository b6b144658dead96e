//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types.

use protekt_api_types as api;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder, Responses};
use utoipa::{Modify, OpenApi};

use super::api::{
    account, auth, clients, management_tokens, mfa, passwordless, projects, sessions, system, users,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Protekt API", description = "Self-hosted authentication server. Every /v1 call except /v1/projects needs the project's API key in X-Api-Key; /v1/projects and /v1/management-tokens need a management token (Authorization: Bearer mt_…)."),
    paths(
        auth::auth_signup, auth::auth_login, auth::auth_logout, auth::auth_verify,
        auth::auth_refresh, auth::auth_revoke, auth::auth_exchange,
        passwordless::magic_link_send, passwordless::magic_link_verify, passwordless::otp_send,
        passwordless::otp_verify,
        account::password_reset_request, account::password_reset_confirm, account::password_change,
        account::email_verify, account::email_verification_send,
        mfa::mfa_enroll, mfa::mfa_verify, mfa::mfa_resend, mfa::mfa_unenroll, mfa::mfa_backup_codes,
        users::users_list, users::user_get, users::user_update, users::user_delete,
        users::user_mfa_unlock,
        sessions::sessions_list, sessions::session_revoke, sessions::sessions_revoke_all,
        projects::projects_list, projects::project_create, projects::project_get, projects::project_update,
        projects::project_delete, projects::api_key_create, projects::api_key_delete,
        projects::signing_key_rotate,
        clients::client_create, clients::clients_list, clients::client_get, clients::client_delete,
        clients::client_rotate_secret, clients::grants_list, clients::grant_revoke,
        management_tokens::management_tokens_list, management_tokens::management_token_create,
        management_tokens::management_token_revoke,
        system::health_get, system::ready_get, system::jwks_get, system::openapi_get,
    ),
    components(schemas(api::ErrorCode, api::ErrorBody, api::ErrorDetail)),
    modifiers(&Security, &SharedErrors, &Links),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A user's access token (`at+jwt`)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "managementToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mt_…")
                    .description(Some(
                        "An operator's management token (`protekt token create`), for the \
                         projects and management-token APIs.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The error answers an operation gets from the layers in front of its handler: the credential
/// extractors, the JSON body parser, and the path and query parsers. They are added here from
/// what the operation declares, so no route can forget one; each handler's annotation lists only
/// the errors of its own rules.
struct SharedErrors;

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use api::ErrorCode::*;
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let schemes = security_schemes(operation);
                let has = |scheme: &str| schemes.iter().any(|s| s == scheme);
                let parameters = operation.parameters.as_deref().unwrap_or_default();
                let in_path = parameters
                    .iter()
                    .any(|p| p.parameter_in == ParameterIn::Path);
                let mut shared = Vec::new();
                if has("apiKey") {
                    shared.push(InvalidApiKey);
                }
                if has("bearer") || has("managementToken") {
                    shared.extend([InvalidToken, TokenExpired]);
                }
                if has("managementToken") {
                    shared.push(Forbidden);
                }
                if operation.request_body.is_some() {
                    shared.extend([InvalidRequest, PayloadTooLarge, UnsupportedMediaType]);
                } else if !parameters.is_empty() {
                    shared.push(InvalidRequest);
                }
                if in_path {
                    shared.push(NotFound);
                }
                for code in shared {
                    add_error(&mut operation.responses, code);
                }
            }
        }
    }
}

/// The security schemes an operation accepts, by name.
fn security_schemes(operation: &Operation) -> Vec<String> {
    let requirements = operation.security.as_deref().unwrap_or_default();
    let mut names = Vec::new();
    for requirement in requirements {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(requirement) {
            names.extend(map.keys().cloned());
        }
    }
    names
}

/// Declares that the operation can answer `code`: adds its status with the error body, or names
/// the code in the status already declared.
fn add_error(responses: &mut Responses, code: api::ErrorCode) {
    let status = code.http_status().to_string();
    let entry = responses.responses.entry(status).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .content(
                    "application/json",
                    Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
                )
                .build(),
        )
    });
    if let RefOr::T(response) = entry {
        let mentioned = response
            .description
            .split([',', ' '])
            .any(|word| word == code.as_str());
        if !mentioned {
            if !response.description.is_empty() {
                response.description.push_str(", ");
            }
            response.description.push_str(code.as_str());
        }
    }
}

/// OpenAPI links: where the tokens of one answer can be used next (clients and stateful fuzzers
/// follow them).
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let token_links = [
            (
                "verify",
                "auth_verify",
                serde_json::json!({"token": "$response.body#/accessToken"}),
            ),
            (
                "refresh",
                "auth_refresh",
                serde_json::json!({"refreshToken": "$response.body#/refreshToken"}),
            ),
            (
                "revoke",
                "auth_revoke",
                serde_json::json!({"token": "$response.body#/refreshToken"}),
            ),
        ];
        for (path, status) in [("/v1/auth/signup", "201"), ("/v1/auth/login", "200")] {
            let Some(RefOr::T(response)) = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .and_then(|operation| operation.responses.responses.get_mut(status))
            else {
                continue;
            };
            for (name, operation_id, body) in &token_links {
                let link = LinkBuilder::new()
                    .operation_id(*operation_id)
                    .request_body(Some(body.clone()))
                    .build();
                response.links.insert((*name).to_owned(), RefOr::T(link));
            }
        }
    }
}

/// The document as served. utoipa 5.5 writes a link's fields in snake_case (`operation_id`,
/// `request_body`); OpenAPI spells them `operationId` and `requestBody`, so they are renamed here.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let responses = operation
            .get_mut("responses")
            .and_then(|r| r.as_object_mut())
            .into_iter();
        for response in responses.flat_map(|r| r.values_mut()) {
            let links = response.get_mut("links").and_then(|l| l.as_object_mut());
            for link in links.into_iter().flat_map(|l| l.values_mut()) {
                let Some(link) = link.as_object_mut() else {
                    continue;
                };
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_owned(), value);
                    }
                }
            }
        }
    }
    doc
}
