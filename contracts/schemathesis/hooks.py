"""Schemathesis hooks for gatehouse: real accounts and real tokens.

Two accounts are created through the API itself (signup), each with a password that no
example in the spec uses, so generated password changes and deactivations can never
succeed by accident:

- the *reader* account authenticates every operation that keeps its session alive; its
  token is fetched once and fetched again after a 401;
- the *revoker* account authenticates the operations that end the session they are
  called with (logout, revoke one, revoke all): it logs in afresh for every case, and
  every other generated `session_id` is replaced by that fresh session's id (204 as
  well as 404);
- password changes and deactivations each get a *disposable* account, signed up for
  the case; every other generated (current) password is replaced by the account's real
  one and every third new password by a strong one, so 204 is reached as well as
  403 and 400.

A generated `user_id` that is a valid UUID is replaced by the id of the account whose
token the case carries, so the owner's routes (200, 204, 404) are exercised and not
only the 403 every foreign id gets; ids that are not UUIDs are left as generated (400).
The choices depend only on the generated values, so a seed replays the same run.
"""

import json
import os
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["GATEHOUSE_URL"].rstrip("/")
PASSWORD = "Schemathesis-Only-7391"
STRONG = "Another-Strong-Pass-8812"
MAX_PASSWORD = 128  # the spec's maxLength
REVOKING = ["/api/auth/logout", "/api/{user_id}/sessions", "/api/{user_id}/sessions/{session_id}"]
SECRET_BODIES = ["/api/{user_id}", "/api/{user_id}/password"]
_accounts = {}
_disposable = [0]


def _post(path, body):
    request = urllib.request.Request(
        BASE_URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _login(role):
    email = f"schemathesis-{role}-{os.getpid()}@example.com"
    if role not in _accounts:
        _post("/api/auth/signup", {"email": email, "password": PASSWORD})
        _accounts[role] = True
    answer = _post("/api/auth/login", {"email": email, "password": PASSWORD})
    return {"token": answer["token"], "user_id": answer["user_id"], "session_id": answer["session_id"]}


def _as_uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _apply(case, data):
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {data['token']}"
    params = case.path_parameters or {}
    if "user_id" in params and _as_uuid(params["user_id"]) is not None:
        params["user_id"] = data["user_id"]
    session = _as_uuid(params.get("session_id"))
    if session is not None and session.int % 2 == 0:
        params["session_id"] = data["session_id"]
    body = case.body
    if isinstance(body, dict):
        # Only schema-valid values are swapped: a negative case must stay negative.
        for field in ("current_password", "password"):
            value = body.get(field)
            if _valid_password(value) and len(value) % 2 == 0:
                body[field] = PASSWORD
        value = body.get("new_password")
        if _valid_password(value) and len(value) % 3 == 0:
            body["new_password"] = STRONG


def _valid_password(value):
    return isinstance(value, str) and len(value) <= MAX_PASSWORD


def _is_revoking(ctx):
    operation = ctx.operation
    if operation is None:
        return False
    if operation.path == "/api/{user_id}/sessions":
        return operation.method.upper() == "DELETE"
    return operation.path in REVOKING


def _takes_secrets(ctx):
    operation = ctx.operation
    if operation is None:
        return False
    if operation.path == "/api/{user_id}":
        return operation.method.upper() == "DELETE"
    return operation.path in SECRET_BODIES


def _is_shared(ctx):
    return not _is_revoking(ctx) and not _takes_secrets(ctx)


@schemathesis.auth().apply_to(_is_shared)
class Reader:
    def get(self, case, ctx):
        return _login("reader")

    def set(self, case, data, ctx):
        _apply(case, data)


@schemathesis.auth(refresh_interval=None).apply_to(_is_revoking)
class Revoker:
    def get(self, case, ctx):
        return _login("revoker")

    def set(self, case, data, ctx):
        _apply(case, data)


@schemathesis.auth(refresh_interval=None).apply_to(_takes_secrets)
class Disposable:
    def get(self, case, ctx):
        _disposable[0] += 1
        return _login(f"disposable-{_disposable[0]}")

    def set(self, case, data, ctx):
        _apply(case, data)
