//! One integration-test binary (each file in tests/ would be its own binary and link time
//! dominates). Every test that touches storage runs on SQLite and on PostgreSQL via `both_dbs!`.
//! Tests name the SECURITY.md item they cover.

// Test code may unwrap and panic: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account;
mod auth;
mod cli;
mod faults;
mod input;
mod isolation;
mod mfa;
mod oauth;
mod ops;
mod passwordless;
mod projects;
mod refresh;
mod sessions;
mod throttling;
mod tokens;
mod universal;
mod upgrade;
mod users;
