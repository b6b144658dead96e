//! Projects (tenants) and their API keys. A project has a public Login ID (`lp_…`), settings,
//! secret API keys (`pk_live_…`, stored as SHA-256, shown once) and its own signing keys.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::clock::Millis;
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::ids::{new_id, new_secret, secret_hash};
use crate::store::Store;
use crate::tokens::{self, SigningAlg};

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub login_id: String,
    pub name: String,
    pub settings: ProjectSettings,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Per-project settings, stored as JSON. Unknown or missing fields take their defaults, so
/// adding a setting needs no migration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectSettings {
    /// Access-token lifetime in seconds (default 15 minutes).
    pub access_token_ttl: u64,
    /// Absolute session (and refresh-token) lifetime in seconds (default 30 days).
    pub session_lifetime: u64,
    /// How long a rotated refresh token may be presented again and get the same successor
    /// (client retries), in seconds. After it, reuse ends the session (RFC 9700 §4.14).
    pub refresh_grace: u64,
    /// Minimum password length in characters (NIST: at least 8).
    pub password_min_length: usize,
    /// Algorithm for new signing keys: ES256 (default), EdDSA or RS256.
    pub signing_alg: SigningAlg,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: 900,
            session_lifetime: 30 * 24 * 3600,
            refresh_grace: 10,
            password_min_length: 8,
            signing_alg: SigningAlg::Es256,
        }
    }
}

/// What `create` hands back once: the only time the API key is visible.
#[derive(Debug, Clone)]
pub struct CreatedProject {
    pub project: Project,
    pub api_key: String,
}

/// Creates a project with one API key and one signing key.
pub async fn create(
    store: &Store,
    master: &MasterKey,
    name: &str,
    settings: ProjectSettings,
    now: Millis,
) -> Result<CreatedProject> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::invalid("name", "name must be 1 to 100 characters"));
    }
    let project = Project {
        id: new_id("prj"),
        login_id: new_id("lp"),
        name: name.to_owned(),
        settings,
        created_at: now,
        updated_at: now,
    };
    let api_key = new_secret("pk_live_");
    let key = tokens::generate_signing_key(master, &project.id, project.settings.signing_alg, now)?;
    store
        .insert_project(
            &project,
            &new_id("key"),
            &secret_hash(&api_key),
            &api_key[..12],
            &key,
        )
        .await?;
    Ok(CreatedProject { project, api_key })
}

/// The project an API key belongs to; `InvalidApiKey` for a missing, unknown or revoked key.
pub async fn authenticate(store: &Store, api_key: Option<&str>) -> Result<Arc<Project>> {
    let key = api_key
        .filter(|k| k.len() <= 200)
        .ok_or(Error::InvalidApiKey)?;
    store
        .project_by_api_key(&secret_hash(key))
        .await?
        .ok_or(Error::InvalidApiKey)
}

/// Rolls the project's signing key: new tokens use a fresh key, the old one stays in the JWKS so
/// tokens it signed keep verifying until they expire.
pub async fn rotate_keys(
    store: &Store,
    master: &MasterKey,
    project: &Project,
    now: Millis,
) -> Result<String> {
    let key = tokens::generate_signing_key(master, &project.id, project.settings.signing_alg, now)?;
    let kid = key.id.clone();
    store.rotate_signing_key(&project.id, &key, now).await?;
    Ok(kid)
}
