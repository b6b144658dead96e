"""Schemathesis hooks for the contract run: real credentials for every security scheme.

The fuzzer calls logout, revoke-all, key and token revocation, user and project deletion, so a
credential it was given can stop working halfway through the run. Before each case this hook
checks the credentials the operation needs and makes new ones (a user, a project, a management
token) when the fuzzer has destroyed the old ones, so every operation is reached beyond 401.
Some operations take a secret a fuzzer cannot make up: a token that only arrives by email or
with a second factor (a reset or verification token, an `mfaToken`) or the user's password, so
`before_call` puts a real one into a share of the schema-valid cases, and those operations are
reached beyond 401 too.
The harness (`run.py`) passes the server's address and the first credentials in the environment.
"""

import base64
import glob
import hashlib
import hmac
import itertools
import json
import os
import struct
import subprocess
import time
import urllib.error
import urllib.parse
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
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
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


def outbox_token(to, kind, field="token"):
    """`field` (the token, or the code) of the newest email of `kind` to `to` in the dev outbox
    (waits up to 3 s)."""
    for _ in range(60):
        for path in sorted(glob.glob(os.path.join(DATA_DIR, "outbox", "*.json")), reverse=True):
            with open(path) as f:
                message = json.load(f)
            if message.get("to") == to and message.get("kind") == kind and message.get(field):
                return message[field]
        time.sleep(0.05)
    return None


REDIRECT_URL = "https://app.example.com/signed-in"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Shows a redirect as the answer it is (the hosted page's 303 carries the code)."""

    def redirect_request(self, *args, **kwargs):
        return None


def allow_redirects():
    """Lets every project send magic links (they need an allowed redirect URL)."""
    auth = {"Authorization": f"Bearer {CREDENTIALS.valid_management_token()}"}
    _, listed = call("GET", "/v1/projects", headers=auth)
    for project in (listed or {}).get("projects", []):
        call("PATCH", f"/v1/projects/{project['id']}",
             {"settings": {"allowedRedirectUrls": [REDIRECT_URL]}}, auth)


def totp(secret, at):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


class RealTokens:
    """Tokens a fuzzer cannot invent, made the way a user gets them."""

    def __init__(self):
        self.mfa_user = None  # (api key, email, TOTP secret)

    def new_user(self, api_key):
        email = f"contract-{next(CREDENTIALS.serial)}@example.com"
        status, body = call("POST", "/v1/auth/signup", {"email": email, "password": PASSWORD},
                            {"X-Api-Key": api_key})
        return (email, body) if status == 201 else (None, None)

    def emailed(self, api_key, path, kind):
        email, _ = self.new_user(api_key)
        if email is None:
            return None
        call("POST", path, {"email": email}, {"X-Api-Key": api_key})
        return outbox_token(email, kind)

    def passwordless(self, api_key, path, kind, field):
        """A fresh magic-link token or one-time passcode for a new address, and the address."""
        email = f"contract-pwl-{next(CREDENTIALS.serial)}@example.com"
        status, _ = call("POST", path, {"email": email}, {"X-Api-Key": api_key})
        if status == 422 and kind == "magic_link":
            allow_redirects()
            status, _ = call("POST", path, {"email": email}, {"X-Api-Key": api_key})
        if status != 200:
            return None, None
        return email, outbox_token(email, kind, field)

    def hand_off_code(self, api_key):
        """A fresh Universal Login code: a new user signs in on the hosted page (the flow's
        cookie and CSRF token read as a browser would) and the code is taken off the redirect."""
        email, _ = self.new_user(api_key)
        if email is None:
            return None
        allow_redirects()
        login_id = None
        auth = {"Authorization": f"Bearer {CREDENTIALS.valid_management_token()}"}
        for p in (call("GET", "/v1/projects", headers=auth)[1] or {}).get("projects", []):
            key_ok = call("GET", "/v1/users?limit=1",
                          headers={"X-Api-Key": api_key, "X-Login-Id": p["loginId"]})[0] == 200
            if key_ok:
                login_id = p["loginId"]
                break
        if login_id is None:
            return None
        opener = urllib.request.build_opener(NoRedirect)
        page = opener.open(f"{BASE}/p/{login_id}/login")
        html = page.read().decode()
        cookie = page.headers.get("Set-Cookie", "").split(";")[0]
        field = lambda name: html.split(f'name="{name}" value="')[1].split('"')[0]  # noqa: E731
        form = urllib.parse.urlencode({"flow": field("flow"), "csrf": field("csrf"),
                                       "email": email, "password": PASSWORD}).encode()
        request = urllib.request.Request(f"{BASE}/p/{login_id}/login", data=form, method="POST",
                                         headers={"Cookie": cookie, "Origin": BASE})
        try:
            opener.open(request)
        except urllib.error.HTTPError as answer:
            location = answer.headers.get("Location", "")
            query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
            return query.get("code", [None])[0]
        return None

    def mfa_token(self, api_key):
        """A fresh `mfaToken` of a user with an authenticator app, and the current code."""
        if self.mfa_user is None or self.mfa_user[0] != api_key:
            email, body = self.new_user(api_key)
            if email is None:
                return None, None
            bearer = {"X-Api-Key": api_key, "Authorization": f"Bearer {body['accessToken']}"}
            _, enrolled = call("POST", "/v1/mfa/enroll", {"method": "totp"}, bearer)
            query = urllib.parse.urlparse((enrolled or {}).get("totpUri", "")).query
            secret = urllib.parse.parse_qs(query).get("secret", [None])[0]
            if secret is None:
                return None, None
            call("POST", "/v1/mfa/verify", {"code": totp(secret, time.time())}, bearer)
            self.mfa_user = (api_key, email, secret)
        _, email, secret = self.mfa_user
        status, body = call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD},
                            {"X-Api-Key": api_key})
        token = ((body or {}).get("error") or {}).get("mfaToken") if status == 401 else None
        return token, totp(secret, time.time())


