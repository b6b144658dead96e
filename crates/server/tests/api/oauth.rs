//! Protekt as an OpenID Connect provider over HTTP: discovery, clients, the code flow with PKCE
//! through the hosted login, consent, refresh, client credentials and private_key_jwt,
//! revocation, introspection, the device grant and RP-initiated logout (SECURITY AS1-AS8, T3,
//! U2, U3). The same flows run with real client libraries in tests/browser/oidc-provider.

use base64::Engine;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use protekt_testkit::both_dbs;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const CB: &str = "https://app.example.com/cb";
const EMAIL: &str = "ada@example.com";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn issuer(app: &TestApp) -> String {
    format!("{}/p/{}", app.base, app.project.login_id)
}

/// A PKCE pair (verifier, S256 challenge).
fn pkce() -> (String, String) {
    use sha2::Digest;
    let verifier = b64(&protekt_core::ids::random_bytes::<32>());
    let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An authorize query of `client_id` for `openid email` with S256 `challenge`, state `st4te` and
/// nonce `n0nce`; `set` replaces parameters (an empty value drops one).
fn authorize_query(client_id: &str, challenge: &str, set: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("scope", "openid email"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in set {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((*k, *v));
        }
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// A registered client: its id, and its secret if it has one (sent with HTTP Basic; without
/// one, `client_id` goes in the form).
struct Rp {
    id: String,
    secret: Option<String>,
}

fn clients_path(app: &TestApp) -> String {
    format!("/v1/projects/{}/clients", app.project.id)
}

/// `POST /v1/projects/{id}/clients` of a first-party confidential client redirecting to `CB`,
/// with `changes` over that.
async fn create_client(app: &TestApp, changes: Value) -> (StatusCode, Value) {
    let mut body = json!({"name": "Acme App", "type": "confidential", "redirectUris": [CB], "firstParty": true});
    for (k, v) in changes.as_object().unwrap() {
        body[k] = v.clone();
    }
    let mt = app.management_token().await;
    app.manage(Method::POST, &clients_path(app), &mt, Some(body))
        .await
}

async fn register(app: &TestApp, changes: Value) -> Rp {
    let (status, body) = create_client(app, changes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Rp {
        id: body["client"]["clientId"].as_str().unwrap().to_owned(),
        secret: body["clientSecret"].as_str().map(str::to_owned),
    }
}

/// An answer of an OAuth endpoint.
struct Answer {
    status: StatusCode,
    body: Value,
    www: Option<String>,
}

impl Answer {
    /// The status and the OAuth `error`.
    fn error(&self) -> (StatusCode, &str) {
        (self.status, self.body["error"].as_str().unwrap_or_default())
    }

    /// The body of a 200.
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        &self.body
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let resp = request.send().await.unwrap();
    let status = resp.status();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status,
        www,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

/// A form post to `{iss}/oauth2/{endpoint}` as `rp` (RFC 6749 §2.3.1: Basic of the form-encoded
/// id and secret).
async fn post_oauth(app: &TestApp, rp: &Rp, endpoint: &str, form: &[(&str, &str)]) -> Answer {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = app.http.post(format!("{}/oauth2/{endpoint}", issuer(app)));
    match &rp.secret {
        Some(secret) => request = request.basic_auth(enc(&rp.id), Some(enc(secret))),
        None => form.push(("client_id", rp.id.as_str())),
    }
    send(request.form(&form)).await
}

async fn redeem_at(app: &TestApp, rp: &Rp, code: &str, verifier: &str, redirect: &str) -> Answer {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ];
    post_oauth(app, rp, "token", &form).await
}

async fn redeem(app: &TestApp, rp: &Rp, code: &str, verifier: &str) -> Answer {
    redeem_at(app, rp, code, verifier, CB).await
}

async fn refresh(app: &TestApp, rp: &Rp, token: &str) -> Answer {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    post_oauth(app, rp, "token", &form).await
}

async fn client_credentials(app: &TestApp, rp: &Rp, scope: Option<&str>) -> Answer {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend(scope.map(|s| ("scope", s)));
    post_oauth(app, rp, "token", &form).await
}

async fn introspect(app: &TestApp, rp: &Rp, token: &str) -> Value {
    post_oauth(app, rp, "introspect", &[("token", token)])
        .await
        .ok()
        .clone()
}

async fn userinfo(app: &TestApp, token: &str) -> Answer {
    let url = format!("{}/oauth2/userinfo", issuer(app));
    send(app.http.get(url).bearer_auth(token)).await
}

/// A browser: its own cookies, no redirects followed, forms sent from our origin (U2).
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// What a page answered.
struct Page {
    status: StatusCode,
    location: Option<String>,
    html: String,
}

impl Page {
    /// The value of a hidden input of the page's form.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.html))
            + marker.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    /// A query parameter of the redirect.
    fn param(&self, name: &str) -> Option<String> {
        let base = url::Url::parse("http://localhost/").unwrap();
        let location = base.join(self.location.as_ref()?).ok()?;
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Whether this is a 303 to one of the project's hosted pages (`page`: login, consent…).
    fn to_hosted(&self, app: &TestApp, page: &str) -> bool {
        let prefix = format!("/p/{}/{page}?", app.project.login_id);
        self.status == StatusCode::SEE_OTHER
            && self
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with(&prefix))
    }

    fn asks_consent(&self) -> bool {
        self.status == StatusCode::OK
            && self.html.contains(r#"name="decision" value="allow""#)
            && self.html.contains(r#"name="decision" value="deny""#)
    }
}

/// A 303 back to the client: `Ok(code)` or `Err(error)`, with the request's state and our issuer
/// (RFC 9207) on it.
fn sent_back(page: &Page, app: &TestApp) -> Result<String, String> {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let location = page.location.as_deref().unwrap();
    assert!(location.starts_with(&format!("{CB}?")), "{location}");
    assert_eq!(page.param("state").as_deref(), Some("st4te"), "{location}");
    assert_eq!(page.param("iss"), Some(issuer(app)), "{location}");
    match (page.param("code"), page.param("error")) {
        (Some(code), None) => Ok(code),
        (None, Some(error)) => Err(error),
        _ => panic!("neither a code nor an error, or both: {location}"),
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    /// A URL, an absolute path, or a path under the project's pages.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.app.base)
        } else {
            format!("{}/{path}", issuer(self.app))
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie.join("; "))
        };
        let resp = request.send().await.unwrap();
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attributes) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: resp.status(),
            location: resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            html: resp.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.url(path));
        self.send(request).await
    }

    /// Posts a form from our own origin (as the page's form would).
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(self.url(path))
            .header("origin", &self.app.base)
            .form(form);
        self.send(request).await
    }

    /// Follows a 303 to one of our pages.
    async fn follow(&mut self, page: &Page) -> Page {
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        let to = page.location.clone().unwrap();
        self.get(&to).await
    }

    /// Submits the sign-in form `form` as `email`.
    async fn log_in(&mut self, form: &Page, email: &str) -> Page {
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let (flow, csrf) = (form.field("flow"), form.field("csrf"));
        let fields = [
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ];
        self.post("login", &fields).await
    }

    /// Answers the consent form `page` (posted to `path`: consent or device).
    async fn decide(&mut self, path: &str, page: &Page, decision: &str) -> Page {
        assert!(page.asks_consent(), "{}", page.html);
        let (flow, csrf) = (page.field("flow"), page.field("csrf"));
        let mut form = vec![
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", decision),
        ];
        let user_code = page
            .html
            .contains("name=\"user_code\"")
            .then(|| page.field("user_code"));
        form.extend(user_code.as_deref().map(|c| ("user_code", c)));
        self.post(path, &form).await
    }

    /// An authorize request (see [`authorize_query`]) and its PKCE verifier.
    async fn authorize(&mut self, client_id: &str, set: &[(&str, &str)]) -> (Page, String) {
        let (verifier, challenge) = pkce();
        let query = authorize_query(client_id, &challenge, set);
        (
            self.get(&format!("oauth2/authorize?{query}")).await,
            verifier,
        )
    }

    /// A code for a first-party client, signing in as `email` if the browser has no session;
    /// with its PKCE verifier.
    async fn code(
        &mut self,
        client_id: &str,
        email: &str,
        set: &[(&str, &str)],
    ) -> (String, String) {
        let (mut page, verifier) = self.authorize(client_id, set).await;
        if page.to_hosted(self.app, "login") {
            let form = self.follow(&page).await;
            page = self.log_in(&form, email).await;
        }
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        let code = page
            .param("code")
            .unwrap_or_else(|| panic!("no code: {:?}", page.location));
        (code, verifier)
    }
}

/// Signs `email` in through `rp` and redeems the code: the token response.
async fn signed_in(b: &mut Browser<'_>, rp: &Rp, email: &str) -> Value {
    let (code, verifier) = b.code(&rp.id, email, &[]).await;
    redeem(b.app, rp, &code, &verifier).await.ok().clone()
}

fn text<'v>(v: &'v Value, field: &str) -> &'v str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

