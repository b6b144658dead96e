//! Wire types of the Protekt REST API.
//!
//! Everything a client sees on the wire is declared here and nowhere else: request bodies,
//! response bodies and [`ErrorCode`], the stable list of error codes. The server renders these
//! types and generates `/openapi.json` from them; the Node SDK's error-code union is checked
//! against [`ErrorCode::ALL`] by a test. Field names are camelCase on the wire.

mod account;
mod auth;
mod clients;
mod error;
mod json;
mod mfa;
mod passwordless;
mod projects;
mod sessions;
mod system;
mod users;

pub use account::*;
pub use auth::*;
pub use clients::*;
pub use error::*;
pub use mfa::*;
pub use passwordless::*;
pub use projects::*;
pub use sessions::*;
pub use system::*;
pub use users::*;
