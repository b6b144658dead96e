//! Projects (tenants) and their API keys. A project has a public Login ID (`lp_…`), settings,
//! secret API keys (`pk_live_…`, stored as SHA-256, shown once) and its own signing keys.

use std::sync::Arc;

use crate::clock::Millis;
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::ids::{self, new_id, new_secret, secret_hash};
use crate::model::{
    normalize_redirect, ApiKeyId, KeyId, ManagementToken, Project, ProjectId, ProjectSettings,
};
use crate::store::Store;
use crate::tokens;

/// Checks settings as a whole, naming the field at fault.
pub fn validate_settings(s: &ProjectSettings) -> Result<()> {
    validate_lifetimes(s)?;
    in_range(
        "settings.smsPerHour",
        s.sms_per_hour.max(0) as u64,
        1,
        1_000_000,
    )?;
    in_range(
        "settings.passwordMinLength",
        s.password_min_length as u64,
        8,
        128,
    )?;
    validate_redirects(&s.allowed_redirect_urls)?;
    for (name, limit) in s.rate_limits.named() {
        let field = format!("settings.rateLimits.{name}");
        in_range(&format!("{field}.limit"), limit.limit as u64, 1, 100_000)?;
        in_range(
            &format!("{field}.windowSeconds"),
            limit.window_seconds,
            1,
            86_400,
        )?;
    }
    validate_sms(s)?;
    validate_look(s)?;
    validate_mail(s)
}

/// An https URL without credentials, in the form it is stored.
fn https_url(field: &str, url: &str) -> Result<()> {
    let ok = normalize_redirect(url).is_some_and(|n| n == url && n.starts_with("https://"));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be an absolute https URL (as https://example.com/logo.png)"),
        ))
    }
}

/// Branding and framing of the hosted pages: only values that cannot carry markup or script
/// (SECURITY U6), with text contrast of at least 4.5:1 (WCAG 2.2 AA).
fn validate_look(s: &ProjectSettings) -> Result<()> {
    let b = &s.branding;
    if let Some(url) = &b.logo_url {
        https_url("settings.branding.logoUrl", url)?;
    }
    if let Some(url) = &b.support_url {
        https_url("settings.branding.supportUrl", url)?;
    }
    let (text, _) = b.color_scheme.colors();
    for (field, color, against, what) in [
        (
            "primaryColor",
            &b.primary_color,
            "#ffffff",
            "white button text",
        ),
        (
            "backgroundColor",
            &b.background_color,
            text,
            "the page's text",
        ),
    ] {
        let Some(color) = color else { continue };
        let field = format!("settings.branding.{field}");
        let ratio = crate::model::contrast(color, against).ok_or_else(|| {
            Error::invalid(&field, format!("{field} must be a colour as #1a73e8"))
        })?;
        if ratio < 4.5 {
            return Err(Error::not_allowed(
                &field,
                format!("{color} has a contrast of {ratio:.1}:1 with {what}; at least 4.5:1 is needed to read it"),
            ));
        }
    }
    if b.corner_radius.is_some_and(|r| r > 24) {
        return Err(Error::invalid(
            "settings.branding.cornerRadius",
            "cornerRadius must be 0 to 24 pixels",
        ));
    }
    if s.frame_ancestors.len() > 20 {
        return Err(Error::invalid(
            "settings.frameAncestors",
            "at most 20 origins",
        ));
    }
    for origin in &s.frame_ancestors {
        // Stored as its origin; the documented shape is `^https://[^\s@/]+$`.
        let field = "settings.frameAncestors";
        let shaped = origin.strip_prefix("https://").is_some_and(|host| {
            !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c == '@' || c == '/')
        });
        if !shaped {
            return Err(Error::invalid(
                field,
                format!(
                    "not an https origin (as https://app.example.com): {}",
                    origin.escape_debug()
                ),
            ));
        }
        let parsed = url::Url::parse(origin)
            .ok()
            .map(|u| u.origin().ascii_serialization());
        if parsed.as_deref() != Some(origin.as_str()) {
            return Err(Error::not_allowed(
                field,
                format!("not a valid origin: {}", origin.escape_debug()),
            ));
        }
    }
    Ok(())
}