both_dbs!(
    discovery_names_the_issuer_code_only_and_s256,
    |app| async move {
        let iss = issuer(&app);
        let login = app.project.login_id.clone();
        let (status, doc) = app
            .get(&format!("/p/{login}/.well-known/openid-configuration"))
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(doc["issuer"], iss);
        for (field, path) in [
            ("authorization_endpoint", "/oauth2/authorize"),
            ("token_endpoint", "/oauth2/token"),
            ("userinfo_endpoint", "/oauth2/userinfo"),
            ("jwks_uri", "/.well-known/jwks.json"),
            ("revocation_endpoint", "/oauth2/revoke"),
            ("introspection_endpoint", "/oauth2/introspect"),
            ("end_session_endpoint", "/oauth2/logout"),
            (
                "device_authorization_endpoint",
                "/oauth2/device_authorization",
            ),
        ] {
            assert_eq!(doc[field], format!("{iss}{path}"), "{field}");
        }
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                DEVICE_GRANT
            ])
        );
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none"
            ])
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
        assert_eq!(doc["subject_types_supported"], json!(["public"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        // The same document under the OAuth name, and at RFC 8414 §3.1's path-inserted address.
        for path in [
            format!("/p/{login}/.well-known/oauth-authorization-server"),
            format!("/.well-known/oauth-authorization-server/p/{login}"),
        ] {
            assert_eq!(
                app.get(&path).await,
                (StatusCode::OK, doc.clone()),
                "{path}"
            );
        }
        let (status, jwks) = app.get(&format!("/p/{login}/.well-known/jwks.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            jwks["keys"].as_array().is_some_and(|k| !k.is_empty()),
            "{jwks}"
        );
        let (status, _) = app
            .get("/p/no-such-project/.well-known/openid-configuration")
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app
    }
);

both_dbs!(
    clients_get_a_secret_shown_once_and_checked_uris_as6_as4,
    |app| async move {
        let mt = app.management_token().await;
        let path = clients_path(&app);
        let body = json!({"name": "Backend", "type": "confidential", "redirectUris": [CB]});
        let (status, created) = app.manage(Method::POST, &path, &mt, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = text(&created, "clientSecret").to_owned();
        assert!(secret.starts_with("cs_") && secret.len() >= 50, "{secret}");
        let client = &created["client"];
        let id = text(client, "clientId").to_owned();
        assert_eq!(client["type"], "confidential");
        assert_eq!(client["tokenEndpointAuthMethod"], "client_secret_basic");
        assert_eq!(
            client["grantTypes"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            client["scopes"],
            json!(["openid", "profile", "email", "phone", "offline_access"])
        );
        assert_eq!(client["firstParty"], false);
        assert_eq!(client["redirectUris"], json!([CB]));
        // Shown once: no read shows it again, and the database holds only its hash.
        let (status, one) = app
            .manage(Method::GET, &format!("{path}/{id}"), &mt, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{one}");
        assert_eq!(one["clientId"], id.as_str());
        let (status, list) = app.manage(Method::GET, &path, &mt, None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["clients"], json!([one]));
        for read in [&one, &list] {
            let read = read.to_string();
            assert!(
                !read.contains(&secret) && !read.contains("clientSecret"),
                "{read}"
            );
        }
        assert!(app.dump_table("oauth_client").await.contains(&id));
        assert!(
            !app.dump_all_tables().await.contains(&secret),
            "stored hashed"
        );
        // A public client has no secret.
        let body =
            json!({"name": "SPA", "type": "public", "redirectUris": ["http://127.0.0.1/cb"]});
        let (status, public) = app.manage(Method::POST, &path, &mt, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{public}");
        assert!(public.get("clientSecret").is_none(), "{public}");
        assert_eq!(public["client"]["tokenEndpointAuthMethod"], "none");
        // Refused: redirect URIs that are not https (but on loopback), carry user info or a
        // fragment, or are relative; no implicit nor password grant; no M2M for a public client.
        let client = |kind: &str, uris: Value, grants: Value| json!({"name": "x", "type": kind, "redirectUris": uris, "grantTypes": grants});
        let code = json!(["authorization_code"]);
        for (body, field) in [
            (
                client(
                    "confidential",
                    json!(["http://evil.example/cb"]),
                    code.clone(),
                ),
                "redirectUris",
            ),
            (
                client("confidential", json!(["javascript:alert(1)"]), code.clone()),
                "redirectUris",
            ),
            (
                client(
                    "confidential",
                    json!(["https://app.example.com/cb#x"]),
                    code.clone(),
                ),
                "redirectUris",
            ),
            (
                client(
                    "confidential",
                    json!(["https://u@app.example.com/cb"]),
                    code.clone(),
                ),
                "redirectUris",
            ),
            (
                client("confidential", json!(["/cb"]), code.clone()),
                "redirectUris",
            ),
            (
                client("confidential", json!([]), code.clone()),
                "redirectUris",
            ),
            (
                client("confidential", json!([CB]), json!(["password"])),
                "grantTypes",
            ),
            (
                client("confidential", json!([CB]), json!(["implicit"])),
                "grantTypes",
            ),
            (
                client("public", json!([CB]), json!(["client_credentials"])),
                "grantTypes",
            ),
        ] {
            let (status, refused) = app
                .manage(Method::POST, &path, &mt, Some(body.clone()))
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {refused}"
            );
            assert_eq!(refused["error"]["code"], "value_not_allowed", "{body}");
            assert_eq!(refused["error"]["field"], field, "{body}: {refused}");
        }
        let (_, list) = app.manage(Method::GET, &path, &mt, None).await;
        assert_eq!(list["clients"].as_array().unwrap().len(), 2, "{list}");
        // Deleted: gone.
        let (status, deleted) = app
            .manage(Method::DELETE, &format!("{path}/{id}"), &mt, None)
            .await;
        assert_eq!((status, deleted), (StatusCode::OK, json!({"ok": true})));
        let (status, _) = app
            .manage(Method::GET, &format!("{path}/{id}"), &mt, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app
    }
);

both_dbs!(
    code_flow_issues_typed_tokens_for_the_client_t3,
    |app| async move {
        let user = app.signup(EMAIL, PASSWORD).await;
        let user_id = text(&user["user"], "id").to_owned();
        let rp = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        let (page, verifier) = b.authorize(&rp.id, &[]).await;
        // No browser session: the hosted sign-in form.
        assert!(page.to_hosted(&app, "login"), "{:?}", page.location);
        let form = b.follow(&page).await;
        let done = b.log_in(&form, EMAIL).await;
        let code = sent_back(&done, &app).unwrap();
        let answer = redeem(&app, &rp, &code, &verifier).await;
        let t = answer.ok();
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["expires_in"], 900);
        assert_eq!(t["scope"], "openid email");
        assert!(!text(t, "refresh_token").is_empty());
        let (access, id_token) = (text(t, "access_token"), text(t, "id_token"));
        // The access token: an at+jwt of the project, for the user and the client (RFC 9068).
        let (ah, ac) = (jwt_header(access), jwt_claims(access));
        assert_eq!(ah["typ"], "at+jwt");
        assert!(ah["kid"].is_string(), "{ah}");
        assert_eq!(ac["iss"], issuer(&app));
        assert_eq!(ac["aud"], app.project.login_id.as_str());
        assert_eq!(ac["sub"], user_id.as_str());
        assert_eq!(ac["client_id"], rp.id.as_str());
        assert_eq!(ac["scope"], "openid email");
        // The ID token: typ JWT, for the client, bound to the nonce, the session and the access token.
        let (ih, ic) = (jwt_header(id_token), jwt_claims(id_token));
        assert_eq!(ih["typ"], "JWT");
        assert_eq!(ih["kid"], ah["kid"]);
        assert_eq!(ic["iss"], issuer(&app));
        assert_eq!(ic["sub"], user_id.as_str());
        assert_eq!(ic["aud"], rp.id.as_str());
        assert_eq!(ic["azp"], rp.id.as_str());
        assert_eq!(ic["nonce"], "n0nce");
        assert_eq!(ic["sid"], ac["sid"]);
        assert_eq!((&ic["acr"], &ic["amr"]), (&json!("aal1"), &json!(["pwd"])));
        assert_eq!((&ic["acr"], &ic["amr"]), (&ac["aal"], &ac["amr"]));
        assert_eq!(ic["email"], EMAIL);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(access.as_bytes());
        assert_eq!(ic["at_hash"], b64(&digest[..16]));
        let (auth_time, iat) = (
            ic["auth_time"].as_i64().unwrap(),
            ic["iat"].as_i64().unwrap(),
        );
        assert!(auth_time <= iat && iat - auth_time < 60, "{ic}");
        assert!(
            ic.get("phone_number").is_none() && ic.get("updated_at").is_none(),
            "{ic}"
        );
        // Userinfo answers the claims of the scope.
        let info = userinfo(&app, access).await;
        assert_eq!(
            info.ok(),
            &json!({"sub": user_id, "email": EMAIL, "email_verified": false})
        );
        // The project's API verifies the access token and sees the client on it.
        let (status, verified) = app.verify(access).await;
        assert_eq!(status, StatusCode::OK, "{verified}");
        assert_eq!(verified["user"]["id"], user_id.as_str());
        assert_eq!(verified["claims"]["client_id"], rp.id.as_str());
        assert_eq!(verified["claims"]["scope"], "openid email");
        // T3: an ID token is no access token.
        assert_eq!(app.verify(id_token).await.0, StatusCode::UNAUTHORIZED);
        let refused = userinfo(&app, id_token).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.www.as_deref(),
            Some("Bearer error=\"invalid_token\"")
        );
        app
    }
);

both_dbs!(as2_a_replayed_code_ends_what_it_issued, |app| async move {
    app.signup(EMAIL, PASSWORD).await;
    let rp = register(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let (code, verifier) = b.code(&rp.id, EMAIL, &[]).await;
    let first = redeem(&app, &rp, &code, &verifier).await.ok().clone();
    let (access, refresh_token) = (text(&first, "access_token"), text(&first, "refresh_token"));
    assert_eq!(app.verify(access).await.0, StatusCode::OK);
    let again = redeem(&app, &rp, &code, &verifier).await;
    assert_eq!(
        again.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "{}",
        again.body
    );
    // Everything the first redemption issued is revoked.
    assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        introspect(&app, &rp, access).await,
        json!({"active": false})
    );
    let refused = refresh(&app, &rp, refresh_token).await;
    assert_eq!(refused.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // That was the browser's session too: the next request asks for the password again.
    let (page, _) = b.authorize(&rp.id, &[]).await;
    assert!(page.to_hosted(&app, "login"), "{:?}", page.location);
    // A code lives 60 seconds.
    let (code, verifier) = b.code(&rp.id, EMAIL, &[]).await;
    app.clock.advance(Duration::from_secs(61));
    let late = redeem(&app, &rp, &code, &verifier).await;
    assert_eq!(late.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
    app
});

both_dbs!(
    as2_of_ten_concurrent_redemptions_one_wins,
    |app| async move {
        app.signup(EMAIL, PASSWORD).await;
        let rp = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        let (code, verifier) = b.code(&rp.id, EMAIL, &[]).await;
        let attempts = (0..10).map(|_| redeem(&app, &rp, &code, &verifier));
        let results = futures::future::join_all(attempts).await;
        let bodies: Vec<&Value> = results.iter().map(|a| &a.body).collect();
        let winners: Vec<&Answer> = results
            .iter()
            .filter(|a| a.status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "{bodies:?}");
        for loser in results.iter().filter(|a| a.status != StatusCode::OK) {
            assert_eq!(
                loser.error(),
                (StatusCode::BAD_REQUEST, "invalid_grant"),
                "{}",
                loser.body
            );
        }
        // The losers were replays: what the winner got is revoked.
        let won = &winners[0].body;
        assert_eq!(
            app.verify(text(won, "access_token")).await.0,
            StatusCode::UNAUTHORIZED
        );
        let refused = refresh(&app, &rp, text(won, "refresh_token")).await;
        assert_eq!(refused.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
        app
    }
);

both_dbs!(as3_pkce_s256_is_required_and_checked, |app| async move {
    app.signup(EMAIL, PASSWORD).await;
    let rp = register(&app, json!({})).await;
    let mut b = Browser::new(&app);
    // No challenge, no method, or plain: sent back with invalid_request.
    for set in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
    ] {
        let (page, _) = b.authorize(&rp.id, &set).await;
        assert_eq!(
            sent_back(&page, &app),
            Err("invalid_request".to_owned()),
            "{set:?}"
        );
        assert!(page.param("error_description").is_some(), "{set:?}");
    }
    // S256: the verifier is required at the token endpoint, and must be the challenge's.
    let (code, _) = b.code(&rp.id, EMAIL, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
    ];
    let missing = post_oauth(&app, &rp, "token", &form).await;
    assert_eq!(
        missing.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "{}",
        missing.body
    );
    let (code, _) = b.code(&rp.id, EMAIL, &[]).await;
    let (other_verifier, _) = pkce();
    let wrong = redeem(&app, &rp, &code, &other_verifier).await;
    assert_eq!(
        wrong.error(),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "{}",
        wrong.body
    );
    let (code, verifier) = b.code(&rp.id, EMAIL, &[]).await;
    assert_eq!(
        redeem(&app, &rp, &code, &verifier).await.status,
        StatusCode::OK
    );
    app
});

both_dbs!(
    as4_no_implicit_no_password_only_the_clients_grants,
    |app| async move {
        let rp = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        for (set, error) in [
            (
                vec![("response_type", "token")],
                "unsupported_response_type",
            ),
            (
                vec![("response_type", "code id_token")],
                "unsupported_response_type",
            ),
            (vec![("response_type", "")], "invalid_request"),
            (vec![("scope", "openid admin")], "invalid_scope"),
        ] {
            let (page, _) = b.authorize(&rp.id, &set).await;
            assert_eq!(sent_back(&page, &app), Err(error.to_owned()), "{set:?}");
            assert!(page.param("error_description").is_some(), "{set:?}");
        }
        // A client without the code grant is sent back with unauthorized_client.
        let m2m = register(&app, json!({"grantTypes": ["client_credentials"]})).await;
        let (page, _) = b.authorize(&m2m.id, &[]).await;
        assert_eq!(
            sent_back(&page, &app),
            Err("unauthorized_client".to_owned())
        );
        // At the token endpoint: no password grant, no grant the client lacks, no unknown grant.
        let password = [
            ("grant_type", "password"),
            ("username", EMAIL),
            ("password", PASSWORD),
        ];
        let answer = post_oauth(&app, &rp, "token", &password).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "unauthorized_client"),
            "{}",
            answer.body
        );
        let answer = client_credentials(&app, &rp, None).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "unauthorized_client"),
            "{}",
            answer.body
        );
        let answer = post_oauth(&app, &rp, "token", &[("grant_type", "urn:example:nope")]).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            "{}",
            answer.body
        );
        app
    }
);

both_dbs!(
    as1_as5_unknown_clients_and_redirect_uris_get_our_page_never_a_redirect,
    |app| async move {
        let rp = register(&app, json!({})).await;
        let native = register(
            &app,
            json!({"type": "public", "redirectUris": ["http://127.0.0.1/cb"]}),
        )
        .await;
        let (_, challenge) = pkce();
        let mut queries = vec![
            (authorize_query("cli_unknown", &challenge, &[]), "not known"),
            (
                authorize_query(&rp.id, &challenge, &[("client_id", "")]),
                "not known",
            ),
            // Even with another error to report, an unknown redirect URI is never followed.
            (
                authorize_query(
                    &rp.id,
                    &challenge,
                    &[
                        ("redirect_uri", "https://evil.example/cb"),
                        ("response_type", "token"),
                    ],
                ),
                "not registered",
            ),
        ];
        for variant in [
            "",
            "https://app.example.com/cb/",
            "https://app.example.com@evil.example/cb",
            "https://app.example.com.evil.example/cb",
            "https://app.example.com%2f@evil.example/cb",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com./cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb/../cb",
            "https://app.example.com:443/cb",
            "http://app.example.com/cb",
        ] {
            let query = authorize_query(&rp.id, &challenge, &[("redirect_uri", variant)]);
            queries.push((query, "not registered"));
        }
        // Loopback: any port on the IP registered, but not localhost, another path or https.
        for variant in [
            "http://localhost:5000/cb",
            "http://127.0.0.1:5000/cb/x",
            "https://127.0.0.1:5000/cb",
        ] {
            let query = authorize_query(&native.id, &challenge, &[("redirect_uri", variant)]);
            queries.push((query, "not registered"));
        }
        let mut b = Browser::new(&app);
        for (query, why) in queries {
            let page = b.get(&format!("oauth2/authorize?{query}")).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(page.location.is_none(), "{query}");
            assert!(
                page.html.contains("Cannot sign in") && page.html.contains(why),
                "{query}: {}",
                page.html
            );
        }
        // The registered URI goes on to sign-in; so does a loopback IP at any port (RFC 8252 §7.3),
        // whose public client then redeems with PKCE and its client_id alone.
        let (page, _) = b.authorize(&rp.id, &[]).await;
        assert!(page.to_hosted(&app, "login"), "{:?}", page.location);
        app.signup(EMAIL, PASSWORD).await;
        let loopback = "http://127.0.0.1:51234/cb";
        let (code, verifier) = b
            .code(&native.id, EMAIL, &[("redirect_uri", loopback)])
            .await;
        let answer = redeem_at(&app, &native, &code, &verifier, loopback).await;
        assert_eq!(
            jwt_claims(text(answer.ok(), "access_token"))["client_id"],
            native.id.as_str()
        );
        app
    }
);

both_dbs!(
    as2_codes_and_refresh_tokens_belong_to_their_client,
    |app| async move {
        app.signup(EMAIL, PASSWORD).await;
        let other_cb = "https://app.example.com/other";
        let rp = register(&app, json!({"redirectUris": [CB, other_cb]})).await;
        let other = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        // Not another client's (same redirect URI, its own good credentials), nor another URI's.
        let (code, verifier) = b.code(&rp.id, EMAIL, &[]).await;
        let answer = redeem(&app, &other, &code, &verifier).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{}",
            answer.body
        );
        let answer = redeem_at(&app, &rp, &code, &verifier, other_cb).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{}",
            answer.body
        );
        let t1 = signed_in(&mut b, &rp, EMAIL).await;
        let r1 = text(&t1, "refresh_token");
        let answer = refresh(&app, &other, r1).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{}",
            answer.body
        );
        // Its own client: new tokens, the refresh token rotated, twice.
        let t2 = refresh(&app, &rp, r1).await.ok().clone();
        let r2 = text(&t2, "refresh_token");
        assert_ne!(r2, r1);
        assert_eq!(
            app.verify(text(&t2, "access_token")).await.0,
            StatusCode::OK
        );
        assert_eq!(jwt_claims(text(&t2, "id_token"))["aud"], rp.id.as_str());
        let t3 = refresh(&app, &rp, r2).await.ok().clone();
        let access = text(&t3, "access_token");
        assert_eq!(jwt_claims(access)["scope"], "openid email");
        // The first one again after the grace window: reuse, and the session ends.
        app.clock.advance(Duration::from_secs(11));
        let answer = refresh(&app, &rp, r1).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{}",
            answer.body
        );
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        let answer = refresh(&app, &rp, text(&t3, "refresh_token")).await;
        assert_eq!(answer.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
        app
    }
);

