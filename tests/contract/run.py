#!/usr/bin/env python3
"""The API contract, checked by a third-party fuzzer: schemathesis against a real server.

Starts `protekt serve` on a fresh SQLite data dir and a free port, creates a project, a
management token and (through the hooks) a signed-in user, and runs `st run --checks all` over
`/openapi.json` with a fixed seed and a time budget. Any failure (a server error, a status or a
body the document does not declare, a schema-valid request refused, a missing auth check) fails
the run. Usage: run.py --bin target/debug/protekt [--seed 1] [--max-time 180]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url, server):
    for _ in range(200):
        if server.poll() is not None:
            sys.exit(f"protekt serve exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("protekt serve did not answer /healthz")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the protekt binary")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-time", type=int, default=180, help="seconds of fuzzing")
    parser.add_argument("--workers", default="1", help="more than one lets a stateful scenario see another's deletions")
    parser.add_argument("--report-dir", default=None, help="keep schemathesis' reports here")
    args = parser.parse_args()
    binary = str(Path(args.bin).resolve())

    with tempfile.TemporaryDirectory(prefix="protekt-contract-") as data_dir:
        run = lambda *a: subprocess.run(  # noqa: E731
            [binary, "--data-dir", data_dir, *a], check=True, capture_output=True, text=True
        ).stdout.strip()
        project = json.loads(run("project", "create", "--json", "--name", "contract"))
        management_token = run("token", "create", "--name", "contract")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(data_dir) / "server.log", "w")
        server = subprocess.Popen(
            [binary, "--data-dir", data_dir, "serve", "--listen", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        try:
            wait_until_up(url, server)
            env = {
                **os.environ,
                "PYTHONPATH": str(HERE),
                "SCHEMATHESIS_HOOKS": "hooks",
                "PROTEKT_CONTRACT_URL": url,
                "PROTEKT_BIN": binary,
                "PROTEKT_CONTRACT_DATA_DIR": data_dir,
                "PROTEKT_CONTRACT_API_KEY": project["apiKey"],
                "PROTEKT_CONTRACT_MANAGEMENT_TOKEN": management_token,
            }
            command = [
                sys.executable, "-m", "schemathesis.cli",
                "--config-file", str(HERE / "schemathesis.toml"),
                "run", f"{url}/openapi.json",
                "--checks", "all",
                "--seed", str(args.seed),
                "--max-time", str(args.max_time),
                "--workers", args.workers,
            ]
            if args.report_dir:
                command += ["--report", "ndjson", "--report-dir", args.report_dir]
            result = subprocess.run(command, env=env)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        server_log = (Path(data_dir) / "server.log").read_text()
        if "panicked" in server_log:
            print(server_log[-4000:])
            sys.exit("the server panicked during the contract run")
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
