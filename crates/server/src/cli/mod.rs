//! The command line. Every command takes the same `--data-dir` and `--database-url`, so
//! `protekt project create` works on the database a running `protekt serve` uses.
//! Precedence: flags, then environment variables.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod client;
mod keys;
mod project;
mod serve;
mod token;

pub use client::ClientCommand;
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
        /// Password hashes (sign-ups, logins) that may wait for a hashing thread; more at once
        /// are answered `server_busy` (503) instead of queueing without bound.
        #[arg(long, env = "PROTEKT_HASH_QUEUE", default_value_t = 1024)]
        hash_queue: usize,
        /// Redis for the rate limiter (`redis://host:6379/0`): limits shared by any number of
        /// nodes. Without it: in the process on SQLite, in the database on PostgreSQL.
        #[arg(long, env = "REDIS_URL")]
        redis_url: Option<String>,
        /// Prefix of the limiter's Redis keys (several deployments on one Redis).
        #[arg(long, env = "PROTEKT_REDIS_PREFIX", default_value = "protekt:")]
        redis_prefix: String,
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
    /// A project's OAuth clients (Protekt as an OpenID Connect provider).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
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
    let json = std::env::var("PROTEKT_LOG_FORMAT")
        .map(|f| f == "json")
        .unwrap_or(false);
    // A second subscriber (tests) is an error we can ignore: the first one stays.
    let _ = tracing::subscriber::set_global_default(log_subscriber(json, std::io::stderr));
}

/// The log: one line per event, plain text or JSON (`PROTEKT_LOG_FORMAT=json`), filtered by
/// `PROTEKT_LOG` (default `info,sqlx=warn`). Field values are escaped, so a user-controlled
/// string cannot start a line of its own (SECURITY AU3).
fn log_subscriber<W>(json: bool, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROTEKT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.fmt_fields(escaped_fields()).finish())
    }
}

/// Text-format fields with control characters escaped (`\n` becomes `\\n`): the default
/// formatter writes `%value` fields raw, so a forged newline would start a line of its own.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let mut text = String::new();
        for c in format!("{value:?}").chars() {
            if c.is_control() {
                text.extend(c.escape_default());
            } else {
                text.push(c);
            }
        }
        if field.name() == "message" {
            write!(writer, "{text}")
        } else {
            write!(writer, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// Runs one command: each is a function of its own in this folder.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.globals;
    match cli.command {
        Command::Serve {
            listen,
            public_url,
            hash_queue,
            redis_url,
            redis_prefix,
            mail,
        } => {
            let limits = serve::Limits {
                hash_queue,
                redis_url,
                redis_prefix,
            };
            serve::serve(g, listen, public_url, limits, &mail).await
        }
        Command::Token { command } => token::token(g, command).await,
        Command::Migrate => project::migrate(g).await,
        Command::Project { command } => project::project(g, command).await,
        Command::Client { command } => client::client(g, command).await,
        Command::Keys { command } => keys::keys(g, command).await,
        Command::Bench { command } => keys::bench(command),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// Collects what the log writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_user_controlled_string_stays_on_its_log_line_au3() {
        let forged = "a\n{\"event\":\"admin_login\"}\r\n2026-01-01T00:00:00Z  INFO admin logged in";
        for json in [true, false] {
            let captured = Captured::default();
            let sink = captured.clone();
            let subscriber = super::log_subscriber(json, move || sink.clone());
            tracing::subscriber::with_default(subscriber, || {
                tracing::info!(to = %forged, email = ?forged, "email written to the dev outbox");
            });
            let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            assert_eq!(text.lines().count(), 1, "json={json}: {text}");
            assert!(!text.contains('\r'), "json={json}: {text}");
            if json {
                let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
                assert_eq!(line["fields"]["to"], forged);
            }
        }
    }
}
