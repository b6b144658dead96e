//! `protekt project create|list` and `protekt migrate`.

use clap::Subcommand;
use protekt_core::model::{ProjectSettings, SigningAlg};
use protekt_core::projects;

use super::Globals;
use crate::app;

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its Login ID and API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Signing algorithm for access tokens: ES256, EdDSA or RS256.
        #[arg(long, default_value = "ES256")]
        alg: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List projects.
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn project(g: &Globals, command: ProjectCommand) -> anyhow::Result<()> {
    let db = g.database_url.as_deref();
    let store = app::open_store(&g.data_dir, db).await?;
    let master = app::master_key(&g.data_dir)?;
    let now = protekt_core::clock::Clock::new().now();
    match command {
        ProjectCommand::Create { name, alg, json } => {
            let signing_alg = SigningAlg::parse(&alg)
                .ok_or_else(|| anyhow::anyhow!("--alg must be ES256, EdDSA or RS256"))?;
            let settings = ProjectSettings {
                signing_alg,
                ..ProjectSettings::default()
            };
            let created = projects::create(&store, &master, &name, settings, now).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": created.project.id,
                        "loginId": created.project.login_id,
                        "name": created.project.name,
                        "apiKey": created.api_key,
                    })
                );
            } else {
                println!(
                    "Project {} created. The API key is shown only once.",
                    created.project.name
                );
                println!("  Login ID:  {}", created.project.login_id);
                println!("  API key:   {}", created.api_key);
            }
        }
        ProjectCommand::List { json } => {
            let list = store.projects().list().await?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|p| serde_json::json!({"id": p.id, "loginId": p.login_id, "name": p.name}))
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                for p in list {
                    println!("{}  {}  {}", p.login_id, p.id, p.name);
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

pub async fn migrate(g: &Globals) -> anyhow::Result<()> {
    let db = g.database_url.as_deref();
    app::open_store(&g.data_dir, db).await?;
    println!("migrations applied");
    Ok(())
}
