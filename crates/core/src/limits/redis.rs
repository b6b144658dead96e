//! The Redis backend, for many nodes: one GCRA step is one `EVALSHA` of a Lua script that
//! reads Redis' own clock (`TIME`), so the step is atomic and every node agrees on time. The
//! connection is made on first use and re-made by itself after Redis comes back; while it is
//! down every hit is an error, which [`super::Limiter`] turns into a refusal (or, for classes
//! that fail open, a pass).

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::Mutex;

use super::{Decision, Rate};
use crate::error::{Error, Result};

/// Returns {allowed (1 or 0), ms until a hit would pass, ms from now to the stored tat}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now - tolerance, tat - now}
end
local next = tat + interval
redis.call('SET', KEYS[1], next, 'PX', next - now)
return {1, 0, next - now}
";

pub struct RedisLimits {
    client: redis::Client,
    prefix: String,
    connection: Mutex<Option<ConnectionManager>>,
    script: redis::Script,
}

fn unreachable(e: redis::RedisError) -> Error {
    Error::Internal(anyhow::anyhow!("redis: {e}"))
}

impl RedisLimits {
    /// `url` like `redis://127.0.0.1:6379/0`; every key starts with `prefix`.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            prefix: prefix.to_owned(),
            connection: Mutex::new(None),
            script: redis::Script::new(GCRA),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        // Short timeouts: a sign-in waits on this, and a dead Redis must not hold it long.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let c = self
            .client
            .get_connection_manager_with_config(config)
            .await
            .map_err(unreachable)?;
        tracing::info!("rate limiter connected to redis");
        *slot = Some(c.clone());
        Ok(c)
    }

    pub(super) async fn hit(&self, key: &str, rate: Rate) -> Result<Decision> {
        let mut c = self.connection().await?;
        let (allowed, wait, ahead): (i64, i64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(rate.interval())
            .arg(rate.tolerance())
            .invoke_async(&mut c)
            .await
            .map_err(unreachable)?;
        Ok(if allowed == 1 {
            Decision::Allowed {
                exhausted: ahead > rate.tolerance(),
            }
        } else {
            Decision::Limited {
                retry_after_ms: wait,
            }
        })
    }

    pub(super) async fn reset(&self, key: &str) -> Result<()> {
        let mut c = self.connection().await?;
        redis::cmd("DEL")
            .arg(format!("{}{key}", self.prefix))
            .query_async::<()>(&mut c)
            .await
            .map_err(unreachable)
    }
}
