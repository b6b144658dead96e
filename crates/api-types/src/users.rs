//! Managing a project's users with its API key.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::User;

/// A page of users.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub users: Vec<User>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    pub user: User,
}

/// A partial update of a user. `metadata` is merged into the stored object at top level; a key
/// set to `null` is removed. A new `email` must be unused and becomes unverified.
/// `disabled: true` ends every session of the user at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserUpdateRequest {
    #[serde(default)]
    #[schema(format = Email, max_length = 254, pattern = r"\S", example = "ada@example.com")]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub disabled: Option<bool>,
}
