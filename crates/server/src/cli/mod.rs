//! The command line. Every command takes the same `--data-dir` and `--database-url`, so
//! `protekt project create` works on the database a running `protekt serve` uses.
//! Precedence: flags, then environment variables.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod keys;
mod project;
mod serve;
mod token;

pub use keys::{BenchCommand, KeysCommand};
pub use project::ProjectCommand;
pub use serve::MailArgs;
pub use token::TokenCommand;

#[derive(Debug, Parser)]
#[command(name = "protekt", version, about = "Protekt authentication server")]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub command: Command,
}

/// What every command takes.
#[derive(Debug, clap::Args)]
pub struct Globals {
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

/// Runs one command: each is a function of its own in this folder.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.globals;
    match cli.command {
        Command::Serve {
            listen,
            public_url,
            mail,
        } => serve::serve(g, listen, public_url, &mail).await,
        Command::Token { command } => token::token(g, command).await,
        Command::Migrate => project::migrate(g).await,
        Command::Project { command } => project::project(g, command).await,
        Command::Keys { command } => keys::keys(g, command).await,
        Command::Bench { command } => keys::bench(command),
    }
}
