//! The Protekt server: configuration and CLI ([`cli`]), application assembly ([`app`]) and the
//! HTTP layer ([`http`]). Rules live in `protekt-core`; this crate only translates.

pub mod app;
pub mod cli;
pub mod http;

pub use app::{App, ServeConfig};
