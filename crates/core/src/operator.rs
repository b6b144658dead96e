//! What the operator does with a management token (the projects API): projects, their API keys
//! and management tokens. Every action is checked against the token's scope and audited with
//! the token as the actor (SECURITY AZ2, AU1, P7).
//!
//! A token limited to one project sees only that project (others are `NotFound`, as if they
//! did not exist) and cannot create projects or manage tokens (`Forbidden`).

use std::sync::Arc;

use crate::audit;
use crate::clock::{Clock, Millis};
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::model::{
    ApiKeyId, AuditKind, KeyId, ManagementToken, ManagementTokenId, Project, ProjectId,
};
use crate::projects::{self, CreatedProject};
use crate::store::Store;

#[derive(Clone)]
pub struct Operator {
    store: Store,
    master: MasterKey,
    clock: Arc<Clock>,
}

/// Refuses a token limited to another project, as if the project did not exist.
fn may_manage(token: &ManagementToken, project_id: &ProjectId) -> Result<()> {
    match &token.project_id {
        Some(scope) if scope != project_id => Err(Error::NotFound),
        _ => Ok(()),
    }
}

/// Creating projects and managing tokens need a token for every project.
fn require_global(token: &ManagementToken) -> Result<()> {
    match token.project_id {
        Some(_) => Err(Error::Forbidden),
        None => Ok(()),
    }
}

impl Operator {
    pub fn new(store: Store, master: MasterKey, clock: Arc<Clock>) -> Self {
        Self {
            store,
            master,
            clock,
        }
    }

    /// Checks a management token: unknown, revoked and expired tokens are `InvalidToken`.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<ManagementToken> {
        projects::authenticate_management(&self.store, token, self.clock.now()).await
    }

    async fn audit(
        &self,
        by: &ManagementToken,
        project_id: Option<&ProjectId>,
        kind: AuditKind,
        subject: &str,
    ) {
        let mut event = match project_id {
            Some(id) => audit::event(id, kind, true, None),
            None => audit::event_global(kind, true),
        };
        event.actor = Some(by.id.to_string());
        event.subject = Some(subject.to_owned());
        audit::record(&self.store, event, self.clock.now()).await
    }

    pub async fn list_projects(&self, by: &ManagementToken) -> Result<Vec<Project>> {
        let all = self.store.projects().list().await?;
        Ok(all
            .into_iter()
            .filter(|p| may_manage(by, &p.id).is_ok())
            .collect())
    }

    pub async fn create_project(
        &self,
        by: &ManagementToken,
        name: &str,
        settings: Option<&serde_json::Value>,
    ) -> Result<CreatedProject> {
        require_global(by)?;
        let created = projects::create_from_request(
            &self.store,
            &self.master,
            name,
            settings,
            self.clock.now(),
        )
        .await?;
        let id = created.project.id.clone();
        self.audit(by, Some(&id), AuditKind::ProjectCreate, &id)
            .await;
        Ok(created)
    }

    pub async fn project(&self, by: &ManagementToken, id: &ProjectId) -> Result<Project> {
        may_manage(by, id)?;
        self.store
            .projects()
            .by_id(id)
            .await?
            .ok_or(Error::NotFound)
    }

    pub async fn update_project(
        &self,
        by: &ManagementToken,
        id: &ProjectId,
        name: Option<&str>,
        settings: Option<&serde_json::Value>,
    ) -> Result<Project> {
        may_manage(by, id)?;
        let project = projects::update(
            &self.store,
            &self.master,
            id,
            name,
            settings,
            self.clock.now(),
        )
        .await?;
        self.audit(by, Some(id), AuditKind::ProjectUpdate, id).await;
        Ok(project)
    }

    pub async fn delete_project(&self, by: &ManagementToken, id: &ProjectId) -> Result<()> {
        may_manage(by, id)?;
        if !self.store.projects().delete(id).await? {
            return Err(Error::NotFound);
        }
        self.audit(by, Some(id), AuditKind::ProjectDelete, id).await;
        Ok(())
    }

    /// Starts signing the project's tokens with a new key, at once on every node (the old key
    /// keeps verifying what it signed). Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self, by: &ManagementToken, id: &ProjectId) -> Result<KeyId> {
        let project = self.project(by, id).await?;
        let kid =
            projects::rotate_keys(&self.store, &self.master, &project, self.clock.now()).await?;
        self.audit(by, Some(id), AuditKind::SigningKeyRotate, &kid)
            .await;
        Ok(kid)
    }

    /// A new API key for a project: (key id, the key), the key shown once.
    pub async fn create_api_key(
        &self,
        by: &ManagementToken,
        id: &ProjectId,
    ) -> Result<(ApiKeyId, String)> {
        may_manage(by, id)?;
        let (key_id, key) = projects::create_api_key(&self.store, id, self.clock.now()).await?;
        self.audit(by, Some(id), AuditKind::ApiKeyCreate, &key_id)
            .await;
        Ok((key_id, key))
    }

    pub async fn revoke_api_key(
        &self,
        by: &ManagementToken,
        id: &ProjectId,
        key_id: &ApiKeyId,
    ) -> Result<()> {
        may_manage(by, id)?;
        if !self
            .store
            .projects()
            .revoke_api_key(id, key_id, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.audit(by, Some(id), AuditKind::ApiKeyRevoke, key_id)
            .await;
        Ok(())
    }

    pub async fn list_tokens(&self, by: &ManagementToken) -> Result<Vec<ManagementToken>> {
        require_global(by)?;
        self.store.management_tokens().list().await
    }

    /// A new management token (shown once), for every project or `project_id`, living
    /// `ttl_ms` (default: [`projects::DEFAULT_MANAGEMENT_TOKEN_TTL_MS`]).
    pub async fn create_token(
        &self,
        by: &ManagementToken,
        name: &str,
        project_id: Option<&ProjectId>,
        ttl_ms: Option<Millis>,
    ) -> Result<(ManagementToken, String)> {
        require_global(by)?;
        let ttl = ttl_ms.unwrap_or(projects::DEFAULT_MANAGEMENT_TOKEN_TTL_MS);
        let (info, token) =
            projects::create_management_token(&self.store, name, project_id, ttl, self.clock.now())
                .await?;
        self.audit(by, None, AuditKind::ManagementTokenCreate, &info.id)
            .await;
        Ok((info, token))
    }

    pub async fn revoke_token(&self, by: &ManagementToken, id: &ManagementTokenId) -> Result<()> {
        require_global(by)?;
        if !self
            .store
            .management_tokens()
            .revoke(id, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        self.audit(by, None, AuditKind::ManagementTokenRevoke, id)
            .await;
        Ok(())
    }
}
