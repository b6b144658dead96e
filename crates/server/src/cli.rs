//! The command line. Every command takes the same `--data-dir` and `--database-url`, so
//! `protekt project create` works on the database a running `protekt serve` uses.
//! Precedence: flags, then environment variables.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use protekt_core::clock::rfc3339;
use protekt_core::model::ProjectSettings;
use protekt_core::model::{SigningAlg, SmtpSettings, TlsMode};
use protekt_core::projects;
use protekt_core::sms::SmsConfig;

use crate::app::{self, App, ServeConfig};

#[derive(Debug, Parser)]
#[command(name = "protekt", version, about = "Protekt authentication server")]
pub struct Cli {
    /// Where the SQLite database, the master key and the dev outbox live.
    #[arg(
        long,
        global = true,
        env = "PROTEKT_DATA_DIR",
        default_value = "./protekt-data"
    )]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: an SQLite file in the data dir.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

// `Serve` carries every flag; the enum is built once per process, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PROTEKT_LISTEN", default_value = "127.0.0.1:8787")]
        listen: String,
        /// Public base URL (issuer URLs and links are built from it, never from request headers).
        #[arg(long, env = "PROTEKT_PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Management tokens (`mt_…`) for the projects API: create (shown once), list, revoke.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage projects.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measurements for `bench/` (not needed to run a server).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The raw argon2id hash rate with the server's parameters: the ceiling for login and
    /// sign-up throughput on this machine. Prints one JSON object.
    Hash {
        /// Hashing threads (default: one per core, like the server's pool).
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

/// Email delivery. Without `--smtp-host`, emails go to `<data-dir>/outbox` (and the log).
#[derive(Debug, clap::Args)]
pub struct MailArgs {
    /// Sender of emails, e.g. `Acme <no-reply@acme.test>`.
    #[arg(
        long,
        env = "PROTEKT_EMAIL_FROM",
        default_value = "Protekt <no-reply@localhost>"
    )]
    pub email_from: String,
    /// SMTP server host.
    #[arg(long, env = "PROTEKT_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "PROTEKT_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    #[arg(long, env = "PROTEKT_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    #[arg(long, env = "PROTEKT_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// `starttls` (default), `tls` (SMTPS) or `none`.
    #[arg(long, env = "PROTEKT_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: String,
    /// SMS delivery: `outbox` (default, `<data-dir>/outbox`), `twilio` or `webhook`.
    #[arg(long, env = "PROTEKT_SMS_PROVIDER", default_value = "outbox")]
    pub sms_provider: String,
    /// Twilio (or compatible) API base URL.
    #[arg(
        long,
        env = "PROTEKT_TWILIO_BASE_URL",
        default_value = "https://api.twilio.com"
    )]
    pub twilio_base_url: String,
    #[arg(long, env = "PROTEKT_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    #[arg(long, env = "PROTEKT_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    /// The sender number for Twilio.
    #[arg(long, env = "PROTEKT_TWILIO_FROM")]
    pub twilio_from: Option<String>,
    /// The URL the webhook sender POSTs to.
    #[arg(long, env = "PROTEKT_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// The HMAC-SHA256 key that signs webhook deliveries.
    #[arg(long, env = "PROTEKT_SMS_WEBHOOK_SECRET", hide_env_values = true)]
    pub sms_webhook_secret: Option<String>,
}

impl MailArgs {
    fn sms(&self) -> anyhow::Result<Option<SmsConfig>> {
        let need = |v: &Option<String>, flag: &str| {
            v.clone()
                .ok_or_else(|| anyhow::anyhow!("--{flag} is required for this SMS provider"))
        };
        match self.sms_provider.as_str() {
            "outbox" => Ok(None),
            "twilio" => Ok(Some(SmsConfig::Twilio {
                base_url: self.twilio_base_url.clone(),
                account_sid: need(&self.twilio_account_sid, "twilio-account-sid")?,
                auth_token: need(&self.twilio_auth_token, "twilio-auth-token")?,
                from: need(&self.twilio_from, "twilio-from")?,
            })),
            "webhook" => {
                let secret = need(&self.sms_webhook_secret, "sms-webhook-secret")?;
                if secret.len() < 32 {
                    anyhow::bail!("--sms-webhook-secret must be at least 32 characters");
                }
                Ok(Some(SmsConfig::Webhook {
                    url: need(&self.sms_webhook_url, "sms-webhook-url")?,
                    secret,
                }))
            }
            other => anyhow::bail!("--sms-provider must be outbox, twilio or webhook, not {other}"),
        }
    }