both_dbs!(
    a_refused_refresh_leaves_the_refresh_token_usable,
    |app| async move {
        // RFC 6749 §5.2: an error answer changes nothing; a refresh the client was refused must not
        // count as a use, else its retry after the grace window looks like a stolen token's.
        app.signup(EMAIL, PASSWORD).await;
        let rp = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        let t = signed_in(&mut b, &rp, EMAIL).await;
        let r1 = text(&t, "refresh_token");
        let wider = [
            ("grant_type", "refresh_token"),
            ("refresh_token", r1),
            ("scope", "openid email phone"),
        ];
        let answer = post_oauth(&app, &rp, "token", &wider).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_scope"),
            "{}",
            answer.body
        );
        app.clock.advance(Duration::from_secs(11));
        let answer = refresh(&app, &rp, r1).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        app
    }
);

both_dbs!(
    as6_client_credentials_give_the_client_a_token_of_its_scopes,
    |app| async move {
        let m2m = register(
            &app,
            json!({"name": "Reports job", "redirectUris": [], "grantTypes": ["client_credentials"],
               "scopes": ["reports:read", "reports:write"]}),
        )
        .await;
        let answer = client_credentials(&app, &m2m, Some("reports:read")).await;
        let t = answer.ok();
        assert_eq!(
            (&t["token_type"], &t["scope"], &t["expires_in"]),
            (&json!("Bearer"), &json!("reports:read"), &json!(900))
        );
        assert!(
            t.get("refresh_token").is_none() && t.get("id_token").is_none(),
            "{t}"
        );
        let access = text(t, "access_token");
        assert_eq!(jwt_header(access)["typ"], "at+jwt");
        let claims = jwt_claims(access);
        assert_eq!(claims["sub"], m2m.id.as_str());
        assert_eq!(claims["client_id"], m2m.id.as_str());
        assert_eq!(claims["aud"], app.project.login_id.as_str());
        assert!(claims.get("sid").is_none(), "{claims}");
        let (status, verified) = app.verify(access).await;
        assert_eq!(status, StatusCode::OK, "{verified}");
        assert_eq!(verified["user"], Value::Null);
        assert_eq!(
            verified["client"],
            json!({"clientId": m2m.id, "name": "Reports job"})
        );
        assert_eq!(verified["claims"]["sub"], m2m.id.as_str());
        assert_eq!(verified["claims"]["scope"], "reports:read");
        // No user behind it: userinfo refuses it.
        assert_eq!(
            userinfo(&app, access).await.status,
            StatusCode::UNAUTHORIZED
        );
        // No scope asked: all the client's; a scope not assigned to it: invalid_scope.
        let all = client_credentials(&app, &m2m, None).await;
        assert_eq!(all.ok()["scope"], "reports:read reports:write");
        let answer = client_credentials(&app, &m2m, Some("reports:read admin")).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_scope"),
            "{}",
            answer.body
        );
        // client_secret_post works too.
        let by_form = Rp {
            id: m2m.id.clone(),
            secret: None,
        };
        let secret = m2m.secret.clone().unwrap();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_secret", secret.as_str()),
        ];
        assert_eq!(
            post_oauth(&app, &by_form, "token", &form).await.status,
            StatusCode::OK
        );
        // A wrong secret over Basic: 401 invalid_client with a Basic challenge; none: invalid_client.
        let wrong = Rp {
            id: m2m.id.clone(),
            secret: Some("cs_wrong".into()),
        };
        let answer = client_credentials(&app, &wrong, None).await;
        assert_eq!(
            answer.error(),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{}",
            answer.body
        );
        assert!(
            answer
                .www
                .as_deref()
                .is_some_and(|w| w.starts_with("Basic")),
            "{:?}",
            answer.www
        );
        let answer = client_credentials(&app, &by_form, None).await;
        assert_eq!(
            answer.error(),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{}",
            answer.body
        );
        app
    }
);