/// The SMS country allow-list and text overrides.
fn validate_sms(s: &ProjectSettings) -> Result<()> {
    if s.sms_allowed_countries.len() > 300 {
        return Err(Error::invalid(
            "settings.smsAllowedCountries",
            "at most 300 country calling codes",
        ));
    }
    for code in &s.sms_allowed_countries {
        let ok = (1..=3).contains(&code.len())
            && code.chars().all(|c| c.is_ascii_digit())
            && !code.starts_with('0');
        if !ok {
            return Err(Error::invalid(
                "settings.smsAllowedCountries",
                format!(
                    "not a country calling code (1 to 3 digits, no +): {}",
                    code.escape_debug()
                ),
            ));
        }
    }
    for (kind, text) in &s.sms_templates {
        crate::delivery::sms::validate_template(kind, text)
            .map_err(|m| Error::not_allowed(&format!("settings.smsTemplates.{kind}"), m))?;
    }
    Ok(())
}

fn in_range(field: &str, v: u64, lo: u64, hi: u64) -> Result<()> {
    if v < lo || v > hi {
        return Err(Error::invalid(
            field,
            format!("{field} must be between {lo} and {hi}"),
        ));
    }
    Ok(())
}

/// Token, session and link lifetimes, in seconds.
fn validate_lifetimes(s: &ProjectSettings) -> Result<()> {
    in_range("settings.accessTokenTtl", s.access_token_ttl, 60, 86_400)?;
    in_range(
        "settings.sessionLifetime",
        s.session_lifetime,
        300,
        400 * 86_400,
    )?;
    in_range(
        "settings.sessionIdleTimeout",
        s.session_idle_timeout,
        60,
        400 * 86_400,
    )?;
    if s.session_idle_timeout > s.session_lifetime {
        return Err(Error::not_allowed(
            "settings.sessionIdleTimeout",
            "sessionIdleTimeout must be at most sessionLifetime",
        ));
    }
    // Activity is recorded on refresh, so a session must not go idle while its access token
    // is still in use.
    if s.session_idle_timeout < s.access_token_ttl {
        return Err(Error::not_allowed(
            "settings.sessionIdleTimeout",
            "sessionIdleTimeout must be at least accessTokenTtl",
        ));
    }
    in_range("settings.refreshGrace", s.refresh_grace, 0, 60)?;
    in_range("settings.resetTokenTtl", s.reset_token_ttl, 60, 3600)?;
    in_range("settings.magicLinkTtl", s.magic_link_ttl, 60, 3600)?;
    in_range(
        "settings.verificationTokenTtl",
        s.verification_token_ttl,
        60,
        24 * 3600,
    )
}

fn validate_redirects(urls: &[String]) -> Result<()> {
    if urls.len() > 100 {
        return Err(Error::invalid(
            "settings.allowedRedirectUrls",
            "at most 100 redirect URLs",
        ));
    }
    for u in urls {
        // Stored in the parsed, serialised form, so what is compared is what is sent.
        if normalize_redirect(u).as_deref() != Some(u.as_str()) {
            return Err(Error::not_allowed(
                "settings.allowedRedirectUrls",
                format!("not an absolute http(s) URL: {}", u.escape_debug()),
            ));
        }
    }
    Ok(())
}

/// The sender, the SMTP server and the template overrides.
fn validate_mail(s: &ProjectSettings) -> Result<()> {
    if let Some(from) = &s.email_from {
        crate::delivery::mail::parse_mailbox(from)
            .map_err(|_| Error::not_allowed("settings.emailFrom", "not a valid sender address"))?;
    }
    if let Some(smtp) = &s.smtp {
        crate::delivery::mail::validate_smtp(smtp, "settings.smtp")?;
    }
    for (kind, t) in &s.email_templates {
        crate::delivery::mail::validate_override(kind, t)
            .map_err(|m| Error::not_allowed(&format!("settings.emailTemplates.{kind}"), m))?;
    }
    Ok(())
}

/// What `create` hands back once: the only time the API key is visible.
#[derive(Debug, Clone)]
pub struct CreatedProject {
    pub project: Project,
    pub api_key: String,
}

/// Creates a project with one API key and one signing key.
pub async fn create(
    store: &Store,
    master: &MasterKey,
    name: &str,
    settings: ProjectSettings,
    now: Millis,
) -> Result<CreatedProject> {
    create_with_id(store, master, &ids::new(), name, settings, now).await
}

