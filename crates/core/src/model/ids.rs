//! Typed identifiers. Each kind of id is its own type, so a user id cannot be passed where a
//! project id is expected; all of them are written by one macro. An id reads as its string
//! (`Deref<Target = str>`) for SQL binds, logs and the wire; fresh ones come from
//! `ids::new`, which knows each type's prefix from [`Id::PREFIX`].

/// What every id type shares.
pub trait Id: From<String> {
    /// What a fresh id of this kind starts with (`usr` → `usr_…`).
    const PREFIX: &'static str;
}

macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl Id for $name {
            const PREFIX: &'static str = $prefix;
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Ids arriving from outside (paths, tokens, rows) are only names to look up: any
        /// string may be one, and an unknown one is simply not found.
        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by an id can be searched with a plain `&str` (a `kid` from a header).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )*};
}

id_types! {
    /// A project (tenant).
    ProjectId = "prj";
    /// A user of a project.
    UserId = "usr";
    /// A session (what a refresh token family and its access tokens belong to).
    SessionId = "ses";
    /// An enrolled second factor.
    FactorId = "mfa";
    /// A second-factor challenge (login step or SMS enrolment).
    ChallengeId = "mfc";
    /// A JWT signing key (`kid`).
    KeyId = "kid";
    /// A project API key (the id, never the secret).
    ApiKeyId = "key";
    /// A management token (the id, never the secret).
    ManagementTokenId = "mgt";
    /// An OAuth client of a project (the `client_id`).
    ClientId = "cl";
}
