//! Users.

use crate::model::{FactorKind, Millis, ProjectId, UserId};

/// A user of a project. The password hash is not part of it: only login reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub project_id: ProjectId,
    /// `None` only for a user who signed up with a phone number.
    pub email: Option<String>,
    pub email_verified: bool,
    /// E.164, unique in the project.
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// Always a JSON object.
    pub metadata: serde_json::Value,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_login_at: Option<Millis>,
    /// The kinds of the user's confirmed second factors.
    pub mfa_methods: Vec<FactorKind>,
}

impl User {
    /// How the user knows themselves: their email, else their phone number.
    pub fn known_as(&self) -> String {
        self.email
            .clone()
            .or(self.phone.clone())
            .unwrap_or_default()
    }
}