/// Creates a project from a request's settings (a JSON object, possibly empty), checked exactly
/// as a later update would check them (see [`apply_settings_patch`]).
pub async fn create_from_request(
    store: &Store,
    master: &MasterKey,
    name: &str,
    settings_patch: Option<&serde_json::Value>,
    now: Millis,
) -> Result<CreatedProject> {
    let id = ids::new::<ProjectId>();
    let mut settings = ProjectSettings::default();
    if let Some(patch) = settings_patch {
        settings = apply_settings_patch(&settings, patch, master, &id, true)?;
    }
    create_with_id(store, master, &id, name, settings, now).await
}

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "name must be 1 to 100 characters"));
    }
    Ok(name)
}

async fn create_with_id(
    store: &Store,
    master: &MasterKey,
    id: &ProjectId,
    name: &str,
    mut settings: ProjectSettings,
    now: Millis,
) -> Result<CreatedProject> {
    let name = check_name(name)?;
    settings.normalize_redirects();
    validate_settings(&settings)?;
    let project = Project {
        id: id.clone(),
        login_id: new_id("lp"),
        name: name.to_owned(),
        settings,
        created_at: now,
        updated_at: now,
    };
    let api_key = new_secret("pk_live_");
    let key = tokens::generate_signing_key(master, &project.id, project.settings.signing_alg, now)?;
    store
        .projects()
        .insert(
            &project,
            &ids::new::<ApiKeyId>(),
            &secret_hash(&api_key),
            &api_key[..12],
            &key,
        )
        .await?;
    Ok(CreatedProject { project, api_key })
}

/// The project with this public Login ID (hosted pages, JWKS); `NotFound` if there is none.
pub async fn by_login_id(store: &Store, login_id: &str) -> Result<Project> {
    if login_id.len() > 64 {
        return Err(Error::NotFound);
    }
    store
        .projects()
        .by_login_id(login_id)
        .await?
        .ok_or(Error::NotFound)
}

/// The project an API key belongs to; `InvalidApiKey` for a missing, unknown or revoked key.
pub async fn authenticate(store: &Store, api_key: Option<&str>) -> Result<Arc<Project>> {
    let key = api_key
        .filter(|k| k.len() <= 200)
        .ok_or(Error::InvalidApiKey)?;
    store
        .projects()
        .by_api_key(&secret_hash(key))
        .await?
        .ok_or(Error::InvalidApiKey)
}

/// Rolls the project's signing key: new tokens use a fresh key, the old one stays in the JWKS so
/// tokens it signed keep verifying until they expire.
pub async fn rotate_keys(
    store: &Store,
    master: &MasterKey,
    project: &Project,
    now: Millis,
) -> Result<KeyId> {
    let key = tokens::generate_signing_key(master, &project.id, project.settings.signing_alg, now)?;
    let kid = key.id.clone();
    store.signing_keys().rotate(&project.id, &key, now).await?;
    Ok(kid)
}

/// The longest a management token may live.
pub const MAX_MANAGEMENT_TOKEN_TTL_MS: Millis = 366 * 24 * 3600 * 1000;
/// How long a management token lives unless its creator says otherwise.
pub const DEFAULT_MANAGEMENT_TOKEN_TTL_MS: Millis = 90 * 24 * 3600 * 1000;
/// The token printed at first start only gets the operator going (SECURITY P7).
pub const BOOTSTRAP_TOKEN_TTL_MS: Millis = 24 * 3600 * 1000;

/// Creates a management token (`mt_…`) for the projects API, for every project or only
/// `project_id`, living `ttl_ms`. The token is returned once and stored as SHA-256 (SECURITY
/// AS7, P7).
pub async fn create_management_token(
    store: &Store,
    name: &str,
    project_id: Option<&ProjectId>,
    ttl_ms: Millis,
    now: Millis,
) -> Result<(ManagementToken, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "name must be 1 to 100 characters"));
    }
    if !(60_000..=MAX_MANAGEMENT_TOKEN_TTL_MS).contains(&ttl_ms) {
        return Err(Error::invalid(
            "expiresIn",
            "a management token lives between one minute and 366 days",
        ));
    }
    if let Some(id) = project_id {
        store
            .projects()
            .by_id(id)
            .await?
            .ok_or_else(|| Error::not_allowed("projectId", "there is no project with this id"))?;
    }
    let token = new_secret("mt_");
    let info = ManagementToken {
        id: ids::new(),
        name: name.to_owned(),
        project_id: project_id.cloned(),
        created_at: now,
        expires_at: Some(now + ttl_ms),
        last_used_at: None,
    };
    store
        .management_tokens()
        .insert(&info, &secret_hash(&token))
        .await?;
    Ok((info, token))
}

