//! A read-through cache of what every request needs and rarely changes: API key → project, and
//! session id → the live session with its user and revoked token ids. It lets token
//! verification skip the database without weakening revocation:
//!
//! - Every write that ends a session, revokes a token or changes a user goes through the store,
//!   which evicts the affected entries after its commit. On PostgreSQL the store also sends
//!   `pg_notify('protekt_invalidate', …)` inside the transaction, and every node's listener
//!   evicts the same entries when the commit is delivered, so revocation reaches all nodes.
//! - A read that raced with an eviction must not put a stale entry back: readers note the
//!   eviction generation before they read the database and only fill the cache if no eviction
//!   happened meanwhile.
//! - If the notification listener loses its connection the cache is switched off (every read
//!   goes to the database) until it reconnects, and it is cleared when it comes back, because
//!   notifications may have been missed in between: fail closed (SECURITY X2).

use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::model::{Millis, Project, ProjectId, SessionId, SessionView, UserId};

/// What a committed write changed, for eviction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    Session(SessionId),
    /// A session was used at this time (a refresh). Only moves `last_active_at` forward, so a
    /// cached view is updated in place instead of evicted: the next refresh or verification of
    /// the session needs no database read.
    SessionActive(SessionId, Millis),
    User(UserId),
    Project(ProjectId),
    /// Signing keys of a project changed (rotation).
    Keys(ProjectId),
}

impl Invalidation {
    /// The payload of the PostgreSQL notification.
    pub fn encode(&self) -> String {
        match self {
            Invalidation::Session(id) => format!("session:{id}"),
            Invalidation::SessionActive(id, at) => format!("active:{id}:{at}"),
            Invalidation::User(id) => format!("user:{id}"),
            Invalidation::Project(id) => format!("project:{id}"),
            Invalidation::Keys(id) => format!("keys:{id}"),
        }
    }

    pub fn decode(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        match kind {
            "session" => Some(Invalidation::Session(id.into())),
            "active" => {
                let (id, at) = id.rsplit_once(':')?;
                Some(Invalidation::SessionActive(id.into(), at.parse().ok()?))
            }
            "user" => Some(Invalidation::User(id.into())),
            "project" => Some(Invalidation::Project(id.into())),
            "keys" => Some(Invalidation::Keys(id.into())),
            _ => None,
        }
    }
}

pub struct ReadCache {
    enabled: AtomicBool,
    generation: AtomicU64,
    api_keys: Cache<String, Arc<Project>>,
    sessions: Cache<SessionId, Arc<SessionView>>,
    /// Project ids whose signing keys changed; the key ring polls this.
    keys_generation: AtomicU64,
}

impl ReadCache {
    pub fn new(capacity: usize, enabled: bool) -> Self {
        Self {
            enabled: AtomicBool::new(enabled),
            generation: AtomicU64::new(0),
            api_keys: Cache::new(capacity.min(10_000)),
            sessions: Cache::new(capacity),
            keys_generation: AtomicU64::new(0),
        }
    }

    /// The current eviction generation; take it before reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn keys_generation(&self) -> u64 {
        self.keys_generation.load(Ordering::SeqCst)
    }

    fn on(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    pub fn api_key(&self, key_hash: &str) -> Option<Arc<Project>> {
        if !self.on() {
            return None;
        }
        self.api_keys.get(key_hash)
    }

    pub fn put_api_key(&self, read_at: u64, key_hash: String, project: Arc<Project>) {
        if self.on() && self.generation() == read_at {
            self.api_keys.insert(key_hash.clone(), project);
            // An eviction that slipped in after the check above must win.
            if self.generation() != read_at {
                self.api_keys.remove(&key_hash);
            }
        }
    }

    pub fn session(&self, session_id: &SessionId) -> Option<Arc<SessionView>> {
        if !self.on() {
            return None;
        }
        self.sessions.get(session_id)
    }

    pub fn put_session(&self, read_at: u64, view: Arc<SessionView>) {
        if self.on() && self.generation() == read_at {
            let id = view.session_id.clone();
            self.sessions.insert(id.clone(), view);
            // An eviction that slipped in after the check above must win.
            if self.generation() != read_at {
                self.sessions.remove(&id);
            }
        }
    }

    /// Applies a committed change: moves a session's activity forward in place, or evicts
    /// what the change names.
    pub fn evict(&self, what: &Invalidation) {
        match what {
            Invalidation::SessionActive(id, at) => self.touch_session(id, *at),
            removed => self.remove(removed),
        }
    }

    /// Monotone: a racing older write can only leave an earlier time, which is stricter. Nothing
    /// is removed, so loads in flight stay valid (no generation bump).
    fn touch_session(&self, id: &SessionId, at: Millis) {
        if let Some(view) = self.sessions.get(id).filter(|v| v.last_active_at < at) {
            let touched = SessionView {
                last_active_at: at,
                ..(*view).clone()
            };
            self.sessions.insert(id.clone(), Arc::new(touched));
        }
    }

    fn remove(&self, what: &Invalidation) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        match what {
            Invalidation::Session(id) => {
                self.sessions.remove(id);
            }
            Invalidation::SessionActive(..) => {}
            Invalidation::User(id) => self.sessions.retain(|_, v| v.user.id != *id),
            Invalidation::Project(id) => {
                self.api_keys.retain(|_, p| p.id != *id);
                self.sessions.retain(|_, v| v.user.project_id != *id);
            }
            Invalidation::Keys(_) => {
                self.keys_generation.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Turns the cache off and empties it (the invalidation feed is down), or back on.
    pub fn set_enabled(&self, enabled: bool) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.enabled.store(enabled, Ordering::SeqCst);
        self.api_keys.clear();
        self.sessions.clear();
        self.keys_generation.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidations_round_trip_through_their_payload() {
        for inv in [
            Invalidation::Session("ses_a".into()),
            Invalidation::SessionActive("ses_a".into(), 1_700_000_000_123),
            Invalidation::User("usr_b".into()),
            Invalidation::Project("prj_c".into()),
            Invalidation::Keys("prj_d".into()),
        ] {
            assert_eq!(Invalidation::decode(&inv.encode()), Some(inv));
        }
        assert_eq!(Invalidation::decode("bogus"), None);
    }
}
