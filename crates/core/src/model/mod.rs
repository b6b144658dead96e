//! Plain data: what the rules and the store pass between them. No I/O, and nothing from the
//! rest of the crate, so every other module may depend on it and it on none of them.

mod audit;
mod client;
mod code;
mod factor;
mod ids;
mod keys;
mod login;
mod project;
mod session;
mod user;

pub use audit::{AuditEvent, AuditKind, StoredEvent};
pub use client::{
    AuthMethod, ClientKind, DeviceRequest, DeviceStatus, GrantType, NewClient, OAuthClient,
    UserGrant, SCOPES,
};
pub use code::{
    Channel, EmailKind, ManagementToken, OneTimeToken, OutboxMessage, PasswordlessCode,
    PasswordlessPurpose, Purpose, OTP_TTL_MINUTES,
};
pub use factor::{
    Challenge, ChallengePurpose, Factor, FactorKind, MfaGuard, NewChallenge, NewFactor, OnConfirm,
};
pub use ids::{
    ApiKeyId, ChallengeId, ClientId, FactorId, Id, KeyId, ManagementTokenId, ProjectId, SessionId,
    UserId,
};
pub use keys::SigningKeyRow;
pub use login::{AuthCode, LoginFlow, OAuthRequest, Redemption};
pub use project::{
    contrast, normalize_redirect, redirect_shaped, Branding, ColorScheme, Project, ProjectSettings,
    RateLimit, RateLimits, SigningAlg, SmtpSettings, TemplateOverride, TlsMode,
};
pub use session::{Aal, Amr, SessionInfo, SessionView};
pub use user::User;

/// Unix milliseconds.
pub type Millis = i64;