/// Checks a management token: unknown, revoked and expired tokens are `InvalidToken`.
pub async fn authenticate_management(
    store: &Store,
    token: Option<&str>,
    now: Millis,
) -> Result<ManagementToken> {
    let token = token
        .filter(|t| t.starts_with("mt_") && t.len() <= 200)
        .ok_or(Error::InvalidToken)?;
    store
        .management_tokens()
        .by_hash(&secret_hash(token), now)
        .await?
        .ok_or(Error::InvalidToken)
}

/// Applies a partial update to a project: `name`, and `settings` merged at top level (a
/// field given replaces the stored one). The result is validated as a whole; an SMTP password
/// is sealed with the master key before it is stored and never returned.
pub async fn update(
    store: &Store,
    master: &MasterKey,
    project_id: &ProjectId,
    name: Option<&str>,
    settings_patch: Option<&serde_json::Value>,
    now: Millis,
) -> Result<Project> {
    let mut project = store
        .projects()
        .by_id(project_id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(name) = name {
        project.name = check_name(name)?.to_owned();
    }
    if let Some(patch) = settings_patch {
        project.settings =
            apply_settings_patch(&project.settings, patch, master, &project.id, false)?;
    }
    project.updated_at = now.max(project.updated_at + 1);
    store.projects().update(&project).await?;
    Ok(project)
}

/// Applies a settings patch (a JSON object of camelCase settings, each replacing the stored one)
/// to `base`, for project creation and updates alike (SECURITY I1): an unknown setting or a
/// client-supplied sealed SMTP password is refused, a given SMTP password is sealed with the
/// master key (an omitted one keeps the stored one), redirect URLs are normalised, and the
/// result is validated as a whole. The signing algorithm may only be chosen at creation.
pub fn apply_settings_patch(
    base: &ProjectSettings,
    patch: &serde_json::Value,
    master: &MasterKey,
    project_id: &ProjectId,
    creating: bool,
) -> Result<ProjectSettings> {
    let patch = patch
        .as_object()
        .ok_or_else(|| Error::invalid("settings", "settings must be an object"))?;
    let mut merged = serde_json::to_value(base).map_err(|e| anyhow::anyhow!("settings: {e}"))?;
    for (k, v) in patch {
        if k == "signingAlg" && !creating {
            return Err(Error::not_allowed(
                "settings.signingAlg",
                "the signing algorithm is chosen when the project is created",
            ));
        }
        if k == "smtp" && v.get("passwordSealed").is_some() {
            return Err(Error::invalid(
                "settings.smtp.passwordSealed",
                "give the SMTP password as smtp.password; it is sealed by the server",
            ));
        }
        // Every setting serialises (optional ones as null), so `merged` names them all.
        if merged.get(k).is_none() {
            return Err(Error::invalid(
                &format!("settings.{k}"),
                format!("unknown setting {k}"),
            ));
        }
        // Rate limits and branding merge one level down: a patch of one keeps the others.
        match (k.as_str(), merged[k].as_object_mut(), v.as_object()) {
            ("rateLimits" | "branding", Some(stored), Some(given)) => {
                for (name, limit) in given {
                    stored.insert(name.clone(), limit.clone());
                }
            }
            _ => merged[k] = v.clone(),
        }
    }
    let mut settings: ProjectSettings = serde_json::from_value(merged).map_err(|e| {
        let text = e.to_string();
        Error::invalid(
            "settings",
            format!(
                "settings: {}",
                text.split(" at line ").next().unwrap_or(&text)
            ),
        )
    })?;
    if let Some(smtp) = settings.smtp.as_mut() {
        smtp.password_sealed = match smtp.password.take() {
            Some(p) => Some(master.seal(p.as_bytes(), &format!("smtp:{project_id}"))),
            None => base.smtp.as_ref().and_then(|s| s.password_sealed.clone()),
        };
    }
    settings.normalize_redirects();
    validate_settings(&settings)?;
    Ok(settings)
}

/// Adds an API key to a project; returns (key id, the key), the key shown once.
pub async fn create_api_key(
    store: &Store,
    project_id: &ProjectId,
    now: Millis,
) -> Result<(ApiKeyId, String)> {
    store
        .projects()
        .by_id(project_id)
        .await?
        .ok_or(Error::NotFound)?;
    let key = new_secret("pk_live_");
    let id = ids::new::<ApiKeyId>();
    store
        .projects()
        .insert_api_key(project_id, &id, &secret_hash(&key), &key[..12], now)
        .await?;
    Ok((id, key))
}
