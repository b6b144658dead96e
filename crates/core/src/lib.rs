//! Protekt's domain: the rules of projects, users, passwords, sessions and tokens, and the
//! storage they live in. Nothing here knows about HTTP; the server crate maps these types to the
//! wire. Services take the project first, so tenancy cannot be forgotten, and read the time from
//! [`clock::Clock`], so tests can move time instead of sleeping.

pub mod account;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod crypto;
pub mod delivery;
pub mod email;
pub mod error;
pub mod ids;
pub mod limits;
pub mod metadata;
pub mod mfa;
pub mod model;
pub mod oauth;
pub mod operator;
pub mod password;
pub mod projects;
pub mod signin;
pub mod store;
pub mod tokens;
pub mod universal;
pub mod users;

pub use error::{Error, Result};
