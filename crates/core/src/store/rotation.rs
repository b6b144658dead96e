//! Group commit for refresh-token rotation, the hottest write. Each rotation is queued; one task
//! takes everything waiting and rotates it in one transaction, one statement per step (mark the
//! parents, insert the successors, touch the sessions). Under load N rotations cost one commit
//! and a handful of statements instead of N commits and 5N statements queued one by one for the
//! writer connection; at low load a batch is a single rotation and nothing waits for company.
//!
//! The conditional update stays the lock (SECURITY R3): a parent is marked only where
//! `used_at is null`, and only the parents that update returns get a successor, so of any
//! number of rotations of one token, on one node or many, exactly one wins. The same parent
//! twice in one batch is rotated once; the second caller loses as a concurrent one would.
//! A failure anywhere rolls the whole batch back and every caller in it gets the error (X1).

use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::Invalidator;
use crate::cache::{Invalidation, ReadCache};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::model::{ClientId, ProjectId, SessionId};

/// One rotation waiting for its batch: mark `parent_id` used, give it a successor.
pub(super) struct Rotation {
    pub project_id: ProjectId,
    pub parent_id: String,
    pub session_id: SessionId,
    pub successor_hash: String,
    pub expires_at: Millis,
    /// The parent's OAuth client and scope, which the successor keeps.
    pub client_id: Option<ClientId>,
    pub scope: Option<String>,
    pub now: Millis,
    /// `true` if this rotation won, `false` if the parent was already used.
    pub done: oneshot::Sender<Result<bool>>,
}

/// At most this many rotations share a transaction (8 binds each: far inside both databases'
/// limits on bound parameters).
const MAX_BATCH: usize = 64;

/// Starts the task that commits queued rotations and returns its queue. The task ends when
/// every sender is gone.
pub(super) fn spawn(
    writer: AnyPool,
    invalidator: Invalidator,
    cache: Arc<ReadCache>,
) -> mpsc::Sender<Rotation> {
    let (queue, mut waiting) = mpsc::channel::<Rotation>(4 * 1024);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
            match commit(&writer, &invalidator, &cache, &batch).await {
                Ok(won) => {
                    for (rotation, won) in batch.drain(..).zip(won) {
                        let _ = rotation.done.send(Ok(won));
                    }
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    for rotation in batch.drain(..) {
                        let failed = anyhow::anyhow!("refresh rotation failed: {message}");
                        let _ = rotation.done.send(Err(Error::Internal(failed)));
                    }
                }
            }
        }
    });
    queue
}

/// Rotates `batch` in one transaction; returns, per rotation, whether it won.
async fn commit(
    writer: &AnyPool,
    invalidator: &Invalidator,
    cache: &ReadCache,
    batch: &[Rotation],
) -> Result<Vec<bool>> {
    // One `used_at` for the batch: the latest of its clocks (they differ by the queueing time).
    let now = batch.iter().map(|r| r.now).max().unwrap_or_default();
    let mut seen = HashSet::new();
    let first_of_parent: Vec<bool> = batch
        .iter()
        .map(|r| seen.insert(r.parent_id.as_str()))
        .collect();
    let mut parents: BTreeMap<&ProjectId, Vec<&str>> = BTreeMap::new();
    for (r, _) in batch
        .iter()
        .zip(&first_of_parent)
        .filter(|(_, first)| **first)
    {
        parents.entry(&r.project_id).or_default().push(&r.parent_id);
    }

    let mut tx = writer.begin().await?;
    if matches!(invalidator, Invalidator::Postgres { .. }) {
        // The durability SQLite's default has (WAL, synchronous=normal): a crash of the database
        // server may forget the last fraction of a second of rotations, never half of one. A
        // forgotten rotation leaves its parent valid and its successor unknown: that client
        // signs in again; nothing becomes valid that was not. Halves the commit wait.
        sqlx::query("set local synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    let mut marked = HashSet::new();
    for (project_id, ids) in &parents {
        let sql = format!(
            "update refresh_token set used_at = $1 where project_id = $2 and used_at is null \
             and id in ({}) returning id",
            placeholders(3, ids.len(), 1)
        );
        let mut query = sqlx::query(&sql).bind(now).bind(*project_id);
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *tx).await? {
            marked.insert(row.try_get::<String, _>("id")?);
        }
    }
    step!("refresh.rotate.after_mark");
    let won: Vec<bool> = batch
        .iter()
        .zip(&first_of_parent)
        .map(|(r, first)| *first && marked.contains(&r.parent_id))
        .collect();
    let winners: Vec<&Rotation> = batch
        .iter()
        .zip(&won)
        .filter(|(_, w)| **w)
        .map(|(r, _)| r)
        .collect();
    if winners.is_empty() {
        tx.rollback().await?;
        return Ok(won);
    }

    let sql = format!(
        "insert into refresh_token (id, project_id, session_id, token_hash, created_at, expires_at, \
         client_id, scope) values {}",
        placeholders(1, winners.len(), 8)
    );
    let mut insert = sqlx::query(&sql);
    for r in &winners {
        insert = insert
            .bind(crate::ids::new_id("rt"))
            .bind(&r.project_id)
            .bind(&r.session_id)
            .bind(&r.successor_hash)
            .bind(r.now)
            .bind(r.expires_at)
            .bind(&r.client_id)
            .bind(&r.scope);
    }
    insert.execute(&mut *tx).await?;
    step!("refresh.rotate.after_successor");

    let mut sessions: BTreeMap<&ProjectId, BTreeSet<&SessionId>> = BTreeMap::new();
    for r in &winners {
        sessions
            .entry(&r.project_id)
            .or_default()
            .insert(&r.session_id);
    }
    let mut touched = Vec::new();
    for (project_id, ids) in &sessions {
        let sql = format!(
            "update session set last_active_at = $1 where project_id = $2 and id in ({})",
            placeholders(3, ids.len(), 1)
        );
        let mut query = sqlx::query(&sql).bind(now).bind(*project_id);
        for id in ids {
            query = query.bind(*id);
            // Cached views hold last_active_at, which decides the idle timeout.
            touched.push(Invalidation::SessionActive((*id).clone(), now));
        }
        query.execute(&mut *tx).await?;
    }
    invalidator.announce_all(&mut tx, &touched).await?;
    tx.commit().await?;
    for what in &touched {
        cache.evict(what);
    }
    Ok(won)
}

/// `rows` groups of `width` numbered placeholders starting at `$first`: `($3), ($4)` or
/// `$3, $4` when `width` is 1 (an `in` list).
fn placeholders(first: usize, rows: usize, width: usize) -> String {
    let group = |row: usize| {
        let binds: Vec<String> = (0..width)
            .map(|col| format!("${}", first + row * width + col))
            .collect();
        binds.join(", ")
    };
    let groups: Vec<String> = (0..rows)
        .map(|row| {
            if width == 1 {
                group(row)
            } else {
                format!("({})", group(row))
            }
        })
        .collect();
    groups.join(", ")
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_in_lists_and_row_groups() {
        assert_eq!(placeholders(3, 2, 1), "$3, $4");
        assert_eq!(placeholders(1, 2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
