//! Managing a project's users with its API key: list (paged, searchable), get, update, delete.

use base64::Engine;

use crate::clock::Clock;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::model::{AuditKind, Project, User, UserId};
use crate::store::users::{UserChanges, UserSeek};
use crate::store::Store;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

pub struct UserPage {
    pub users: Vec<User>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// What `PATCH /v1/users/{id}` may change.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    /// Merged into the stored metadata at top level; a `null` value removes the key.
    pub metadata: Option<serde_json::Value>,
    pub disabled: Option<bool>,
}

/// Lists users. Without `search`: everyone, oldest first. With `search`: users whose email
/// starts with it (case-insensitively), or whose id starts with it when it starts with `usr_`,
/// ordered by that key. The cursor is opaque and bound to the search it came from.
pub async fn list(
    store: &Store,
    project: &Project,
    limit: Option<i64>,
    cursor: Option<&str>,
    search: Option<&str>,
) -> Result<UserPage> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return Err(Error::invalid(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ))
        }
    };
    let seek = seek_for(search, cursor)?;
    let mut users = store.users().list(&project.id, &seek, limit + 1).await?;
    let has_more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let next_cursor = match (has_more, users.last()) {
        (true, Some(last)) => Some(encode_cursor(&match &seek {
            UserSeek::Created { .. } => Cursor::Created(last.created_at, last.id.to_string()),
            // An email search lists only users with an email.
            UserSeek::EmailPrefix { .. } => Cursor::Key(
                last.email
                    .as_deref()
                    .map(crate::email::key)
                    .unwrap_or_default(),
            ),
            UserSeek::IdPrefix { .. } => Cursor::Key(last.id.to_string()),
        })),
        _ => None,
    };
    Ok(UserPage {
        users,
        next_cursor,
        has_more,
    })
}

/// Where a listing starts: after the cursor, in the order the search implies (creation
/// without one; the email or the id with one). A cursor only fits the listing it came from.
fn seek_for(search: Option<&str>, cursor: Option<&str>) -> Result<UserSeek> {
    let search = search
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 254) {
        return Err(Error::invalid("search", "search is too long"));
    }
    let wrong_cursor = || Error::not_allowed("cursor", "the cursor belongs to another listing");
    let after = cursor.map(decode_cursor).transpose()?;
    Ok(match (search, after) {
        (None, None) => UserSeek::Created { after: None },
        (None, Some(Cursor::Created(t, id))) => UserSeek::Created {
            after: Some((t, id)),
        },
        (None, Some(Cursor::Key(_))) | (Some(_), Some(Cursor::Created(..))) => {
            return Err(wrong_cursor())
        }
        (Some(prefix), after) => {
            let after = after.map(|c| match c {
                Cursor::Key(k) => k,
                Cursor::Created(..) => String::new(),
            });
            if prefix.starts_with("usr_") {
                UserSeek::IdPrefix { prefix, after }
            } else {
                UserSeek::EmailPrefix { prefix, after }
            }
        }
    })
}

enum Cursor {
    Created(i64, String),
    Key(String),
}

fn encode_cursor(c: &Cursor) -> String {
    let json = match c {
        Cursor::Created(t, id) => serde_json::json!({"t": t, "i": id}),
        Cursor::Key(k) => serde_json::json!({"k": k}),
    };
    B64URL.encode(json.to_string())
}

fn decode_cursor(text: &str) -> Result<Cursor> {
    let bad = || Error::not_allowed("cursor", "the cursor is not valid");
    if text.len() > 1024 {
        return Err(bad());
    }
    let bytes = B64URL.decode(text).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if let (Some(t), Some(i)) = (v["t"].as_i64(), v["i"].as_str()) {
        return Ok(Cursor::Created(t, i.to_owned()));
    }
    v["k"]
        .as_str()
        .map(|k| Cursor::Key(k.to_owned()))
        .ok_or_else(bad)
}

pub async fn get(store: &Store, project: &Project, user_id: &UserId) -> Result<User> {
    store
        .users()
        .by_id(&project.id, user_id)
        .await?
        .ok_or(Error::NotFound)
}

/// Applies an update. A new email must be unique and becomes unverified; `disabled: true` ends
/// every session at once.
pub async fn update(
    store: &Store,
    clock: &Clock,
    project: &Project,
    user_id: &UserId,
    update: UserUpdate,
) -> Result<User> {
    let email = update.email.as_deref().map(Email::parse).transpose()?;
    if email.is_none() && update.metadata.is_none() && update.disabled.is_none() {
        return get(store, project, user_id).await;
    }
    // Optimistic concurrency: re-read and retry if another update landed in between.
    for _ in 0..5 {
        let current = get(store, project, user_id).await?;
        let mut changes = UserChanges {
            disabled: update.disabled,
            ..Default::default()
        };
        if let Some(e) = &email {
            if Some(e.normalized()) != current.email.as_deref().map(crate::email::key).as_deref() {
                changes.email_verified = Some(false);
            }
            changes.email = Some((e.as_str().to_owned(), e.normalized().to_owned()));
        }
        if let Some(patch) = &update.metadata {
            changes.metadata = Some(crate::metadata::merge(&current.metadata, patch)?);
        }
        let now = clock.now().max(current.updated_at + 1);
        if store
            .users()
            .update(&project.id, user_id, current.updated_at, &changes, now)
            .await?
        {
            audited(store, project, AuditKind::UserUpdate, user_id, now).await;
            return get(store, project, user_id).await;
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "user {user_id} kept changing during the update"
    )))
}

pub async fn delete(
    store: &Store,
    clock: &Clock,
    project: &Project,
    user_id: &UserId,
) -> Result<()> {
    if !store.users().delete(&project.id, user_id).await? {
        return Err(Error::NotFound);
    }
    audited(store, project, AuditKind::UserDelete, user_id, clock.now()).await;
    Ok(())
}

/// Records a change made with the project's API key (SECURITY AU1).
async fn audited(store: &Store, project: &Project, kind: AuditKind, user_id: &UserId, now: i64) {
    let mut event = crate::audit::event(&project.id, kind, true, Some(user_id));
    event.actor = Some("api_key".into());
    crate::audit::record(store, event, now).await;
}
