"""Schemathesis hooks for the contract run: real credentials for every security scheme.

The fuzzer calls logout, revoke-all, key and token revocation, user and project deletion, so a
credential it was given can stop working halfway through the run. Before each case this hook
checks the credentials the operation needs and makes new ones (a user, a project, a management
token) when the fuzzer has destroyed the old ones, so every operation is reached beyond 401.
The harness (`run.py`) passes the server's address and the first credentials in the environment.
"""

import itertools
import json
import os
import subprocess
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ["PROTEKT_CONTRACT_URL"]
BIN = os.environ["PROTEKT_BIN"]
DATA_DIR = os.environ["PROTEKT_CONTRACT_DATA_DIR"]
PASSWORD = "correct horse battery staple"


def call(method, path, body=None, headers=None):
    """One request to the server; returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def cli(*args):
    return subprocess.run(
        [BIN, "--data-dir", DATA_DIR, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


class Credentials:
    """The run's project API key, management token and signed-in user, healed on demand."""

    def __init__(self):
        self.api_key = os.environ["PROTEKT_CONTRACT_API_KEY"]
        self.management_token = os.environ["PROTEKT_CONTRACT_MANAGEMENT_TOKEN"]
        self.access_token = None
        self.serial = itertools.count()

    def valid_api_key(self):
        status, _ = call("GET", "/v1/users?limit=1", headers={"X-Api-Key": self.api_key})
        if status != 200:
            created = json.loads(cli("project", "create", "--json", "--name", f"contract {next(self.serial)}"))
            self.api_key = created["apiKey"]
            self.access_token = None
        return self.api_key

    def valid_management_token(self):
        auth = {"Authorization": f"Bearer {self.management_token}"}
        if call("GET", "/v1/management-tokens", headers=auth)[0] != 200:
            self.management_token = cli("token", "create", "--name", "contract")
        return self.management_token

    def valid_access_token(self, api_key):
        headers = {"X-Api-Key": api_key}
        if self.access_token is not None:
            auth = {**headers, "Authorization": f"Bearer {self.access_token}"}
            if call("GET", "/v1/sessions", headers=auth)[0] == 200:
                return self.access_token
        # A new user each time: the fuzzer may have deleted, disabled or re-addressed the last one.
        email = f"contract-{next(self.serial)}@example.com"
        status, body = call(
            "POST", "/v1/auth/signup", {"email": email, "password": PASSWORD}, headers
        )
        if status != 201:
            raise RuntimeError(f"cannot sign up the contract user: {status}")
        self.access_token = body["accessToken"]
        return self.access_token


CREDENTIALS = Credentials()


@schemathesis.auth(refresh_interval=None)
class ProtektAuth:
    """Sets the headers of the security schemes the operation declares."""

    def get(self, case, context):
        schemes = set()
        for requirement in case.operation.definition.raw.get("security", []):
            schemes.update(requirement)
        headers = {}
        if "apiKey" in schemes:
            headers["X-Api-Key"] = CREDENTIALS.valid_api_key()
        if "bearer" in schemes:
            token = CREDENTIALS.valid_access_token(headers["X-Api-Key"])
            headers["Authorization"] = f"Bearer {token}"
        if "managementToken" in schemes:
            headers["Authorization"] = f"Bearer {CREDENTIALS.valid_management_token()}"
        return headers

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), **data}
