//! `protekt keys rotate` and `protekt bench`.

use clap::Subcommand;
use protekt_core::projects;

use super::Globals;
use crate::app;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key; the previous one stays in the JWKS.
    Rotate {
        /// The project's Login ID (`lp_…`).
        #[arg(long)]
        project: String,
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

pub async fn keys(g: &Globals, command: KeysCommand) -> anyhow::Result<()> {
    let db = g.database_url.as_deref();
    let KeysCommand::Rotate { project } = command;
    let store = app::open_store(&g.data_dir, db).await?;
    let master = app::master_key(&g.data_dir)?;
    let found = store
        .projects()
        .by_login_id(&project)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no project with Login ID {project}"))?;
    let now = protekt_core::clock::Clock::new().now();
    let kid = projects::rotate_keys(&store, &master, &found, now).await?;
    println!("new signing key {kid}; the previous key stays in the JWKS");
    store.close().await;
    Ok(())
}

pub fn bench(command: BenchCommand) -> anyhow::Result<()> {
    let BenchCommand::Hash { threads, seconds } = command;
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
                    let _ = protekt_core::password::hash_blocking(params, "benchmark-password-42");
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
