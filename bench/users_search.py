#!/usr/bin/env python3
"""users.list with `search` on 1,000,000 users vs the same call on 1,000 users.

Generates the users straight into the SQLite database (not through the HTTP API: a million
argon2 hashes would take hours), starts the release server on it and measures
`GET /v1/users?search=<prefix>&limit=20` with wrk, for an email prefix and for an id prefix.
Appends its table to BENCHMARKS.md (run bench/run.py first, which rewrites that file).

Usage: python3 bench/users_search.py [--seconds 10] [--no-build]
"""
import argparse, json, os, random, shutil, sqlite3, string, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (reuses wrk parsing and helpers)

ROOT = bench.ROOT
BIN = bench.BIN


def populate(db_path, project_id, n):
    """Inserts n users of project_id: emails user<i>@<domain>, ids usr_<26 random base32>."""
    conn = sqlite3.connect(db_path)
    conn.execute("pragma journal_mode = wal")
    conn.execute("pragma synchronous = off")
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    domains = ["example.com", "mail.test", "corp.example", "shop.test"]
    now = int(time.time() * 1000) - n
    batch = []
    for i in range(n):
        uid = "usr_" + "".join(random.choice(alphabet) for _ in range(26))
        email = f"user{i:07d}@{domains[i % len(domains)]}"
        batch.append((uid, project_id, email, email, "{}", now + i, now + i))
        if len(batch) == 50_000:
            conn.executemany("insert into app_user (id, project_id, email, email_normalized, metadata, created_at, updated_at) values (?,?,?,?,?,?,?)", batch)
            batch = []
    if batch:
        conn.executemany("insert into app_user (id, project_id, email, email_normalized, metadata, created_at, updated_at) values (?,?,?,?,?,?,?)", batch)
    conn.commit()
    sample_id = conn.execute("select id from app_user where project_id = ? order by created_at limit 1 offset ?", (project_id, n // 2)).fetchone()[0]
    conn.close()
    return sample_id


def measure(n, seconds):
    data = tempfile.mkdtemp(prefix=f"protekt-users-{n}-")
    try:
        created = json.loads(subprocess.run([BIN, "--data-dir", data, "project", "create", "--name", "Search", "--json"],
                                            capture_output=True, text=True, check=True).stdout)
        sample_id = populate(os.path.join(data, "protekt.db"), created["id"], n)
        port = bench.free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([BIN, "--data-dir", data, "serve", "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PROTEKT_LOG": "warn"})
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            headers_lua = os.path.join(data, "headers.lua")
            with open(headers_lua, "w") as f:
                f.write(f'wrk.headers["X-Api-Key"] = "{created["apiKey"]}"\n')
            results = {}
            # A prefix matching ~10% of the users (paging through them), one matching a single
            # user, and an id prefix.
            for name, query in [("email prefix, many matches", "search=user00&limit=20"),
                                ("email prefix, one match", f"search=user{n // 3:07d}&limit=20"),
                                ("id prefix", f"search={sample_id[:10]}&limit=20")]:
                results[name] = wrk_with(base, f"/v1/users?{query}", headers_lua, seconds)
            return results
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def wrk_with(base, path, script, seconds):
    import re
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", script, base + path],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = bench.to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = bench.to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": round(rps, 1), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3), "non_2xx": int(bad.group(1)) if bad else 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "protekt"], cwd=ROOT, check=True)
    small = measure(1_000, args.seconds)
    large = measure(1_000_000, args.seconds)
    lines = ["", "## users.list with search: 1,000,000 users vs 1,000", "",
             "`python3 bench/users_search.py`: users generated straight into SQLite, wrk at concurrency 16,",
             "`GET /v1/users?search=…&limit=20`. Target: p50/p99 within 2x of the 1,000-user figures.", "",
             "| search | users | req/s | p50 ms | p99 ms | p50 ratio | p99 ratio |", "|---|---|---|---|---|---|---|"]
    for name in small:
        s, l = small[name], large[name]
        lines.append(f"| {name} | 1,000 | {s['rps']} | {s['p50_ms']} | {s['p99_ms']} | | |")
        lines.append(f"| {name} | 1,000,000 | {l['rps']} | {l['p50_ms']} | {l['p99_ms']} | {l['p50_ms'] / s['p50_ms']:.2f}x | {l['p99_ms'] / s['p99_ms']:.2f}x |")
    lines.append("")
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "a") as f:
        f.write("\n".join(lines))
    print(json.dumps({"1000": small, "1000000": large}, indent=2))


if __name__ == "__main__":
    main()
