#!/usr/bin/env python3
"""Protekt benchmark: builds the release binary, starts it on SQLite, and measures with wrk
login, signup, verify and refresh at concurrency 2, 16 and 64 (req/s, p50, p99), /healthz as the
trivial-route ceiling, the raw argon2id hash rate with the server's parameters on the same cores,
and the server's RSS idle and under load. Writes BENCHMARKS.md and bench/results/latest.json.

Usage: python3 bench/run.py [--seconds 10] [--no-build] [--only refresh,signup]
                            [--database-url postgres://root@127.0.0.1/postgres]
With --database-url the server runs on a fresh database made next to that one (dropped after).
Needs wrk (Debian: apt-get install wrk).
"""
import argparse, datetime, json, os, platform, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("PROTEKT_BENCH_BIN") or os.path.join(ROOT, "target", "release", "protekt")  # another build to compare
WRK_DIR = os.path.join(ROOT, "bench", "wrk")
CONCURRENCY = [2, 16, 64]
PASSWORD = "correct-horse-battery-staple"


# Logins cycle over this many accounts (distinct accounts: see wrk/login.lua).
LOGIN_ACCOUNTS = 256


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post(base, key, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Api-Key": key})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(base, path, script, concurrency, seconds, env):
    threads = min(2, concurrency)
    cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", os.path.join(WRK_DIR, script)]
    cmd.append(base + path)
    out = subprocess.run(cmd, env={**os.environ, **env, "PROTEKT_WRK_DIR": WRK_DIR,
                                   "PROTEKT_BENCH_THREADS": str(threads)},
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": round(rps, 1), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else None}


def raw_hash_rate(seconds):
    out = subprocess.run([BIN, "bench", "hash", "--seconds", str(seconds)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["hashesPerSecond"]


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return
            time.sleep(0.2)


def verify_many(base, key, env, data, args):
    """Verify over more distinct tokens than the verified-token cache holds (100,000): minted by
    following refresh chains, each rotation giving a new access token."""
    wanted_tokens, c = 130_000, 64
    chains = os.path.join(data, "mint-chains.txt")
    with open(chains, "w") as f:
        for _ in range(c * 2):
            f.write(post(base, key, "/v1/auth/login", {"email": "bench@example.com", "password": PASSWORD})["refreshToken"] + "\n")
    out = os.path.join(data, "many-")
    probe = wrk(base, "/v1/auth/refresh", "refresh.lua", c, 5, {**env, "PROTEKT_BENCH_TOKENS": chains, "PROTEKT_BENCH_OUT": out})
    seconds = min(240, int(wanted_tokens / max(probe["rps"], 200)) + 3)
    with open(chains, "w") as f:
        for _ in range(c * 2):
            f.write(post(base, key, "/v1/auth/login", {"email": "bench@example.com", "password": PASSWORD})["refreshToken"] + "\n")
    wrk(base, "/v1/auth/refresh", "refresh.lua", c, seconds, {**env, "PROTEKT_BENCH_TOKENS": chains, "PROTEKT_BENCH_OUT": out})
    minted = sum(1 for t in (1, 2) if os.path.exists(out + str(t)) for _ in open(out + str(t)))
    results = {}
    for conc in [int(x) for x in args.concurrency.split(",")]:
        results[conc] = wrk(base, "/v1/auth/verify", "verify_many.lua", conc, args.seconds,
                            {**env, "PROTEKT_BENCH_MANY": out})
    return results, minted


def two_nodes(data, db_args, base_a, key, rounds=20):
    """A second node on the same PostgreSQL: how long after a sign-out on node A does node B
    refuse the session's access token (it had it cached)? Milliseconds per round."""
    import http.client
    port = free_port()
    node_b = subprocess.Popen([BIN, "--data-dir", data, *db_args, "serve", "--listen", f"127.0.0.1:{port}",
                               "--public-url", base_a], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PROTEKT_LOG": "warn"})
    try:
        time.sleep(2)
        headers = {"Content-Type": "application/json", "X-Api-Key": key}
        conn_a = http.client.HTTPConnection("127.0.0.1", int(base_a.rsplit(":", 1)[1]))
        conn_b = http.client.HTTPConnection("127.0.0.1", port)

        def call(conn, path, body, extra=None):
            conn.request("POST", path, json.dumps(body), {**headers, **(extra or {})})
            resp = conn.getresponse()
            resp.read()
            return resp.status

        delays = []
        for _ in range(rounds):
            token = post(base_a, key, "/v1/auth/login", {"email": "bench@example.com", "password": PASSWORD})["accessToken"]
            assert call(conn_b, "/v1/auth/verify", {"token": token}) == 200
            assert call(conn_a, "/v1/auth/logout", {}, {"Authorization": f"Bearer {token}"}) == 200
            ended = time.perf_counter()
            while call(conn_b, "/v1/auth/verify", {"token": token}) == 200:
                pass
            delays.append((time.perf_counter() - ended) * 1000)
        delays.sort()
        return {"median": round(delays[len(delays) // 2], 2), "max": round(delays[-1], 2), "rounds": rounds}
    finally:
        node_b.terminate()
        node_b.wait(timeout=30)


def database(url):
    """The server's database arguments, and how to clean up: SQLite in the data dir, or a fresh
    PostgreSQL database beside the one `url` names."""
    if not url:
        return [], lambda: None
    name = f"protekt_bench_{os.getpid()}"
    subprocess.run(["psql", url, "-qc", f"create database {name}"], check=True)
    fresh = re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", url.split("://", 1)[1], count=1)
    fresh = url.split("://", 1)[0] + "://" + fresh
    return ["--database-url", fresh], lambda: subprocess.run(
        ["psql", url, "-qc", f"drop database if exists {name} with (force)"], check=False)


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated routes (default: all)")
    ap.add_argument("--database-url", default="", help="a PostgreSQL URL (default: SQLite)")
    ap.add_argument("--redis-url", default=None, help="count rate limits in this Redis")
    ap.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)), help="comma-separated")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    wanted = lambda route: not only or route in only
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "protekt"], cwd=ROOT, check=True)

    hash_rate = json.loads(subprocess.run([BIN, "bench", "hash", "--seconds", str(args.seconds)],
                                          capture_output=True, text=True, check=True).stdout)

    data = tempfile.mkdtemp(prefix="protekt-bench-")
    db_args, drop_db = database(args.database_url)
    created = json.loads(subprocess.run([BIN, "--data-dir", data, *db_args, "project", "create", "--name", "Bench", "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    key = created["apiKey"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    redis_args = ["--redis-url", args.redis_url] if args.redis_url else []
    server = subprocess.Popen([BIN, "--data-dir", data, *db_args, "serve", "--listen", f"127.0.0.1:{port}", *redis_args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PROTEKT_LOG": "warn"})
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)
        idle_rss = rss_mb(server.pid)
        sampler = RssSampler(server.pid)
        sampler.start()

        user = post(base, key, "/v1/auth/signup", {"email": "bench@example.com", "password": PASSWORD})
        if wanted("login"):
            for i in range(LOGIN_ACCOUNTS):
                post(base, key, "/v1/auth/signup", {"email": f"bench{i}@example.com", "password": PASSWORD})
        env = {"PROTEKT_API_KEY": key, "PROTEKT_BENCH_EMAIL": "bench@example.com",
               "PROTEKT_BENCH_ACCOUNTS": str(LOGIN_ACCOUNTS),
               "PROTEKT_BENCH_PASSWORD": PASSWORD, "PROTEKT_BENCH_TOKEN": user["accessToken"]}
        results = {}
        for c in [int(c) for c in args.concurrency.split(",")]:
            if wanted("healthz"):
                results.setdefault("healthz", {})[c] = wrk(base, "/healthz", None, c, args.seconds, env)
            if wanted("verify"):
                results.setdefault("verify", {})[c] = wrk(base, "/v1/auth/verify", "verify.lua", c, args.seconds, env)
            if wanted("login") or wanted("signup"):
                # The raw hash rate right before: this VM's speed drifts between runs.
                results.setdefault("hash_before_login", {})[c] = raw_hash_rate(max(3, args.seconds // 2))
            if wanted("login"):
                results.setdefault("login", {})[c] = wrk(base, "/v1/auth/login", "login.lua", c, args.seconds, env)
            if wanted("signup"):
                results.setdefault("signup", {})[c] = wrk(base, "/v1/auth/signup", "signup.lua", c, args.seconds,
                                                          {**env, "PROTEKT_BENCH_RUN": str(c)})
            if wanted("limiter"):
                # One count by the rate limiter per request (answers are 429 past the burst).
                results.setdefault("limiter", {})[c] = wrk(base, "/v1/auth/verify-email", "limiter.lua", c,
                                                           args.seconds, env)
            if wanted("refresh"):
                # Refresh chains: a pool of live sessions, each rotated by one connection at a time.
                tokens = os.path.join(data, f"refresh-{c}.txt")
                with open(tokens, "w") as f:
                    for _ in range(c * 2):
                        f.write(post(base, key, "/v1/auth/login", {"email": "bench@example.com", "password": PASSWORD})["refreshToken"] + "\n")
                results.setdefault("refresh", {})[c] = wrk(base, "/v1/auth/refresh", "refresh.lua", c, args.seconds,
                                                           {**env, "PROTEKT_BENCH_TOKENS": tokens})
        if wanted("verify_many"):
            results["verify_many"], results["verify_many_tokens"] = verify_many(base, key, env, data, args)
        if args.database_url and wanted("two_nodes"):
            results["revocation_delay_ms"] = two_nodes(data, db_args, base, key)
        sampler.running = False
        load_rss = sampler.peak
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
        drop_db()

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "seconds_per_run": args.seconds, "hash": hash_rate,
        "idle_rss_mb": round(idle_rss, 1), "peak_rss_mb": round(load_rss, 1), "results": results,
    }
    report["database"] = "postgres" if args.database_url else "sqlite"
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    name = f"{report['database']}{'-redis' if args.redis_url else ''}{'-partial' if only else ''}.json"
    with open(os.path.join(ROOT, "bench", "results", name), "w") as f:
        json.dump(report, f, indent=2)
    if not only and not args.database_url:
        write_markdown(report)
    print(json.dumps(report, indent=2))


def write_markdown(r):
    hr = r["hash"]["hashesPerSecond"]
    lines = [
        "# Benchmarks", "",
        "Produced by `python3 bench/run.py` (release build, SQLite, wrk on the same machine as the",
        "server, so the load generator competes with the server for the cores). Not a test: numbers,",
        "not assertions.", "",
        f"- Date: {r['date']}",
        f"- Machine: {r['machine']}",
        f"- Each run: {r['seconds_per_run']} s; wrk with 2 threads (1 at concurrency 2 is still 2 connections on 2 threads)",
        f"- Raw argon2id (m=19456 KiB, t=2, p=1) on {r['hash']['threads']} threads: **{hr:.1f} hashes/s**",
        f"- Server RSS: **{r['idle_rss_mb']} MB idle**, {r['peak_rss_mb']} MB peak under load", "",
        "| route | concurrency | req/s | p50 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|---|",
    ]
    for route in ["healthz", "verify", "login", "signup", "refresh"]:
        for c, m in r["results"][route].items():
            lines.append(f"| {route} | {c} | {m['rps']} | {m['p50_ms']} | {m['p99_ms']} | {m['non_2xx']} |")
    lines += ["", "## Targets", "",
              "| target | concurrency | ratio |", "|---|---|---|"]
    for c in r["results"]["login"]:
        near = r["results"]["hash_before_login"][c]
        lines.append(f"| login ≥ 85% of the raw hash rate measured just before ({near:.1f}/s) | {c} | {100 * r['results']['login'][c]['rps'] / near:.0f}% |")
    for c in r["results"]["verify"]:
        ratio = r["results"]["verify"][c]["rps"] / r["results"]["healthz"][c]["rps"]
        lines.append(f"| verify ≥ 50% of /healthz | {c} | {100 * ratio:.0f}% |")
    lines.append(f"| idle RSS ≤ 30 MB | - | {r['idle_rss_mb']} MB |")
    lines.append("")
    # Hand-written sections below the marker (history, before/after) survive a new run.
    path = os.path.join(ROOT, "BENCHMARKS.md")
    kept = ""
    if os.path.exists(path):
        old = open(path).read()
        if KEEP_MARKER in old:
            kept = old[old.index(KEEP_MARKER):]
    with open(path, "w") as f:
        f.write("\n".join(lines) + ("\n" + kept if kept else ""))


KEEP_MARKER = "<!-- everything below is kept by bench/run.py -->"


if __name__ == "__main__":
    main()
