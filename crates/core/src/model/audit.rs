//! Audit events (SECURITY AU1).

use crate::model::Millis;

/// A security-relevant event (SECURITY AU1). `detail` must never hold a secret.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub project_id: Option<String>,
    pub kind: &'static str,
    /// "success" or "failure".
    pub result: &'static str,
    /// Who acted: a user id, "api_key" or "management".
    pub actor: Option<String>,
    /// Whom it concerns (usually a user id).
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub kind: String,
    pub result: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub created_at: Millis,
    pub detail: String,
}
