//! One module per capability; each owns its routes.

pub mod auth;
pub mod system;
