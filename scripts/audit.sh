#!/usr/bin/env bash
# Fails when a dependency we build has a known advisory (RustSec). cargo-audit comes from
# crates.io; the advisory database from GitHub, or, on machines that cannot reach GitHub, from a
# local copy (ADVISORY_DB, or the mirror the workplace keeps).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-audit >/dev/null || cargo install cargo-audit --locked --quiet

# `rsa` (RUSTSEC-2023-0071, ignored in .cargo/audit.toml) must not be built by anything.
if [ -n "$(cargo tree -i rsa --edges normal,build 2>/dev/null)" ]; then
  echo "audit: the rsa crate is built again; RS256 must go through aws-lc-rs" >&2
  exit 1
fi

db="${ADVISORY_DB:-}"
mirror=/work/.mirror/rustsec+advisory-db/repo
if [ -z "$db" ] && [ -d "$mirror" ]; then
  db=target/advisory-db
  rm -rf "$db" && git clone --quiet "$mirror" "$db"
fi
if [ -n "$db" ]; then
  cargo audit --db "$db" --no-fetch
elif ! cargo audit; then
  # Tell a network failure from an advisory: only the latter fails the run.
  if cargo audit 2>&1 | grep -q "vulnerabilit"; then exit 1; fi
  echo "audit: WARNING: no advisory database reachable; set ADVISORY_DB to a copy of rustsec/advisory-db" >&2
fi
