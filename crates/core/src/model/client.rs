//! OAuth clients of a project (Protekt as an OpenID Connect provider), the consents users give
//! them, and device authorization requests.

use crate::model::{ClientId, Millis, SessionId};

/// The scopes a client may be given: OpenID Connect's and `offline_access`.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "phone", "offline_access"];

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Confidential,
    Public,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confidential" => Some(Self::Confidential),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A secret, sent by HTTP Basic or in the form (a secret client may use either).
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with a key of the client's registered JWKS (RFC 7523).
    PrivateKeyJwt,
    /// A public client: no authentication, PKCE only.
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// The grants a client may use. No implicit and no password grant exist (RFC 9700 §2.1.2, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::DeviceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// An OAuth client as stored (secrets as hashes).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: ClientId,
    pub name: String,
    pub kind: ClientKind,
    /// Matched by exact string (loopback redirect URIs: any port, RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    /// First-party clients are never asked for consent.
    pub first_party: bool,
    pub auth_method: AuthMethod,
    /// The public keys of a `private_key_jwt` client (a JWK Set).
    pub jwks: Option<serde_json::Value>,
    pub secret_hash: Option<String>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl OAuthClient {
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether every scope of `scope` (space separated) is assigned to the client.
    pub fn allows_scope(&self, scope: &str) -> bool {
        scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| self.scopes.iter().any(|mine| mine == s))
    }
}

/// What creating a client takes (checked by the clients service).
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub first_party: bool,
    pub auth_method: Option<String>,
    pub jwks: Option<serde_json::Value>,
}

/// A user's consent to a third-party client.
#[derive(Debug, Clone)]
pub struct UserGrant {
    pub client_id: ClientId,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub created_at: Millis,
}

/// Where a device authorization request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Its tokens were issued.
    Used,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Used => "used",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "used" => Some(Self::Used),
            _ => None,
        }
    }
}

/// A device authorization request (RFC 8628).
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    pub id: String,
    pub client_id: ClientId,
    pub scope: String,
    pub status: DeviceStatus,
    /// The approving browser's session, once approved.
    pub session_id: Option<SessionId>,
    pub last_polled_at: Option<Millis>,
    pub expires_at: Millis,
}