    fn smtp(&self) -> anyhow::Result<Option<SmtpSettings>> {
        let Some(host) = &self.smtp_host else {
            return Ok(None);
        };
        let tls = match self.smtp_tls.as_str() {
            "starttls" => TlsMode::Starttls,
            "tls" => TlsMode::Tls,
            "none" => TlsMode::None,
            other => anyhow::bail!("--smtp-tls must be starttls, tls or none, not {other}"),
        };
        let smtp = SmtpSettings {
            host: host.clone(),
            port: self.smtp_port,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            password_sealed: None,
            tls,
        };
        protekt_core::mail::validate_smtp(&smtp, "smtp").map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Some(smtp))
    }
}

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

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the previous one stays in the JWKS.
    Rotate {
        /// The project's Login ID (`lp_…`).
        #[arg(long)]
        project: String,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROTEKT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("PROTEKT_LOG_FORMAT")
        .map(|f| f == "json")
        .unwrap_or(false);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let db = cli.database_url.as_deref();
    match cli.command {
        Command::Serve {
            listen,
            public_url,
            mail,
        } => {
            init_logging();
            let shutdown = app::shutdown_signal()?;
            let config = ServeConfig {
                listen,
                data_dir: cli.data_dir.clone(),
                database_url: cli.database_url.clone(),
                public_url,
                bootstrap: true,
                email_from: mail.email_from.clone(),
                smtp: mail.smtp()?,
                sms: mail.sms()?,
            };
            protekt_core::mail::parse_mailbox(&config.email_from)
                .map_err(|e| anyhow::anyhow!("--email-from: {e}"))?;
            let app = App::build(&config).await?;
            if let Some(created) = &app.bootstrapped {
                println!("Protekt created a development project. Keep the API key: it is shown only once.");
                println!("  Base URL:  {}", app.public_url);
                println!("  Login ID:  {}", created.project.login_id);
                println!("  API key:   {}", created.api_key);
            }
            if let Some(token) = &app.bootstrapped_management_token {
                println!("  Management token (projects API, shown once, valid 24 hours): {token}");
            }
            tracing::info!(addr = %app.local_addr(), public_url = %app.public_url, "protekt listening");
            app.run_until(shutdown).await
        }
        Command::Token { command } => {
            let store = app::open_store(&cli.data_dir, db).await?;
            let now = protekt_core::clock::Clock::new().now();
            match command {
                TokenCommand::Create {
                    name,
                    project,
                    expires_in_days,
                } => {
                    let project_id = match project {
                        None => None,
                        Some(p) => Some(match store.project_by_login_id(&p).await? {
                            Some(found) => found.id,
                            None => p,
                        }),
                    };
                    let ttl = i64::from(expires_in_days) * 24 * 3600 * 1000;
                    let (_, token) = projects::create_management_token(
                        &store,
                        &name,
                        project_id.as_deref(),
                        ttl,
                        now,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("{token}");
                }
                TokenCommand::List => {
                    for t in store.list_management_tokens().await? {
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
                    if !store.revoke_management_token(&id, now).await? {
                        anyhow::bail!("no live management token {id}");
                    }
                    println!("management token {id} revoked");
                }
            }
            store.close().await;
            Ok(())
        }
        Command::Migrate => {
            app::open_store(&cli.data_dir, db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Project { command } => {
            let store = app::open_store(&cli.data_dir, db).await?;
            let master = app::master_key(&cli.data_dir)?;
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
                    let list = store.list_projects().await?;
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
        Command::Bench {
            command: BenchCommand::Hash { threads, seconds },
        } => {
            let threads = threads.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            });
            let params = protekt_core::password::HashParams::default();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::spawn(move || {
                        let mut n = 0u64;
                        while std::time::Instant::now() < deadline {
                            let _ = protekt_core::password::hash_blocking(
                                params,
                                "benchmark-password-42",
                            );
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let total: u64 = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
            println!(
                "{}",
                serde_json::json!({"threads": threads, "seconds": seconds, "hashes": total,
                    "hashesPerSecond": total as f64 / seconds as f64})
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { project },
        } => {
            let store = app::open_store(&cli.data_dir, db).await?;
            let master = app::master_key(&cli.data_dir)?;
            let found = store
                .project_by_login_id(&project)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no project with Login ID {project}"))?;
            let now = protekt_core::clock::Clock::new().now();
            let kid = projects::rotate_keys(&store, &master, &found, now).await?;
            println!("new signing key {kid}; the previous key stays in the JWKS");
            store.close().await;
            Ok(())
        }
    }
}
