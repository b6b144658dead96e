//! Universal Login: sign-ins under way in a browser, and the codes that hand a session to an
//! app.

use crate::model::{ClientId, Millis, SessionId};

/// A sign-in under way in one browser.
#[derive(Debug, Clone)]
pub struct LoginFlow {
    /// Carried by the page's forms; secret (a forged form cannot name it).
    pub id: String,
    /// SHA-256 of the cookie that binds the flow to its browser (SECURITY U3).
    pub binding_hash: String,
    /// Checked against the project's allow-list when the flow started.
    pub redirect_url: String,
    /// The app's `state`, returned with the code.
    pub state: Option<String>,
    /// PKCE (S256) challenge the code will be bound to.
    pub code_challenge: Option<String>,
    /// The MFA token (sealed) while the second factor is asked for.
    pub mfa_token: Option<String>,
    /// The address an emailed code went to, while it is awaited.
    pub pending_email: Option<String>,
    /// For a sign-up: the new password's hash, set on the account the code creates.
    pub pending_password_hash: Option<String>,
    /// An OAuth client's authorization request (Protekt as an OpenID Connect provider): the
    /// code goes to this client, with this scope and nonce.
    pub oauth: Option<OAuthRequest>,
    /// The flow returns to one of our own pages (`redirect_url`, the device page) instead of
    /// handing a code to an app.
    pub hosted_return: bool,
    pub expires_at: Millis,
}

/// What an OAuth client asked for, carried from the authorize request to the code.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthRequest {
    pub client_id: ClientId,
    /// Space separated, each assigned to the client.
    pub scope: String,
    pub nonce: Option<String>,
}

/// A code as stored, found by its hash and used up.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub session_id: SessionId,
    pub redirect_url: String,
    pub code_challenge: Option<String>,
    /// Set when the code was issued to an OAuth client.
    pub oauth: Option<OAuthRequest>,
}

/// What redeeming a code found.
#[derive(Debug, Clone)]
pub enum Redemption {
    /// Its first use.
    Fresh(AuthCode),
    /// Used before: the session it was issued for must end (RFC 9700 §4.1.2 / SECURITY AS2).
    Replayed(SessionId),
    /// No such live code.
    Unknown,
}
