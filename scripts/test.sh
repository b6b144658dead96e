#!/usr/bin/env bash
# Runs every test of the repository: the advisory check, Rust unit and integration tests (SQLite
# and PostgreSQL), the Node SDK's tests against the real `protekt` binary, and the hosted pages
# in headless Chromium.
# Needs PostgreSQL at 127.0.0.1:5432 (trust auth) or TEST_POSTGRES_URL, and Redis at
# 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."

# The SMTP delivery test talks to a real SMTP server (aiosmtpd, from PyPI); the contract run
# is schemathesis (PyPI), pinned so a fixed seed means the same run.
python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install --quiet aiosmtpd
python3 -m pip show schemathesis 2>/dev/null | grep -qx "Version: 4.32.5" \
  || python3 -m pip install --quiet "schemathesis==4.32.5"

# The limiter's tests use the Redis at 127.0.0.1:6379 (a key prefix each) and one test runs a
# redis-server of its own on a free port, to stop it mid-test.
command -v redis-server >/dev/null || { apt-get update && apt-get install -y redis-server; }

# Imports in crates/core point down the layers only (docs/import-graph.md is the picture).
python3 scripts/import-graph.py

# Known advisories in what we build fail the run (RustSec, via cargo-audit).
bash scripts/audit.sh

# Lints, including clippy.toml's disallowed methods (SECURITY K4: no randomness but the OS's).
cargo clippy --workspace --all-targets --quiet -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  # Fail points (SECURITY X1) are global to a process: one test at a time without nextest.
  cargo test --workspace --no-fail-fast -- --test-threads=1
fi

# The integration tests above built target/debug/protekt (with the same features); building it
# again with `cargo build` would recompile half the dependency tree with other features.
test -x target/debug/protekt || cargo build --bin protekt
if [ -f sdk/node/package.json ]; then
  (cd sdk/node && npm ci --no-audit --no-fund && PROTEKT_BIN="$PWD/../../target/debug/protekt" npm test)
fi

# The API contract: schemathesis fuzzes every operation of /openapi.json against the same binary
# (fixed seed, bounded time); any server error or any answer the document does not allow fails.
python3 tests/contract/run.py --bin target/debug/protekt --seed 1 --max-time 180

# Hosted pages in a real browser: Debian's Chromium (never a downloaded one), driven by
# playwright-core, against the same binary, on SQLite and then on PostgreSQL (a fresh database
# per server, made and dropped with psql at TEST_POSTGRES_URL or 127.0.0.1:5432). The Universal
# Login test redeems codes with the Node SDK built above (sdk/node/dist).
command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }
command -v psql >/dev/null || { apt-get update && apt-get install -y postgresql-client; }
(cd tests/browser && npm ci --no-audit --no-fund \
  && PROTEKT_BIN="$PWD/../../target/debug/protekt" npm test \
  && PROTEKT_TEST_DATABASE=postgres PROTEKT_BIN="$PWD/../../target/debug/protekt" npm test)
