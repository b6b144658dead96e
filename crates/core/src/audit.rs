//! Writing audit events (SECURITY AU1). A failed write is logged, never turned into a failed
//! request: the action itself already happened.

use crate::model::{AuditEvent, AuditKind, ProjectId};
use crate::store::Store;

pub async fn record(store: &Store, event: AuditEvent, now: crate::clock::Millis) {
    if let Err(e) = store.ops().record_event(&event, now).await {
        tracing::error!(error = ?e, kind = event.kind.as_str(), "cannot write audit event");
    }
}

/// The common shape: `kind` by `actor` about `subject`, success or failure.
pub fn event(
    project_id: &ProjectId,
    kind: AuditKind,
    ok: bool,
    subject: Option<&str>,
) -> AuditEvent {
    AuditEvent {
        project_id: Some(project_id.clone()),
        kind,
        result: if ok { "success" } else { "failure" },
        actor: subject.map(str::to_owned),
        subject: subject.map(str::to_owned),
        ip: None,
        user_agent: None,
        detail: serde_json::json!({}),
    }
}

/// An event of the operator's, not of one project (management tokens).
pub fn event_global(kind: AuditKind, ok: bool) -> AuditEvent {
    AuditEvent {
        project_id: None,
        kind,
        result: if ok { "success" } else { "failure" },
        actor: None,
        subject: None,
        ip: None,
        user_agent: None,
        detail: serde_json::json!({}),
    }
}
