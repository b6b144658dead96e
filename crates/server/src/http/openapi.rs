//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types.

use protekt_api_types as api;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api::{account, auth, management_tokens, mfa, projects, sessions, system, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "Protekt API", description = "Self-hosted authentication server. Every /v1 call except /v1/projects needs the project's API key in X-Api-Key; /v1/projects and /v1/management-tokens need a management token (Authorization: Bearer mt_…)."),
    paths(
        auth::auth_signup, auth::auth_login, auth::auth_logout, auth::auth_verify,
        auth::auth_refresh, auth::auth_revoke,
        account::password_reset_request, account::password_reset_confirm, account::password_change,
        account::email_verify, account::email_verification_send,
        mfa::mfa_enroll, mfa::mfa_verify, mfa::mfa_resend, mfa::mfa_unenroll, mfa::mfa_backup_codes,
        users::users_list, users::user_get, users::user_update, users::user_delete,
        users::user_mfa_unlock,
        sessions::sessions_list, sessions::session_revoke, sessions::sessions_revoke_all,
        projects::projects_list, projects::project_create, projects::project_get, projects::project_update,
        projects::project_delete, projects::api_key_create, projects::api_key_delete,
        projects::signing_key_rotate,
        management_tokens::management_tokens_list, management_tokens::management_token_create,
        management_tokens::management_token_revoke,
        system::health_get, system::ready_get, system::jwks_get, system::openapi_get,
    ),
    components(schemas(api::ErrorCode, api::ErrorBody, api::ErrorDetail)),
    modifiers(&Security),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
