//! `protekt client create|list|rotate-secret|delete`: a project's OAuth clients, from the
//! command line (the same rules as the management API).

use std::sync::Arc;

use clap::Subcommand;
use protekt_core::clock::{rfc3339, Clock};
use protekt_core::model::{ClientKind, NewClient, OAuthClient, Project, ProjectId};
use protekt_core::oauth::ClientService;

use super::Globals;
use crate::app;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client and print its id and secret (shown once).
    Create {
        /// The project's id (`prj_…`) or Login ID.
        #[arg(long)]
        project: String,
        #[arg(long)]
        name: String,
        /// `confidential` (a backend, with a secret) or `public` (PKCE only).
        #[arg(long, default_value = "confidential")]
        r#type: String,
        /// A redirect URI (repeat for more).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A post-logout redirect URI (repeat for more).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A grant type (repeat; default authorization_code and refresh_token).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A scope (repeat; default openid profile email phone offline_access).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Your own app: never ask users for consent.
        #[arg(long)]
        first_party: bool,
        /// client_secret_basic, client_secret_post, private_key_jwt (with --jwks) or none.
        #[arg(long)]
        auth_method: Option<String>,
        /// The client's public keys (a JWK Set, as JSON) for private_key_jwt.
        #[arg(long)]
        jwks: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the project's clients.
    List {
        #[arg(long)]
        project: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a client a new secret; the old one works for --overlap-seconds more.
    RotateSecret {
        #[arg(long)]
        project: String,
        client_id: String,
        #[arg(long, default_value_t = 86_400)]
        overlap_seconds: u64,
    },
    /// Delete a client.
    Delete {
        #[arg(long)]
        project: String,
        client_id: String,
    },
}

fn client_json(c: &OAuthClient) -> serde_json::Value {
    serde_json::json!({
        "clientId": c.id,
        "name": c.name,
        "type": c.kind.as_str(),
        "redirectUris": c.redirect_uris,
        "grantTypes": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "scopes": c.scopes,
        "firstParty": c.first_party,
        "tokenEndpointAuthMethod": c.auth_method.as_str(),
        "createdAt": rfc3339(c.created_at),
    })
}

async fn find_project(store: &protekt_core::store::Store, key: &str) -> anyhow::Result<Project> {
    if let Some(p) = store.projects().by_id(&ProjectId::from(key)).await? {
        return Ok(p);
    }
    store
        .projects()
        .by_login_id(key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no project {key}"))
}

pub async fn client(g: &Globals, command: ClientCommand) -> anyhow::Result<()> {
    let store = app::open_store(&g.data_dir, g.database_url.as_deref()).await?;
    let clients = ClientService::new(store.clone(), Arc::new(Clock::new()));
    let result = run(&store, &clients, command).await;
    store.close().await;
    result
}

async fn run(
    store: &protekt_core::store::Store,
    clients: &ClientService,
    command: ClientCommand,
) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create {
            project,
            name,
            r#type,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            scopes,
            first_party,
            auth_method,
            jwks,
            json,
        } => {
            let project = find_project(store, &project).await?;
            let kind = ClientKind::parse(&r#type)
                .ok_or_else(|| anyhow::anyhow!("--type must be confidential or public"))?;
            let jwks = jwks
                .map(|j| serde_json::from_str(&j))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--jwks is not JSON: {e}"))?;
            let new = NewClient {
                name,
                kind,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: (!grant_types.is_empty()).then_some(grant_types),
                scopes: (!scopes.is_empty()).then_some(scopes),
                first_party,
                auth_method,
                jwks,
            };
            let (client, secret) = clients.create(&project, new).await?;
            if json {
                let mut out = client_json(&client);
                if let Some(secret) = &secret {
                    out["clientSecret"] = secret.clone().into();
                }
                println!("{out}");
            } else {
                println!("Client {} created.", client.name);
                println!("  Client ID:     {}", client.id);
                if let Some(secret) = secret {
                    println!("  Client secret: {secret}  (shown only once)");
                }
            }
        }
        ClientCommand::List { project, json } => {
            let project = find_project(store, &project).await?;
            let list = clients.list(&project).await?;
            if json {
                let items: Vec<_> = list.iter().map(client_json).collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                for c in list {
                    println!("{}  {}  {}", c.id, c.kind.as_str(), c.name);
                }
            }
        }
        ClientCommand::RotateSecret {
            project,
            client_id,
            overlap_seconds,
        } => {
            let project = find_project(store, &project).await?;
            let (secret, until) = clients
                .rotate_secret(&project, &client_id, overlap_seconds)
                .await?;
            println!("New client secret: {secret}  (shown only once)");
            println!("The previous secret works until {}.", rfc3339(until));
        }
        ClientCommand::Delete { project, client_id } => {
            let project = find_project(store, &project).await?;
            clients.delete(&project, &client_id).await?;
            println!("Client {client_id} deleted.");
        }
    }
    Ok(())
}
