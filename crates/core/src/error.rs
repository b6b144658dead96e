//! The domain's errors: one variant per failure a caller can act on, plus `Internal` for the
//! rest. The server maps each to a stable wire code; `Internal` details go to the log only.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    InvalidRequest { field: String, message: String },
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("{message}")]
    WeakPassword { field: String, message: String },
    /// A well-formed value that a rule of the project or the data refuses (a redirect URL
    /// outside the allow-list, a cursor of another listing, a project that does not exist).
    #[error("{message}")]
    ValueNotAllowed { field: String, message: String },
    /// The request does not fit the current state (a factor already enrolled, no enrolment to
    /// confirm).
    #[error("{message}")]
    Conflict { message: String },
    #[error("this user is disabled")]
    UserDisabled,
    #[error("the email address must be verified before signing in")]
    EmailNotVerified,
    #[error("too many requests; retry later")]
    RateLimited { retry_after: u64 },
    #[error("not allowed")]
    Forbidden,
    #[error("a second factor is required to finish signing in")]
    MfaRequired { mfa_token: String },
    #[error("this needs a session that passed multi-factor authentication")]
    MfaStepUpRequired,
    #[error("too many wrong codes: sign in with a backup code, or contact support")]
    MfaLocked,
    #[error("the code is not valid")]
    InvalidCode,
    #[error("the token is invalid")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("not found")]
    NotFound,
    #[error("the server is busy; retry shortly")]
    ServerBusy,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The same error, naming `field` as the one at fault (for callers whose request calls the
    /// password something else, such as `newPassword`).
    pub fn in_field(self, field: &str) -> Self {
        match self {
            Error::InvalidRequest { message, .. } => Error::InvalidRequest {
                field: field.to_owned(),
                message,
            },
            Error::WeakPassword { message, .. } => Error::WeakPassword {
                field: field.to_owned(),
                message,
            },
            other => other,
        }
    }

    pub fn not_allowed(field: &str, message: impl Into<String>) -> Self {
        Error::ValueNotAllowed {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict {
            message: message.into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::InvalidRequest {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database error"))
    }
}

/// True when a database error is a unique-constraint violation (portable across SQLite and
/// PostgreSQL; SQLite cannot name the constraint, so callers map it at the insert site).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .map(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
        .unwrap_or(false)
}
