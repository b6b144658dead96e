//! OAuth clients of a project (Protekt as an OpenID Connect provider), managed with a
//! management token; and the consents a user gave third-party clients.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    /// Can keep a secret (a backend).
    Confidential,
    /// Cannot (a SPA, a native or CLI app): PKCE only.
    Public,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientCreateRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S", example = "Grafana")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ClientType,
    /// Matched by exact string; `http://127.0.0.1/…` or `http://[::1]/…` match any port
    /// (RFC 8252). https, http on loopback, or a private-use scheme (`com.example.app:/cb`).
    #[serde(default)]
    #[schema(max_items = 20, example = json!(["https://grafana.example.com/login/generic_oauth"]))]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default `["authorization_code", "refresh_token"]`. Also `client_credentials` and
    /// `urn:ietf:params:oauth:grant-type:device_code`; no implicit, no password grant.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Default `["openid", "profile", "email", "phone", "offline_access"]`; custom scopes too.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub scopes: Option<Vec<String>>,
    /// First-party clients (your own apps) are never asked for the user's consent.
    #[serde(default)]
    pub first_party: bool,
    /// `client_secret_basic` (default for confidential; `client_secret_post` works as well),
    /// `client_secret_post`, `private_key_jwt` (with `jwks`), or `none` (public).
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// The public keys of a `private_key_jwt` client: a JWK Set.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub client_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ClientType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A client just created; `clientSecret` (a secret client's) is shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCreated {
    pub client: Client,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClientList {
    pub clients: Vec<Client>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientSecretRotateRequest {
    /// How long the old secret keeps working, in seconds (default 86400, at most 30 days).
    #[serde(default, deserialize_with = "crate::json::opt_whole")]
    #[schema(minimum = 0, maximum = 2592000)]
    pub overlap_seconds: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretRotated {
    /// The new secret, shown only this once.
    pub client_secret: String,
    /// Until when the previous secret works.
    #[schema(format = DateTime)]
    pub previous_secret_expires_at: String,
}

/// A user's consent to a third-party client.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub client_id: String,
    /// The client's name.
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantList {
    pub grants: Vec<Grant>,
}

/// The client a client-credentials (M2M) token was issued to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedClient {
    pub client_id: String,
    pub name: String,
}
