//! Users.

use crate::model::{FactorKind, Millis};

/// A user of a project. The password hash is not part of it: only login reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub project_id: String,
    pub email: String,
    pub email_verified: bool,
    /// Always a JSON object.
    pub metadata: serde_json::Value,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_login_at: Option<Millis>,
    /// The kinds of the user's confirmed second factors.
    pub mfa_methods: Vec<FactorKind>,
}
