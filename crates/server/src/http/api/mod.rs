//! The `/v1` JSON API (and the system routes): one module per capability; each owns its routes.

pub mod account;
pub mod auth;
pub mod clients;
pub mod management_tokens;
pub mod mfa;
pub mod passwordless;
pub mod projects;
pub mod sessions;
pub mod system;
pub mod users;
