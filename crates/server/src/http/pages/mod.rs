//! Hosted pages under `/p/{loginId}/…`: server-rendered from minijinja templates shipped in the
//! binary (`crates/server/templates/`, HTML auto-escaped), one file per flow. They work without
//! JavaScript; the one script (with this response's nonce) only tidies the address bar.
//!
//! Every page carries the same headers (SECURITY U4, F5): a strict CSP whose only script is the
//! one with this response's nonce, no framing (unless the project allow-lists origins), no
//! referrer, no caching, no sniffing. A page whose form may lead to another origin (a redirect
//! back to the app) names that origin in `form-action`, or browsers refuse to follow the
//! redirect.
//!
//! Every page speaks the visitor's language (`?lang=`, else `Accept-Language`, else English)
//! from the catalogs in `crates/server/locales/`, and wears the project's branding: validated
//! colours, radius and logo become CSS custom properties, never raw CSS or HTML (U6).

mod email_links;
mod login;
mod magic_link;
mod provider;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use minijinja::Environment;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use protekt_core::model::Project;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    email_links::router()
        .merge(magic_link::router())
        .merge(login::router())
        .merge(provider::router())
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../../../templates/base.html")),
        (
            "message.html",
            include_str!("../../../templates/message.html"),
        ),
        (
            "verify_email.html",
            include_str!("../../../templates/verify_email.html"),
        ),
        (
            "reset_password.html",
            include_str!("../../../templates/reset_password.html"),
        ),
        (
            "magic_link.html",
            include_str!("../../../templates/magic_link.html"),
        ),
        ("login.html", include_str!("../../../templates/login.html")),
        (
            "signup.html",
            include_str!("../../../templates/signup.html"),
        ),
        ("code.html", include_str!("../../../templates/code.html")),
        (
            "forgot_password.html",
            include_str!("../../../templates/forgot_password.html"),
        ),
        ("mfa.html", include_str!("../../../templates/mfa.html")),
        ("home.html", include_str!("../../../templates/home.html")),
        (
            "consent.html",
            include_str!("../../../templates/consent.html"),
        ),
        (
            "device.html",
            include_str!("../../../templates/device.html"),
        ),
    ] {
        if let Err(e) = env.add_template(name, source) {
            // The templates ship in the binary; a broken one is caught by every page test.
            tracing::error!(error = %e, template = name, "a hosted-page template does not compile");
        }
    }
    env
});

/// The message catalogs, by language: English, and the others over it (a key a translation
/// lacks falls back to English).
static CATALOGS: LazyLock<BTreeMap<&'static str, serde_json::Value>> = LazyLock::new(|| {
    let parse = |source: &str| serde_json::from_str(source).unwrap_or(serde_json::Value::Null);
    let english: serde_json::Value = parse(include_str!("../../../locales/en.json"));
    let mut catalogs = BTreeMap::new();
    // One entry per translation: a new language is a file in locales/ and a line here.
    #[allow(clippy::single_element_loop)]
    for (lang, source) in [("fr", include_str!("../../../locales/fr.json"))] {
        let mut merged = english.clone();
        overlay(&mut merged, parse(source));
        catalogs.insert(lang, merged);
    }
    catalogs.insert("en", english);
    catalogs
});

fn overlay(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                overlay(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

/// The page's language: `?lang=` if we speak it, else the first of `Accept-Language` we speak
/// (by weight), else English.
fn language(query: Option<&str>, headers: &HeaderMap) -> &'static str {
    let known = |tag: &str| {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        CATALOGS.keys().copied().find(|k| *k == primary)
    };
    let asked = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| known(&v))
    });
    if let Some(lang) = asked {
        return lang;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut weighted: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some((q, tag))
        })
        .collect();
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0));
    weighted
        .into_iter()
        .filter(|(q, _)| *q > 0.0)
        .find_map(|(_, tag)| known(tag))
        .unwrap_or("en")
}

/// How a page looks and speaks: the visitor's language and the project's branding.
pub(crate) struct Look {
    lang: &'static str,
    project: Option<Project>,
}

impl Look {
    /// The page's language (`en`, `fr`).
    pub(crate) fn lang(&self) -> &'static str {
        self.lang
    }

    fn catalog(&self) -> &'static serde_json::Value {
        &CATALOGS[self.lang]
    }

    /// A message of the catalog by its dotted key (the key itself if it is missing, which the
    /// catalog test forbids).
    pub(crate) fn text(&self, key: &str) -> String {
        key.split('.')
            .try_fold(self.catalog(), |v, k| v.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or(key)
            .to_owned()
    }

    /// The branding as template values: only validated colours, a radius and https URLs.
    fn brand(&self) -> minijinja::Value {
        let b = self
            .project
            .as_ref()
            .map(|p| p.settings.branding.clone())
            .unwrap_or_default();
        let (text, background) = b.color_scheme.colors();
        minijinja::context! {
            primary => b.primary_color.unwrap_or_else(|| "#2740c9".to_owned()),
            background => b.background_color.unwrap_or_else(|| background.to_owned()),
            text => text,
            muted => if text == "#1a1a1a" { "#555555" } else { "#c4c4c4" },
            error => if text == "#1a1a1a" { "#b00020" } else { "#ff8a80" },
            radius => b.corner_radius.unwrap_or(6),
            logo => b.logo_url,
            support => b.support_url,
        }
    }

    /// Where the page's images may come from: the logo's origin only.
    fn image_origin(&self) -> Option<String> {
        let logo = self
            .project
            .as_ref()?
            .settings
            .branding
            .logo_url
            .as_deref()?;
        url::Url::parse(logo)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    }

    fn frame_ancestors(&self) -> Vec<String> {
        self.project
            .as_ref()
            .map(|p| p.settings.frame_ancestors.clone())
            .unwrap_or_default()
    }
}

