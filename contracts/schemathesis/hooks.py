"""Schemathesis hooks for gatehouse: real accounts and real tokens.

Two accounts are created through the API itself (signup), each with a password that no
example in the spec uses, so generated password changes and deactivations can never
succeed by accident:

- the *reader* account authenticates every operation that keeps its session alive; its
  token is fetched once and fetched again after a 401;
- the *revoker* account authenticates the operations that end the session they are
  called with (logout, revoke one, revoke all): it logs in afresh for every case.

A generated `user_id` that is a valid UUID is replaced by the id of the account whose
token the case carries, so the owner's routes (200, 204, 404) are exercised and not
only the 403 every foreign id gets; ids that are not UUIDs are left as generated (400).
"""

import json
import os
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["GATEHOUSE_URL"].rstrip("/")
PASSWORD = "Schemathesis-Only-7391"
REVOKING = ["/api/auth/logout", "/api/{user_id}/sessions", "/api/{user_id}/sessions/{session_id}"]
_accounts = {}


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
    return {"token": answer["token"], "user_id": answer["user_id"]}


def _apply(case, data):
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {data['token']}"
    params = case.path_parameters or {}
    if "user_id" in params:
        try:
            uuid.UUID(str(params["user_id"]))
        except ValueError:
            return
        params["user_id"] = data["user_id"]


def _is_revoking(ctx):
    operation = ctx.operation
    if operation is None:
        return False
    if operation.path == "/api/{user_id}/sessions":
        return operation.method.upper() == "DELETE"
    return operation.path in REVOKING


@schemathesis.auth().skip_for(_is_revoking)
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