TOKENS = RealTokens()
SHARE = itertools.count()


@schemathesis.hook
def before_call(context, case, **kwargs):
    """Puts a real token into one in eight schema-valid cases of the operations that need one."""
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    body = case.body if isinstance(case.body, dict) else None
    if not positive or body is None or next(SHARE) % 8:
        return
    api_key = CREDENTIALS.api_key
    route = (case.operation.method.upper(), case.operation.path)
    if route == ("POST", "/v1/auth/verify"):
        body["token"] = CREDENTIALS.valid_access_token(CREDENTIALS.valid_api_key())
    elif route == ("POST", "/v1/auth/verify-email"):
        token = TOKENS.emailed(api_key, "/v1/auth/verify-email/send", "verify_email")
        if token:
            body["token"] = token
    elif route == ("POST", "/v1/auth/password-reset/confirm"):
        token = TOKENS.emailed(api_key, "/v1/auth/password-reset", "password_reset")
        if token:
            body["resetToken"] = token
    elif route == ("POST", "/v1/auth/magic-link/verify"):
        _, token = TOKENS.passwordless(api_key, "/v1/auth/magic-link", "magic_link", "token")
        if token:
            body["token"] = token
    elif route == ("POST", "/v1/auth/otp/verify"):
        email, code = TOKENS.passwordless(api_key, "/v1/auth/otp", "sign_in_code", "code")
        if code:
            body.pop("phone", None)
            body["email"] = email
            body["otp"] = code
    elif route == ("POST", "/v1/auth/exchange"):
        code = TOKENS.hand_off_code(api_key)
        if code:
            body["code"] = code
            body.pop("codeVerifier", None)
            body.pop("redirectUrl", None)
    elif route == ("POST", "/v1/auth/change-password"):
        # The bearer user's password, as long as no earlier case changed it.
        body["currentPassword"] = PASSWORD
    elif route in (("POST", "/v1/mfa/verify"), ("POST", "/v1/mfa/resend")):
        token, code = TOKENS.mfa_token(api_key)
        if token:
            body["mfaToken"] = token
            if "code" in body:
                body["code"] = code
