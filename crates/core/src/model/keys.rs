//! JWT signing keys.

/// A signing key as stored: the private key sealed with the master key (AAD `signing_key:<kid>`).
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub id: String,
    pub project_id: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}
