//! JWT signing keys.

use crate::model::{KeyId, ProjectId};

/// A signing key as stored: the private key sealed with the master key (AAD `signing_key:<kid>`).
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub id: KeyId,
    pub project_id: ProjectId,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}