/// Renders `template` with `context` (plus the language, the catalog, the branding and the
/// script nonce) into a page with the hosted-page headers. `form_target`: a URL the page's
/// form may redirect to.
pub(crate) fn render(
    status: StatusCode,
    template: &str,
    look: &Look,
    context: minijinja::Value,
    form_target: Option<&str>,
) -> Response {
    let nonce: String = protekt_core::ids::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let project_name = look
        .project
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let html = TEMPLATES.get_template(template).and_then(|t| {
        t.render(minijinja::context! {
            nonce => nonce,
            lang => look.lang,
            t => minijinja::Value::from_serialize(look.catalog()),
            brand => look.brand(),
            project => project_name,
            ..context
        })
    });
    let (status, html) = match html {
        Ok(html) => (status, html),
        Err(e) => {
            tracing::error!(error = %e, template, "cannot render a hosted page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".to_owned(),
            )
        }
    };
    let origin = form_target
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let images = look
        .image_origin()
        .map(|o| format!("; img-src {o}"))
        .unwrap_or_default();
    let ancestors = look.frame_ancestors();
    let framing = if ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        ancestors.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'{images}; form-action 'self'{origin}; \
         frame-ancestors {framing}; base-uri 'none'; object-src 'none'"
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if ancestors.is_empty() {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(look.lang),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The project of a hosted page, from the `{login_id}` in its path, and the page's look; a
/// "not found" page if there is none.
pub(crate) struct Hosted {
    pub project: Project,
    pub look: Look,
}

impl FromRequestParts<AppState> for Hosted {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = language(parts.uri.query(), &parts.headers);
        let not_found = || {
            let look = Look {
                lang,
                project: None,
            };
            let text = look.text("not_found.text");
            message(StatusCode::NOT_FOUND, &look, "not_found.title", &text, true)
        };
        let Path(params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        let login_id = params.get("login_id").ok_or_else(not_found)?;
        let project = protekt_core::projects::by_login_id(&state.store, login_id)
            .await
            .map_err(|_| not_found())?;
        Ok(Hosted {
            look: Look {
                lang,
                project: Some(project.clone()),
            },
            project,
        })
    }
}

/// A page that only says something: its title from the catalog (`title_key`), its text as
/// given (`error`: shown as an alert).
pub(crate) fn message(
    status: StatusCode,
    look: &Look,
    title_key: &str,
    text: &str,
    error: bool,
) -> Response {
    render(
        status,
        "message.html",
        look,
        minijinja::context! { title => look.text(title_key), message => text, error => error },
        None,
    )
}

/// A page of ours where no handler could answer (no such page, a method it does not take, a
/// form or query that cannot be read): `what` names its title and text in the catalog.
pub(crate) fn failure_page(
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    status: StatusCode,
    what: &str,
) -> Response {
    let look = Look {
        lang: language(uri.query(), headers),
        project: None,
    };
    let text = look.text(&format!("{what}.text"));
    message(status, &look, &format!("{what}.title"), &text, true)
}

/// A page's form: one that cannot be read (another content type, a malformed body) is
/// answered with a page, never plain text.
pub(crate) struct PageForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PageForm<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let (uri, headers) = (req.uri().clone(), req.headers().clone());
        match axum::extract::Form::<T>::from_request(req, state).await {
            Ok(axum::extract::Form(value)) => Ok(PageForm(value)),
            Err(_) => Err(failure_page(
                &uri,
                &headers,
                StatusCode::BAD_REQUEST,
                "bad_form",
            )),
        }
    }
}

/// A page's query string: one that cannot be read is answered with a page.
pub(crate) struct PageQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for PageQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(PageQuery(value)),
            Err(_) => Err(failure_page(
                &parts.uri,
                &parts.headers,
                StatusCode::BAD_REQUEST,
                "bad_form",
            )),
        }
    }
}

/// An unexpected failure: logged with its cause, answered with a generic page.
pub(crate) fn unexpected(look: &Look, page: &str, e: protekt_core::Error) -> Response {
    tracing::error!(error = ?e, page, "hosted page failed");
    let text = look.text("failure.text");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        look,
        "failure.title",
        &text,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every language has every message, and nothing else.
    #[test]
    fn catalogs_hold_the_same_keys() {
        fn keys(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => m
                    .iter()
                    .for_each(|(k, v)| keys(v, &format!("{prefix}{k}."), out)),
                serde_json::Value::String(_) => out.push(prefix.to_owned()),
                other => panic!("{prefix}: not text: {other}"),
            }
        }
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        let mut en = Vec::new();
        keys(
            &parse(include_str!("../../../locales/en.json")),
            "",
            &mut en,
        );
        let mut fr = Vec::new();
        keys(
            &parse(include_str!("../../../locales/fr.json")),
            "",
            &mut fr,
        );
        assert_eq!(en, fr);
    }

    #[test]
    fn the_language_is_asked_for_or_accepted() {
        let mut h = HeaderMap::new();
        assert_eq!(language(None, &h), "en");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-DE, fr-CA;q=0.8, en;q=0.5"),
        );
        assert_eq!(language(None, &h), "fr");
        assert_eq!(language(Some("lang=en"), &h), "en");
        assert_eq!(language(Some("lang=xx"), &h), "fr");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr;q=0, en"),
        );
        assert_eq!(language(None, &h), "en");
    }
}
