//! The operator's projects API: projects, API keys, management tokens.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A project as the projects API shows it. Secrets in `settings` (the SMTP password) are never
/// returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// `prj_…`
    pub id: String,
    /// `lp_…`, public.
    pub login_id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectCreateRequest {
    pub name: String,
    /// Settings to start with (the rest take their defaults); see `Project.settings`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectUpdateRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// Merged into the current settings at top level; validated as a whole.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
}

/// A project just created, with its first API key (shown only this once).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectCreated {
    pub project: Project,
    pub api_key: String,
}

/// A new API key (shown only this once).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    /// `key_…`, to revoke it later.
    pub id: String,
    pub api_key: String,
}

/// The signing key a rotation made current.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyRotated {
    /// The new key's `kid` (`kid_…`): tokens issued from now on carry it.
    pub kid: String,
}

/// A management token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementToken {
    /// `mgt_…`, to revoke it.
    pub id: String,
    pub name: String,
    /// The one project it may manage; null: every project.
    pub project_id: Option<String>,
    pub created_at: String,
    /// Null only for tokens made before tokens expired.
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementTokenList {
    pub management_tokens: Vec<ManagementToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagementTokenCreateRequest {
    pub name: String,
    /// Limit the token to one project (`prj_…`); omitted: every project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Lifetime in seconds: 60 to 31622400 (366 days); default 90 days.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31622400)]
    pub expires_in: Option<u64>,
}

/// A new management token (`mt_…`), shown only this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagementTokenCreated {
    pub token: String,
    pub management_token: ManagementToken,
}