both_dbs!(as6_a_rotated_secret_overlaps_then_stops, |app| async move {
    let m2m = register(
        &app,
        json!({"redirectUris": [], "grantTypes": ["client_credentials"]}),
    )
    .await;
    let mt = app.management_token().await;
    let path = format!("{}/{}/rotate-secret", clients_path(&app), m2m.id);
    let old = m2m.secret.clone().unwrap();
    let (status, rotated) = app
        .manage(
            Method::POST,
            &path,
            &mt,
            Some(json!({"overlapSeconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = text(&rotated, "clientSecret").to_owned();
    assert!(new.starts_with("cs_") && new != old, "{rotated}");
    assert!(rotated["previousSecretExpiresAt"].is_string(), "{rotated}");
    for secret in [old.as_str(), new.as_str()] {
        let answer = client_credentials(&app, &with_secret(&m2m, secret), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    // After the overlap only the new one works.
    app.clock.advance(Duration::from_secs(3601));
    let answer = client_credentials(&app, &with_secret(&m2m, &old), None).await;
    assert_eq!(answer.error(), (StatusCode::UNAUTHORIZED, "invalid_client"));
    assert_eq!(
        client_credentials(&app, &with_secret(&m2m, &new), None)
            .await
            .status,
        StatusCode::OK
    );
    // Without overlap the previous one stops at once.
    let (status, rotated) = app
        .manage(Method::POST, &path, &mt, Some(json!({"overlapSeconds": 0})))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let newest = text(&rotated, "clientSecret").to_owned();
    let answer = client_credentials(&app, &with_secret(&m2m, &new), None).await;
    assert_eq!(answer.error(), (StatusCode::UNAUTHORIZED, "invalid_client"));
    assert_eq!(
        client_credentials(&app, &with_secret(&m2m, &newest), None)
            .await
            .status,
        StatusCode::OK
    );
    let (status, _) = app
        .manage(
            Method::POST,
            &path,
            &mt,
            Some(json!({"overlapSeconds": 2_592_001})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app
});

/// The client `rp` with another secret.
fn with_secret(rp: &Rp, secret: &str) -> Rp {
    Rp {
        id: rp.id.clone(),
        secret: Some(secret.to_owned()),
    }
}

/// A `private_key_jwt` client assertion (RFC 7523), ES256 by `key`, living `life` seconds.
fn assertion(
    key: &SigningKey,
    client_id: &str,
    aud: &str,
    jti: &str,
    now: i64,
    life: i64,
) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "k1"});
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
        "exp": now + life, "jti": jti});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

async fn with_assertion(app: &TestApp, rp: &Rp, assertion: &str) -> Answer {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    post_oauth(app, rp, "token", &form).await
}

both_dbs!(
    as6_private_key_jwt_assertions_are_single_use,
    |app| async move {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(point.x().unwrap()),
        "y": b64(point.y().unwrap()), "kid": "k1", "use": "sig"});
        let (status, created) = create_client(
            &app,
            json!({"name": "Signer", "redirectUris": [], "grantTypes": ["client_credentials"],
               "scopes": ["reports:read"], "tokenEndpointAuthMethod": "private_key_jwt",
               "jwks": {"keys": [jwk]}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created.get("clientSecret").is_none(), "{created}");
        assert_eq!(
            created["client"]["tokenEndpointAuthMethod"],
            "private_key_jwt"
        );
        let id = text(&created["client"], "clientId").to_owned();
        let rp = Rp {
            id: id.clone(),
            secret: None,
        };
        let endpoint = format!("{}/oauth2/token", issuer(&app));
        let now = app.clock.now() / 1000;
        let first = assertion(&key, &id, &endpoint, "jti-1", now, 60);
        let answer = with_assertion(&app, &rp, &first).await;
        assert_eq!(
            jwt_claims(text(answer.ok(), "access_token"))["sub"],
            id.as_str()
        );
        // The same assertion again: a replay.
        let answer = with_assertion(&app, &rp, &first).await;
        assert_eq!(
            answer.error(),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{}",
            answer.body
        );
        // The issuer is a good audience too; another audience, another key or a long life are not.
        let by_issuer = assertion(&key, &id, &issuer(&app), "jti-2", now, 60);
        assert_eq!(
            with_assertion(&app, &rp, &by_issuer).await.status,
            StatusCode::OK
        );
        let stranger = SigningKey::random(&mut rand_core::OsRng);
        for (bad, why) in [
            (
                assertion(&key, &id, "https://evil.example/token", "jti-3", now, 60),
                "audience",
            ),
            (
                assertion(&stranger, &id, &endpoint, "jti-4", now, 60),
                "key",
            ),
            (
                assertion(&key, &id, &endpoint, "jti-5", now, 3600),
                "lifetime",
            ),
            (
                assertion(&key, &id, &endpoint, "jti-6", now - 600, 60),
                "expired",
            ),
        ] {
            let answer = with_assertion(&app, &rp, &bad).await;
            assert_eq!(
                answer.error(),
                (StatusCode::UNAUTHORIZED, "invalid_client"),
                "{why}: {}",
                answer.body
            );
        }
        app
    }
);

both_dbs!(
    as8_third_party_clients_ask_for_consent_u2_u3,
    |app| async move {
        app.signup(EMAIL, PASSWORD).await;
        let rp = register(&app, json!({"name": "Partner App", "firstParty": false})).await;
        let mut b = Browser::new(&app);
        // prompt=none without a browser session: login_required.
        let (page, _) = b.authorize(&rp.id, &[("prompt", "none")]).await;
        assert_eq!(sent_back(&page, &app), Err("login_required".to_owned()));
        // After sign-in, the consent page: which client, which scopes, Allow or Deny.
        let (page, _) = b.authorize(&rp.id, &[]).await;
        let form = b.follow(&page).await;
        let consent = b.log_in(&form, EMAIL).await;
        assert!(consent.asks_consent(), "{}", consent.html);
        assert!(
            consent.html.contains("Partner App") && consent.html.contains("Your email address")
        );
        // prompt=none with the browser's session but no consent yet: consent_required.
        let (page, _) = b.authorize(&rp.id, &[("prompt", "none")]).await;
        assert_eq!(sent_back(&page, &app), Err("consent_required".to_owned()));
        // A new request goes to the consent page; Allow gives the client its code.
        let (page, verifier) = b.authorize(&rp.id, &[]).await;
        assert!(page.to_hosted(&app, "consent"), "{:?}", page.location);
        let consent = b.follow(&page).await;
        let allowed = b.decide("consent", &consent, "allow").await;
        let code = sent_back(&allowed, &app).unwrap();
        let t = redeem(&app, &rp, &code, &verifier).await.ok().clone();
        let access = text(&t, "access_token");
        // Consented: prompt=none gets a code at once.
        let (page, _) = b.authorize(&rp.id, &[("prompt", "none")]).await;
        assert!(sent_back(&page, &app).is_ok());
        // The user sees the grant and withdraws it: the client's refresh tokens end, and it asks again.
        let (status, grants) = app
            .request(Method::GET, "/v1/grants", Some(access), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{grants}");
        let listed = grants["grants"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{grants}");
        assert_eq!(listed[0]["clientId"], rp.id.as_str());
        assert_eq!(listed[0]["name"], "Partner App");
        assert_eq!(listed[0]["scopes"], json!(["openid", "email"]));
        let path = format!("/v1/grants/{}", rp.id);
        let (status, body) = app.request(Method::DELETE, &path, Some(access), None).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
        let answer = refresh(&app, &rp, text(&t, "refresh_token")).await;
        assert_eq!(answer.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
        let (page, _) = b.authorize(&rp.id, &[("prompt", "none")]).await;
        assert_eq!(sent_back(&page, &app), Err("consent_required".to_owned()));
        // U2, U3: the consent form from another site, or in another browser, is refused.
        let (page, _) = b.authorize(&rp.id, &[]).await;
        let consent = b.follow(&page).await;
        let (flow, csrf) = (consent.field("flow"), consent.field("csrf"));
        let form = [
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("decision", "allow"),
        ];
        let cross = b
            .http
            .post(b.url("consent"))
            .header("origin", "https://evil.example")
            .form(&form);
        assert_eq!(b.send(cross).await.status, StatusCode::FORBIDDEN);
        let mut elsewhere = Browser::new(&app);
        assert_eq!(
            elsewhere.decide("consent", &consent, "allow").await.status,
            StatusCode::FORBIDDEN
        );
        // Deny: access_denied.
        let denied = b.decide("consent", &consent, "deny").await;
        assert_eq!(sent_back(&denied, &app), Err("access_denied".to_owned()));
        // A first-party client never asks.
        let own = register(&app, json!({})).await;
        let (page, _) = b.authorize(&own.id, &[]).await;
        assert!(sent_back(&page, &app).is_ok());
        app
    }
);

both_dbs!(
    rfc7009_revocation_ends_the_clients_own_tokens_only,
    |app| async move {
        app.signup(EMAIL, PASSWORD).await;
        let rp = register(&app, json!({})).await;
        let other = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        let mine = signed_in(&mut b, &rp, EMAIL).await;
        let theirs = signed_in(&mut b, &other, EMAIL).await;
        // Another client's tokens: answered 200, and left alone.
        for token in ["access_token", "refresh_token"] {
            let answer = post_oauth(&app, &rp, "revoke", &[("token", text(&theirs, token))]).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
        assert_eq!(
            app.verify(text(&theirs, "access_token")).await.0,
            StatusCode::OK
        );
        assert_eq!(
            refresh(&app, &other, text(&theirs, "refresh_token"))
                .await
                .status,
            StatusCode::OK
        );
        // Its own access token stops verifying at once.
        let access = text(&mine, "access_token");
        let form = [("token", access), ("token_type_hint", "access_token")];
        assert_eq!(
            post_oauth(&app, &rp, "revoke", &form).await.status,
            StatusCode::OK
        );
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            introspect(&app, &rp, access).await,
            json!({"active": false})
        );
        // Its own refresh token: refresh ends.
        let refresh_token = text(&mine, "refresh_token");
        assert_eq!(
            post_oauth(&app, &rp, "revoke", &[("token", refresh_token)])
                .await
                .status,
            StatusCode::OK
        );
        let answer = refresh(&app, &rp, refresh_token).await;
        assert_eq!(
            answer.error(),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{}",
            answer.body
        );
        // Unknown tokens are fine (RFC 7009 §2.2); an unauthenticated caller is not.
        assert_eq!(
            post_oauth(&app, &rp, "revoke", &[("token", "nonsense")])
                .await
                .status,
            StatusCode::OK
        );
        let url = format!("{}/oauth2/revoke", issuer(&app));
        let anonymous = send(
            app.http
                .post(url)
                .form(&[("token", text(&theirs, "access_token"))]),
        )
        .await;
        assert_eq!(
            anonymous.error(),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        app
    }
);

both_dbs!(
    rfc7009_a_revoked_client_token_stops_verifying_as6,
    |app| async move {
        let m2m = register(
            &app,
            json!({"redirectUris": [], "grantTypes": ["client_credentials"]}),
        )
        .await;
        let other = register(
            &app,
            json!({"redirectUris": [], "grantTypes": ["client_credentials"]}),
        )
        .await;
        let t = client_credentials(&app, &m2m, None).await.ok().clone();
        let access = text(&t, "access_token");
        let active = introspect(&app, &other, access).await;
        assert_eq!(
            (&active["active"], &active["client_id"]),
            (&json!(true), &json!(m2m.id)),
            "{active}"
        );
        // Another client cannot revoke it; its own can.
        assert_eq!(
            post_oauth(&app, &other, "revoke", &[("token", access)])
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(app.verify(access).await.0, StatusCode::OK);
        assert_eq!(
            post_oauth(&app, &m2m, "revoke", &[("token", access)])
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            introspect(&app, &other, access).await,
            json!({"active": false})
        );
        app
    }
);

both_dbs!(a_deleted_clients_tokens_stop_verifying, |app| async move {
    app.signup(EMAIL, PASSWORD).await;
    let grants = json!(["authorization_code", "refresh_token", "client_credentials"]);
    let rp = register(&app, json!({"grantTypes": grants})).await;
    let mut b = Browser::new(&app);
    let user_tokens = signed_in(&mut b, &rp, EMAIL).await;
    let m2m_tokens = client_credentials(&app, &rp, None).await.ok().clone();
    let (user_access, m2m_access) = (
        text(&user_tokens, "access_token"),
        text(&m2m_tokens, "access_token"),
    );
    assert_eq!(app.verify(user_access).await.0, StatusCode::OK);
    assert_eq!(app.verify(m2m_access).await.0, StatusCode::OK);
    let mt = app.management_token().await;
    let path = format!("{}/{}", clients_path(&app), rp.id);
    let (status, body) = app.manage(Method::DELETE, &path, &mt, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
    assert_eq!(app.verify(m2m_access).await.0, StatusCode::UNAUTHORIZED);
    let answer = refresh(&app, &rp, text(&user_tokens, "refresh_token")).await;
    assert_eq!(answer.error(), (StatusCode::UNAUTHORIZED, "invalid_client"));
    // The spec: "its tokens stop verifying", the user's access tokens of it included.
    assert_eq!(
        app.verify(user_access).await.0,
        StatusCode::UNAUTHORIZED,
        "a user token of the deleted client"
    );
    assert_eq!(
        userinfo(&app, user_access).await.status,
        StatusCode::UNAUTHORIZED
    );
    app
});

both_dbs!(
    introspection_follows_the_one_session_model,
    |app| async move {
        let user = app.signup(EMAIL, PASSWORD).await;
        let user_id = text(&user["user"], "id").to_owned();
        let rp = register(&app, json!({})).await;
        let mut b = Browser::new(&app);
        let t = signed_in(&mut b, &rp, EMAIL).await;
        let (access, refresh_token) = (text(&t, "access_token"), text(&t, "refresh_token"));
        let sid = jwt_claims(access)["sid"].clone();
        let active = introspect(&app, &rp, access).await;
        assert_eq!(active["active"], true, "{active}");
        assert_eq!(active["client_id"], rp.id.as_str());
        assert_eq!(active["scope"], "openid email");
        assert_eq!(active["sub"], user_id.as_str());
        assert_eq!(active["token_type"], "Bearer");
        assert_eq!(active["sid"], sid);
        assert_eq!(active["iss"], issuer(&app));
        assert_eq!(active["aud"], app.project.login_id.as_str());
        assert!(active["exp"].is_i64() && active["iat"].is_i64(), "{active}");
        let active = introspect(&app, &rp, refresh_token).await;
        assert_eq!(
            (&active["active"], &active["client_id"], &active["sid"]),
            (&json!(true), &json!(rp.id), &sid)
        );
        assert!(active.get("token_type").is_none(), "{active}");
        // The provider's sign-in is a Protekt session like any other...
        let (status, sessions) = app
            .request(Method::GET, "/v1/sessions", Some(access), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{sessions}");
        let listed = sessions["sessions"].as_array().unwrap();
        assert!(
            listed
                .iter()
                .any(|s| s["id"] == sid && s["current"] == true),
            "{sessions}"
        );
        // ... and ending it ends the client's tokens.
        let (status, body) = app.post_bearer("/v1/auth/logout", access).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for token in [access, refresh_token, "garbage"] {
            assert_eq!(
                introspect(&app, &rp, token).await,
                json!({"active": false}),
                "{token}"
            );
        }
        let answer = refresh(&app, &rp, refresh_token).await;
        assert_eq!(answer.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
        app
    }
);

/// A device authorization request for `openid email` (RFC 8628 §3.1).
async fn start_device(app: &TestApp, rp: &Rp) -> Answer {
    let form = [("scope", "openid email")];
    post_oauth(app, rp, "device_authorization", &form).await
}

/// A device's poll of the token endpoint (RFC 8628 §3.4).
async fn poll(app: &TestApp, rp: &Rp, device_code: &str) -> Answer {
    let form = [("grant_type", DEVICE_GRANT), ("device_code", device_code)];
    post_oauth(app, rp, "token", &form).await
}

both_dbs!(
    device_flow_pending_slow_down_allow_deny_u2,
    |app| async move {
        app.signup(EMAIL, PASSWORD).await;
        let tv = register(
            &app,
            json!({"name": "Living-room TV", "type": "public", "redirectUris": [],
               "grantTypes": [DEVICE_GRANT, "refresh_token"]}),
        )
        .await;
        let started = start_device(&app, &tv).await.ok().clone();
        let user_code = text(&started, "user_code").to_owned();
        let letters: String = user_code.chars().filter(|c| *c != '-').collect();
        assert!(
            user_code.len() == 9
                && &user_code[4..5] == "-"
                && letters.len() == 8
                && letters.chars().all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
            "{user_code}"
        );
        let device_page = format!("{}/device", issuer(&app));
        assert_eq!(started["verification_uri"], device_page);
        assert_eq!(
            started["verification_uri_complete"],
            format!("{device_page}?user_code={user_code}")
        );
        assert_eq!(
            (started["expires_in"].as_u64(), started["interval"].as_u64()),
            (Some(600), Some(5))
        );
        let device_code = text(&started, "device_code").to_owned();
        assert_eq!(
            poll(&app, &tv, &device_code).await.error(),
            (StatusCode::BAD_REQUEST, "authorization_pending")
        );
        assert_eq!(
            poll(&app, &tv, &device_code).await.error(),
            (StatusCode::BAD_REQUEST, "slow_down")
        );
        // On the device page with the code: sign in first, back to the page, then the question.
        let mut b = Browser::new(&app);
        let form = b.get(&format!("device?user_code={user_code}")).await;
        let back = b.log_in(&form, EMAIL).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.html);
        assert_eq!(
            back.location,
            Some(format!("{device_page}?user_code={user_code}"))
        );
        let confirm = b.follow(&back).await;
        assert!(
            confirm.asks_consent() && confirm.html.contains("Living-room TV"),
            "{}",
            confirm.html
        );
        let done = b.decide("device", &confirm, "allow").await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.html);
        assert!(
            done.html.contains("You can return to your device."),
            "{}",
            done.html
        );
        // The poll gets the user's tokens, issued to the device's client; the code is then used.
        let t = poll(&app, &tv, &device_code).await.ok().clone();
        let access = text(&t, "access_token");
        let (status, verified) = app.verify(access).await;
        assert_eq!(status, StatusCode::OK, "{verified}");
        assert_eq!(verified["user"]["email"], EMAIL);
        assert_eq!(verified["claims"]["client_id"], tv.id.as_str());
        assert_eq!(verified["claims"]["scope"], "openid email");
        assert_eq!(jwt_claims(text(&t, "id_token"))["aud"], tv.id.as_str());
        assert!(!text(&t, "refresh_token").is_empty());
        assert_eq!(
            poll(&app, &tv, &device_code).await.error(),
            (StatusCode::BAD_REQUEST, "invalid_grant")
        );
        // Another request: a wrong code is refused on the page; the signed-in browser is asked at
        // once; a cross-site or token-less answer is refused; Deny reaches the device.
        let started = start_device(&app, &tv).await.ok().clone();
        let (user_code, device_code) = (
            text(&started, "user_code"),
            text(&started, "device_code").to_owned(),
        );
        let first = if user_code.starts_with('B') { "C" } else { "B" };
        let wrong = b
            .get(&format!("device?user_code={first}{}", &user_code[1..]))
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.html);
        let confirm = b.get(&format!("device?user_code={user_code}")).await;
        assert!(confirm.asks_consent(), "{}", confirm.html);
        let (flow, csrf) = (confirm.field("flow"), confirm.field("csrf"));
        for (origin, csrf) in [
            ("https://evil.example", csrf.as_str()),
            (app.base.as_str(), ""),
        ] {
            let form = [
                ("flow", flow.as_str()),
                ("csrf", csrf),
                ("user_code", user_code),
                ("decision", "allow"),
            ];
            let request = b
                .http
                .post(b.url("device"))
                .header("origin", origin)
                .form(&form);
            assert_eq!(
                b.send(request).await.status,
                StatusCode::FORBIDDEN,
                "{origin} {csrf:?}"
            );
        }
        assert_eq!(
            poll(&app, &tv, &device_code).await.error(),
            (StatusCode::BAD_REQUEST, "authorization_pending")
        );
        let denied = b.decide("device", &confirm, "deny").await;
        assert!(
            denied.status == StatusCode::OK
                && denied.html.contains("Your device was not connected."),
            "{}",
            denied.html
        );
        assert_eq!(
            poll(&app, &tv, &device_code).await.error(),
            (StatusCode::BAD_REQUEST, "access_denied")
        );
        app
    }
);

both_dbs!(
    rp_initiated_logout_ends_the_session_and_returns_only_if_registered,
    |app| async move {
        app.signup(EMAIL, PASSWORD).await;
        let bye = "https://app.example.com/bye";
        let rp = register(&app, json!({"postLogoutRedirectUris": [bye]})).await;
        let mut b = Browser::new(&app);
        let t = signed_in(&mut b, &rp, EMAIL).await;
        let (access, id_token) = (text(&t, "access_token"), text(&t, "id_token"));
        let logout = |uri: &str| {
            format!(
                "oauth2/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=s1",
                enc(uri)
            )
        };
        // An unregistered post-logout URI: signed out on our page, never a redirect there.
        for uri in ["https://evil.example/bye", "https://app.example.com/bye/"] {
            let page = b.get(&logout(uri)).await;
            assert!(
                page.status == StatusCode::OK && page.html.contains("Signed out"),
                "{uri}: {}",
                page.html
            );
            assert!(page.location.is_none(), "{uri}");
        }
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        // The registered one: signed out, then back to the client with its state.
        let page = b.get(&logout(bye)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        assert_eq!(page.location, Some(format!("{bye}?state=s1")));
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        let answer = refresh(&app, &rp, text(&t, "refresh_token")).await;
        assert_eq!(answer.error(), (StatusCode::BAD_REQUEST, "invalid_grant"));
        let (page, _) = b.authorize(&rp.id, &[]).await;
        assert!(page.to_hosted(&app, "login"), "{:?}", page.location);
        // No post-logout URI: the signed-out page.
        let page = b.get("oauth2/logout").await;
        assert!(
            page.status == StatusCode::OK && page.html.contains("Signed out"),
            "{}",
            page.html
        );
        app
    }
);
