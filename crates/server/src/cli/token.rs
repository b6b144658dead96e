//! `protekt token create|list|revoke`: management tokens for the projects API.

use clap::Subcommand;
use protekt_core::clock::rfc3339;
use protekt_core::projects;

use super::Globals;
use crate::app;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a management token and print it (shown once).
    Create {
        #[arg(long, default_value = "cli")]
        name: String,
        /// Limit the token to one project (its Login ID `lp_…` or id `prj_…`).
        #[arg(long)]
        project: Option<String>,
        /// Lifetime in days (1 to 366).
        #[arg(long, default_value_t = 90)]
        expires_in_days: u32,
    },
    /// List the management tokens that are not revoked (never the tokens themselves).
    List,
    /// Revoke a management token by its id (`mgt_…`).
    Revoke { id: String },
}

pub async fn token(g: &Globals, command: TokenCommand) -> anyhow::Result<()> {
    let db = g.database_url.as_deref();
    let store = app::open_store(&g.data_dir, db).await?;
    let now = protekt_core::clock::Clock::new().now();
    match command {
        TokenCommand::Create {
            name,
            project,
            expires_in_days,
        } => {
            let project_id = match project {
                None => None,
                Some(p) => Some(match store.projects().by_login_id(&p).await? {
                    Some(found) => found.id,
                    None => p.into(),
                }),
            };
            let ttl = i64::from(expires_in_days) * 24 * 3600 * 1000;
            let (_, token) =
                projects::create_management_token(&store, &name, project_id.as_ref(), ttl, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{token}");
        }
        TokenCommand::List => {
            for t in store.management_tokens().list().await? {
                let expires = t.expires_at.map(rfc3339).unwrap_or_else(|| "never".into());
                let state = if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "live"
                };
                println!(
                    "{}  {}  project={}  expires={}  {}",
                    t.id,
                    t.name,
                    t.project_id.as_deref().unwrap_or("*"),
                    expires,
                    state
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !store
                .management_tokens()
                .revoke(&id.clone().into(), now)
                .await?
            {
                anyhow::bail!("no live management token {id}");
            }
            println!("management token {id} revoked");
        }
    }
    store.close().await;
    Ok(())
}
