//! Universal Login over HTTP: the sign-in page, its browser session and the code hand-off
//! (SECURITY AS2, AS3, AS5, U1-U4, S1, S2, S4, L4). The same flows run in Chromium in
//! tests/browser.

use protekt_core::model::ProjectSettings;
use protekt_testkit::both_dbs_with;
use protekt_testkit::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;

const APP_URL: &str = "https://app.example.com/callback";

fn with_redirect() -> ProjectSettings {
    ProjectSettings {
        allowed_redirect_urls: vec![APP_URL.to_owned()],
        ..ProjectSettings::default()
    }
}

/// A browser: its own cookies, no redirects followed, forms sent from our origin.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// What a page answered.
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
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
        let location = url::Url::parse(self.location.as_ref()?).ok()?;
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
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

    fn url(&self, path: &str) -> String {
        format!("{}/p/{}/{path}", self.app.base, self.app.project.login_id)
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
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
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
            set_cookies,
            html: resp.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path_and_query: &str) -> Page {
        let request = self.http.get(self.url(path_and_query));
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

    /// Opens the login page for `query` and signs in with the form.
    async fn sign_in(&mut self, query: &str, email: &str, password: &str) -> Page {
        let page = self.get(&format!("login?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let (flow, csrf) = (page.field("flow"), page.field("csrf"));
        self.post(
            "login",
            &[
                ("flow", &flow),
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

fn query(extra: &str) -> String {
    format!("redirect_url={}&state=st4te{extra}", urlencode(APP_URL))
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A PKCE pair (verifier, S256 challenge).
fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(protekt_core::ids::random_bytes::<32>());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn exchange(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/v1/auth/exchange", body).await
}

both_dbs_with!(
    sign_in_hands_a_code_to_the_app_as2_as3_s1,
    with_redirect(),
    |app| async move {
        app.signup("ul@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let (verifier, challenge) = pkce();
        let done = browser
            .sign_in(
                &query(&format!(
                    "&code_challenge={challenge}&code_challenge_method=S256"
                )),
                "ul@example.com",
                PASSWORD,
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let location = done.location.clone().unwrap();
        assert!(
            location.starts_with(&format!("{APP_URL}?code=")),
            "{location}"
        );
        assert_eq!(done.param("state").as_deref(), Some("st4te"));
        let code = done.param("code").unwrap();
        assert_eq!(
            data_encoding::BASE64URL_NOPAD
                .decode(code.as_bytes())
                .unwrap()
                .len(),
            32
        );
        // S1: the browser's session cookie is new at sign-in, not the flow's.
        let session_cookie = done
            .set_cookies
            .iter()
            .find(|c| c.starts_with("protekt-session-"))
            .unwrap();
        assert!(
            session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
            "{session_cookie}"
        );
        assert!(
            !app.dump_table("session")
                .await
                .contains(session_cookie.split(['=', ';']).nth(1).unwrap()),
            "stored hashed"
        );

        let (status, body) = exchange(&app, json!({"code": code, "codeVerifier": verifier})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["email"], "ul@example.com");
        let access = body["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(app.verify(&access).await.0, StatusCode::OK);
        let (status, _) = app.refresh(body["refreshToken"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "the app's refresh token works");

        // AS3: the four PKCE cases, each on a code of its own (the live session skips the form).
        let (v2, c2) = pkce();
        for (challenge, verifier, ok) in [
            (Some(c2.as_str()), Some(v2.as_str()), true),
            (Some(c2.as_str()), Some(verifier.as_str()), false),
            (Some(c2.as_str()), None, false),
            (None, Some(v2.as_str()), false),
            (None, None, true),
        ] {
            let extra = challenge
                .map(|c| format!("&code_challenge={c}&code_challenge_method=S256"))
                .unwrap_or_default();
            let sso = browser.get(&format!("login?{}", query(&extra))).await;
            assert_eq!(sso.status, StatusCode::SEE_OTHER, "{}", sso.html);
            let mut body = json!({"code": sso.param("code").unwrap()});
            if let Some(v) = verifier {
                body["codeVerifier"] = json!(v);
            }
            let (status, answer) = exchange(&app, body).await;
            if ok {
                assert_eq!(status, StatusCode::OK, "{answer}");
            } else {
                assert_eq!(
                    (status, answer["error"]["code"].as_str()),
                    (StatusCode::UNAUTHORIZED, Some("invalid_token"))
                );
            }
        }
        app
    }
);

both_dbs_with!(
    a_code_works_once_and_a_replay_ends_its_session_as2,
    with_redirect(),
    |app| async move {
        app.signup("replay@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let done = browser
            .sign_in(&query(""), "replay@example.com", PASSWORD)
            .await;
        let code = done.param("code").unwrap();
        // Ten at once: one wins.
        let attempts = (0..10).map(|_| exchange(&app, json!({"code": code})));
        let results = futures::future::join_all(attempts).await;
        let winners: Vec<&Value> = results
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .map(|(_, b)| b)
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        // The losers were replays: the session the code was for has ended, tokens and all.
        let access = winners[0]["accessToken"].as_str().unwrap();
        assert_eq!(app.verify(access).await.0, StatusCode::UNAUTHORIZED);
        assert_ne!(
            app.refresh(winners[0]["refreshToken"].as_str().unwrap())
                .await
                .0,
            StatusCode::OK
        );
        // And so has the browser's: the next visit asks for the password again.
        let again = browser.get(&format!("login?{}", query(""))).await;
        assert_eq!(again.status, StatusCode::OK);
        // Codes expire after 60 seconds, and are bound to their redirect URL.
        let done = browser
            .sign_in(&query(""), "replay@example.com", PASSWORD)
            .await;
        let (status, _) = exchange(&app, json!({"code": done.param("code").unwrap(), "redirectUrl": "https://app.example.com/other"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "another redirect URL");
        let sso = browser.get(&format!("login?{}", query(""))).await;
        let code = sso.param("code").unwrap();
        app.clock.advance(std::time::Duration::from_secs(61));
        let (status, _) = exchange(&app, json!({"code": code})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
        app
    }
);

both_dbs_with!(
    refused_redirects_show_our_page_never_a_redirect_as1_as5_u1,
    with_redirect(),
    |app| async move {
        let mut browser = Browser::new(&app);
        for q in [
            format!("redirect_url={}", urlencode("https://evil.test/callback")),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com.evil.test/callback")
            ),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com@evil.test/callback")
            ),
            format!("redirect_url={}", urlencode("//evil.test/callback")),
            format!("redirect_url={}", urlencode("javascript:alert(1)")),
            // AS1: exact match, after parsing, of every variant.
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com/callback/../x")
            ),
            format!(
                "redirect_url={}",
                urlencode("http://app.example.com/callback")
            ),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com./callback")
            ),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com/Callback")
            ),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com%2f@evil.test/callback")
            ),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com/callback?next=x")
            ),
            format!(
                "redirect_url={}",
                urlencode("https://app.example.com:8443/callback")
            ),
            format!(
                "{}&code_challenge=abc&code_challenge_method=plain",
                query("")
            ),
            format!("{}&code_challenge_method=S256", query("")),
        ] {
            let page = browser.get(&format!("login?{q}")).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{q}");
            assert!(page.location.is_none(), "{q}");
            assert!(page.html.contains("Cannot sign in"), "{q}: {}", page.html);
        }
        // No redirect URL: the project's first allowed one.
        let page = browser.get("login").await;
        assert_eq!(page.status, StatusCode::OK);
        app
    }
);

both_dbs_with!(
    forms_need_their_token_their_browser_and_our_origin_u2_u3,
    with_redirect(),
    |app| async move {
        app.signup("csrf@example.com", PASSWORD).await;
        let mut a = Browser::new(&app);
        let page = a.get(&format!("login?{}", query(""))).await;
        let (flow, csrf) = (page.field("flow"), page.field("csrf"));
        let form = |csrf: &str| {
            vec![
                ("flow".to_owned(), flow.clone()),
                ("csrf".to_owned(), csrf.to_owned()),
                ("email".to_owned(), "csrf@example.com".to_owned()),
                ("password".to_owned(), PASSWORD.to_owned()),
            ]
        };
        // No CSRF token.
        let request = a
            .http
            .post(a.url("login"))
            .header("origin", &app.base)
            .form(&form(""));
        assert_eq!(a.send(request).await.status, StatusCode::FORBIDDEN);
        // Another site's form, by Origin or by Sec-Fetch-Site.
        let request = a
            .http
            .post(a.url("login"))
            .header("origin", "https://evil.test")
            .form(&form(&csrf));
        assert_eq!(a.send(request).await.status, StatusCode::FORBIDDEN);
        let request = a
            .http
            .post(a.url("login"))
            .header("sec-fetch-site", "cross-site")
            .form(&form(&csrf));
        assert_eq!(a.send(request).await.status, StatusCode::FORBIDDEN);
        // What Chromium sends from our no-referrer pages: `Origin: null` and Sec-Fetch-Site.
        let request = a
            .http
            .post(a.url("login"))
            .header("origin", "null")
            .header("sec-fetch-site", "cross-site")
            .form(&form(&csrf));
        assert_eq!(a.send(request).await.status, StatusCode::FORBIDDEN);
        // U3: the flow finished in another browser (its own cookies, the first one's form).
        let mut b = Browser::new(&app);
        b.get(&format!("login?{}", query(""))).await;
        let request = b
            .http
            .post(b.url("login"))
            .header("origin", &app.base)
            .form(&form(&csrf));
        let page = b.send(request).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.location.is_none());
        // The browser that started it still can, as Chromium posts it.
        let request = a
            .http
            .post(a.url("login"))
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .form(&form(&csrf));
        let done = a.send(request).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        app
    }
);

both_dbs_with!(
    a_live_browser_session_skips_the_form_until_it_ends_s4,
    with_redirect(),
    |app| async move {
        app.signup("sso@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let done = browser
            .sign_in(&query(""), "sso@example.com", PASSWORD)
            .await;
        let (_, tokens) = exchange(&app, json!({"code": done.param("code").unwrap()})).await;
        // A second app's visit: straight back with a code.
        let sso = browser.get(&format!("login?{}", query(""))).await;
        assert_eq!(sso.status, StatusCode::SEE_OTHER);
        let (status, second) = exchange(&app, json!({"code": sso.param("code").unwrap()})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(second["user"]["id"], tokens["user"]["id"]);
        // Unless the app asks for the password again.
        let page = browser
            .get(&format!("login?{}&prompt=login", query("")))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        // Ending the session by the API ends the browser's sign-in too.
        let (status, _) = app
            .post_bearer("/v1/auth/logout", tokens["accessToken"].as_str().unwrap())
            .await;
        assert_eq!(status, StatusCode::OK);
        let page = browser.get(&format!("login?{}", query(""))).await;
        assert_eq!(page.status, StatusCode::OK, "the form again");
        assert_eq!(
            app.verify(second["accessToken"].as_str().unwrap()).await.0,
            StatusCode::UNAUTHORIZED
        );
        // Sign-out through the page: the session ends and the browser goes back to the app.
        browser
            .sign_in(&query(""), "sso@example.com", PASSWORD)
            .await;
        let out = browser
            .get(&format!("logout?redirect_url={}", urlencode(APP_URL)))
            .await;
        assert_eq!(
            (out.status, out.location.as_deref()),
            (StatusCode::SEE_OTHER, Some(APP_URL))
        );
        assert!(out.set_cookies.iter().any(|c| c.contains("Max-Age=0")));
        let out = browser
            .get(&format!(
                "logout?redirect_url={}",
                urlencode("https://evil.test/")
            ))
            .await;
        assert_eq!(
            (out.status, out.location),
            (StatusCode::OK, None),
            "never to a URL the project does not allow"
        );
        app
    }
);

both_dbs_with!(
    wrong_passwords_and_unknown_accounts_read_alike_l4,
    with_redirect(),
    |app| async move {
        app.signup("known@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let wrong = browser
            .sign_in(&query(""), "known@example.com", "not-the-password")
            .await;
        let unknown = browser
            .sign_in(&query(""), "nobody@example.com", "not-the-password")
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.status, unknown.status);
        assert!(wrong.html.contains("Wrong email or password."));
        // The same page but for the address typed and the per-page secrets.
        let strip = |page: &Page, email: &str| {
            let mut text = page
                .html
                .replace(email, "EMAIL")
                .replace(&page.field("flow"), "FLOW");
            for marker in ["name=\"csrf\" value=\"", "nonce=\""] {
                let start = text.find(marker).unwrap() + marker.len();
                let end = text[start..].find('"').unwrap() + start;
                text.replace_range(start..end, "X");
            }
            text
        };
        assert_eq!(
            strip(&wrong, "known@example.com"),
            strip(&unknown, "nobody@example.com")
        );
        app
    }
);

both_dbs_with!(
    the_second_factor_on_the_page,
    with_redirect(),
    |app| async move {
        let (_, secret) = crate::mfa::with_totp(&app, "mfa-ul@example.com").await;
        let mut browser = Browser::new(&app);
        let page = browser
            .sign_in(&query(""), "mfa-ul@example.com", PASSWORD)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(page.html.contains("Verification code"));
        let (flow, csrf) = (page.field("flow"), page.field("csrf"));
        let wrong = browser
            .post(
                "mfa",
                &[("flow", &flow), ("csrf", &csrf), ("code", "000000")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let code = crate::mfa::now_code(&app, &secret);
        let done = browser
            .post("mfa", &[("flow", &flow), ("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let (status, body) = exchange(&app, json!({"code": done.param("code").unwrap()})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let claims = jwt_claims(body["accessToken"].as_str().unwrap());
        assert_eq!(
            (claims["amr"].clone(), claims["aal"].clone()),
            (json!(["pwd", "otp"]), json!("aal2"))
        );
        // The flow is over: its form cannot be sent again.
        let again = browser
            .post("mfa", &[("flow", &flow), ("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        app
    }
);

/// Behind https the cookies are `__Host-` cookies (SECURITY S2) and pages carry HSTS (U4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_behind_https_are_host_cookies_s2_u4() {
    let app = TestApp::spawn_with_public_url(Db::Sqlite, "https://auth.example.com").await;
    let mgmt = app.management_token().await;
    app.manage(
        Method::PATCH,
        &format!("/v1/projects/{}", app.project.id),
        &mgmt,
        Some(json!({"settings": {"allowedRedirectUrls": [APP_URL]}})),
    )
    .await;
    let mut browser = Browser::new(&app);
    let page = browser.get(&format!("login?{}", query(""))).await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = &page.set_cookies[0];
    assert!(
        cookie.starts_with(&format!("__Host-protekt-flow-{}=", app.project.login_id)),
        "{cookie}"
    );
    for attribute in ["Path=/;", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"));
    let resp = reqwest::get(browser.url("login")).await.unwrap();
    assert!(resp.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'nonce-"),
        "{csp}"
    );
    app.finish().await;
}

/// The code of the newest `sign_in_code` email to `to`.
async fn emailed_code(app: &TestApp, to: &str, n: usize) -> String {
    app.wait_for_email(to, "sign_in_code", n).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

both_dbs_with!(
    sign_up_proves_the_address_and_reads_alike_for_known_ones_l4,
    with_redirect(),
    |app| async move {
        app.signup("taken@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let login = browser.get(&format!("login?{}", query(""))).await;
        let flow = login.field("flow");
        let form = browser.get(&format!("signup?flow={flow}")).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let csrf = form.field("csrf");
        // A weak password is refused on the form, before anything is sent.
        let weak = browser
            .post(
                "signup",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "new@example.com"),
                    ("password", "password"),
                ],
            )
            .await;
        assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(weak.html.contains("Choose a stronger password"));
        // A new address and a taken one get the same page.
        let new = browser
            .post(
                "signup",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "new@example.com"),
                    ("password", "a-new-passphrase-42"),
                ],
            )
            .await;
        let taken = browser
            .post(
                "signup",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "taken@example.com"),
                    ("password", "a-new-passphrase-42"),
                ],
            )
            .await;
        assert_eq!(new.status, taken.status);
        assert_eq!(
            new.html
                .replace("new@example.com", "E")
                .replace(&new.field("csrf"), "C"),
            taken
                .html
                .replace("taken@example.com", "E")
                .replace(&taken.field("csrf"), "C")
                .split("nonce=")
                .next()
                .unwrap()
                .to_owned()
                + "nonce="
                + new.html.split("nonce=").nth(1).unwrap(),
        );
        // The code finishes the sign-up: a verified account with the password chosen.
        let mut browser = Browser::new(&app);
        let login = browser.get(&format!("login?{}", query(""))).await;
        let flow = login.field("flow");
        let csrf = browser
            .get(&format!("signup?flow={flow}"))
            .await
            .field("csrf");
        let page = browser
            .post(
                "signup",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "fresh@example.com"),
                    ("password", "a-new-passphrase-42"),
                ],
            )
            .await;
        assert!(page.html.contains("fresh@example.com"), "{}", page.html);
        let code = emailed_code(&app, "fresh@example.com", 1).await;
        let wrong = browser
            .post(
                "code",
                &[("flow", &flow), ("csrf", &csrf), ("code", "000000")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let done = browser
            .post("code", &[("flow", &flow), ("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let (status, body) = exchange(&app, json!({"code": done.param("code").unwrap()})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user"]["emailVerified"], true);
        assert_eq!(
            app.login("fresh@example.com", "a-new-passphrase-42")
                .await
                .0,
            StatusCode::OK
        );
        app
    }
);

both_dbs_with!(
    sign_in_by_emailed_code_and_forgot_password,
    ProjectSettings {
        hosted_email_code: true,
        ..with_redirect()
    },
    |app| async move {
        app.signup("code@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let login = browser.get(&format!("login?{}", query(""))).await;
        assert!(login.html.contains("name=\"method\" value=\"code\""));
        let (flow, csrf) = (login.field("flow"), login.field("csrf"));
        let page = browser
            .post(
                "login",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "code@example.com"),
                    ("method", "code"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let code = emailed_code(&app, "code@example.com", 1).await;
        let done = browser
            .post("code", &[("flow", &flow), ("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let (_, body) = exchange(&app, json!({"code": done.param("code").unwrap()})).await;
        assert_eq!(
            jwt_claims(body["accessToken"].as_str().unwrap())["amr"],
            json!(["email_otp"])
        );

        // Forgot password: the same answer for every address, a link for the known one.
        let mut browser = Browser::new(&app);
        let login = browser
            .get(&format!("login?{}&prompt=login", query("")))
            .await;
        let flow = login.field("flow");
        let form = browser.get(&format!("forgot-password?flow={flow}")).await;
        let csrf = form.field("csrf");
        let known = browser
            .post(
                "forgot-password",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "code@example.com"),
                ],
            )
            .await;
        let unknown = browser
            .post(
                "forgot-password",
                &[
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("email", "ghost@example.com"),
                ],
            )
            .await;
        assert_eq!(
            (known.status, unknown.status),
            (StatusCode::OK, StatusCode::OK)
        );
        assert!(known.html.contains("If an account uses this address"));
        assert_eq!(
            known.html.split("nonce=").next(),
            unknown.html.split("nonce=").next()
        );
        app.wait_for_email("code@example.com", "password_reset", 1)
            .await;
        assert_eq!(
            app.count_emails("ghost@example.com", "password_reset")
                .await,
            0
        );
        app
    }
);

both_dbs_with!(
    pages_speak_french_and_wear_the_projects_branding_u6,
    ProjectSettings {
        branding: protekt_core::model::Branding {
            logo_url: Some("https://cdn.example.com/logo.png".into()),
            primary_color: Some("#0b5394".into()),
            corner_radius: Some(12),
            support_url: Some("https://help.example.com/".into()),
            ..Default::default()
        },
        frame_ancestors: vec!["https://app.example.com".into()],
        hosted_signup: false,
        ..with_redirect()
    },
    |app| async move {
        let mut browser = Browser::new(&app);
        let page = browser.get(&format!("login?{}&lang=fr", query(""))).await;
        assert!(page.html.contains("<html lang=\"fr\">"));
        assert!(page.html.contains("Mot de passe oublié ?"));
        assert!(!page.html.contains("signup?flow"), "sign-up is off");
        assert!(page.html.contains("--primary:#0b5394") && page.html.contains("--r:12px"));
        // HTML-escaped as every value: `/` is `&#x2f;`.
        let html = page.html.replace("&#x2f;", "/");
        assert!(html.contains("src=\"https://cdn.example.com/logo.png\""));
        assert!(html.contains("href=\"https://help.example.com/\""));
        let resp = reqwest::Client::new()
            .get(browser.url("login"))
            .header("accept-language", "fr-CA,fr;q=0.9,en;q=0.5")
            .send()
            .await
            .unwrap();
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("img-src https://cdn.example.com"), "{csp}");
        assert!(
            csp.contains("frame-ancestors https://app.example.com"),
            "{csp}"
        );
        assert!(resp.headers().get("x-frame-options").is_none());
        assert!(resp.text().await.unwrap().contains("Connectez-vous"));
        // Sign-up is off.
        let flow = page.field("flow");
        assert_eq!(
            browser.get(&format!("signup?flow={flow}")).await.status,
            StatusCode::NOT_FOUND
        );
        // Settings that could carry markup, or that nobody could read, are refused.
        let mgmt = app.management_token().await;
        let path = format!("/v1/projects/{}", app.project.id);
        for (branding, field) in [
            (
                json!({"primaryColor": "red;}</style><script>"}),
                "settings.branding.primaryColor",
            ),
            (
                json!({"primaryColor": "#ffff00"}),
                "settings.branding.primaryColor",
            ),
            (
                json!({"backgroundColor": "#222222"}),
                "settings.branding.backgroundColor",
            ),
            (
                json!({"logoUrl": "javascript:alert(1)"}),
                "settings.branding.logoUrl",
            ),
            (
                json!({"logoUrl": "http://cdn.example.com/logo.png"}),
                "settings.branding.logoUrl",
            ),
            (
                json!({"cornerRadius": 99}),
                "settings.branding.cornerRadius",
            ),
            (json!({"css": "body{}"}), "settings"),
        ] {
            let (status, body) = app
                .manage(
                    Method::PATCH,
                    &path,
                    &mgmt,
                    Some(json!({"settings": {"branding": branding}})),
                )
                .await;
            assert!(status.is_client_error(), "{branding}: {body}");
            assert!(
                body["error"]["field"].as_str().unwrap().starts_with(field),
                "{branding}: {body}"
            );
        }
        let (status, body) = app
            .manage(
                Method::PATCH,
                &path,
                &mgmt,
                Some(json!({"settings": {"frameAncestors": ["https://a.test/path"]}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // A patch of one branding field keeps the others; null removes one.
        let (status, body) = app
            .manage(
                Method::PATCH,
                &path,
                &mgmt,
                Some(json!({"settings": {"branding": {"logoUrl": null, "colorScheme": "dark"}}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["settings"]["branding"]["primaryColor"], "#0b5394");
        assert_eq!(body["settings"]["branding"]["logoUrl"], Value::Null);
        app
    }
);

both_dbs_with!(
    the_signed_in_page_shows_who_and_signs_out,
    with_redirect(),
    |app| async move {
        app.signup("home@example.com", PASSWORD).await;
        let mut browser = Browser::new(&app);
        let away = browser.get("").await;
        assert_eq!(
            away.status,
            StatusCode::SEE_OTHER,
            "no session: the sign-in page"
        );
        browser
            .sign_in(&query(""), "home@example.com", PASSWORD)
            .await;
        let home = browser.get("").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.html.contains("home@example.com") && home.html.contains("logout"));
        app
    }
);

both_dbs_with!(
    every_hosted_page_carries_the_security_headers_u4_u5,
    with_redirect(),
    |app| async move {
        let base = format!("{}/p/{}", app.base, app.project.login_id);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for path in [
            format!("{base}/login?{}", query("")),
            format!("{base}/login?redirect_url=https%3A%2F%2Fevil.test%2F"),
            format!("{base}/signup?flow=nope"),
            format!("{base}/forgot-password?flow=nope"),
            format!("{base}/logout"),
            format!("{base}/magic-link?token=nope"),
            format!("{base}/verify-email?token=nope"),
            format!("{base}/reset-password?token=nope"),
            format!("{}/p/lp_nope/login", app.base),
        ] {
            let resp = client
                .get(&path)
                .header("origin", "https://evil.test")
                .send()
                .await
                .unwrap();
            let h = resp.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            for part in [
                "default-src 'none'",
                "script-src 'nonce-",
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "object-src 'none'",
            ] {
                assert!(csp.contains(part), "{path}: {csp}");
            }
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
            assert_eq!(h["cache-control"], "no-store", "{path}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
            // U5: no origin is ever reflected.
            assert!(h.get("access-control-allow-origin").is_none(), "{path}");
            assert!(
                h["content-type"].to_str().unwrap().starts_with("text/html"),
                "{path}"
            );
        }
        let resp = client
            .post(format!("{}/v1/auth/exchange", app.base))
            .header("origin", "https://evil.test")
            .header("x-api-key", &app.api_key)
            .json(&json!({"code": "nope"}))
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        app
    }
);

/// A project whose name carries markup: every page shows it as text (SECURITY U6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_name_is_text_on_every_page_u6() {
    let app = TestApp::spawn_with(Db::Sqlite, with_redirect()).await;
    let mgmt = app.management_token().await;
    let (status, _) = app
        .manage(
            Method::PATCH,
            &format!("/v1/projects/{}", app.project.id),
            &mgmt,
            Some(json!({"name": "Acme <script>alert(1)</script>"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut browser = Browser::new(&app);
    let page = browser.get(&format!("login?{}", query(""))).await;
    assert!(!page.html.contains("<script>alert(1)"), "{}", page.html);
    assert!(page.html.contains("Acme &lt;script&gt;"));
    app.finish().await;
}

/// What no handler can answer under /p/ is still a page of ours, never plain text or JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_under_p_is_a_page() {
    let app = TestApp::spawn_with(Db::Sqlite, with_redirect()).await;
    let base = format!("{}/p/{}", app.base, app.project.login_id);
    let client = reqwest::Client::new();
    for (request, status) in [
        (client.get(format!("{base}/nope")), StatusCode::NOT_FOUND),
        (
            client.put(format!("{base}/login")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            client
                .post(format!("{base}/login"))
                .json(&json!({"flow": "x"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            client.get(format!("{base}/login?redirect_url=a&redirect_url=b")),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), status);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
    }
    app.finish().await;
}
