"""Schemathesis hooks for gatehouse: real accounts, real ids and real tokens.

The hooks' own accounts are created through the API itself (signup), each with a password
that no example in the spec uses, so generated password changes and deactivations never
succeed by accident:

- the *reader* account authenticates every operation that keeps its session alive; it
  logs in once;
- the *revoker* account authenticates the operations that end a session (logout, revoke
  one, revoke all); it logs in again only after a case actually ended its session (a 2xx
  of logout / revoke all, or of revoke one on its own session), so a refused case costs
  no login;
- a *keeper* account takes the password changes: its password is whatever the last 204
  set, so one account serves every case;
- a *disposable* account takes the deactivations, and a new one is signed up only after a
  case deactivated the current one;
- a *signin* account is the one a login case logs in to while the run has signed no one
  up yet.

Accounts the run itself creates (a 201 of signup, a 200 of login: the examples, the
fuzzed and the stateful ones) are remembered with their email, password, token and
session, from the request and the response. Then:

- a `user_id` that is one of them (the stateful phase follows the spec's links from
  signup / login with the real `user_id` and `session_id`) is sent with *that* account's
  token, its real session id stays, and its password is swapped in (rule below);
- a generated `user_id` that is a valid, even UUID becomes one of them, the next in turn
  (the hooks' own account while there is none yet), with its token, so the account routes
  run as many real accounts with their real ids (200 / 204) and the requests differ (a
  swap to one fixed account made most account cases the same request); an odd one stays
  foreign (403), a malformed one malformed (400); a server-made id (one a response
  carried, e.g. through an inferred link) stays as it is;
- a generated, even `session_id` becomes the acting account's live session (204), an odd
  one stays unknown (404);
- a schema-valid (current) password becomes the account's real one when its length is
  even, and a new password a strong one when its length is a multiple of three: 204 as
  well as 400 and 403;
- every other positive login (by turn: Hypothesis repeats its simplest email often) gets
  a real account's email, and its password by the rule above: 200 as well as 401.

An account is forgotten once a case ended its session or deactivated it (a later login
remembers it again); a case made before that (explicit examples are all made before the
first is sent) goes out with a live account instead.

Every choice depends only on generated values, on the order of the cases and on what a
server that starts empty answers (one worker, schemathesis.toml), never on the value of a
server-made id, so a seed replays the same run: the same cases, the same counts.
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

# The hooks' own accounts: role -> {email, password, token, user_id, session_id}.
_own = {}
_spent = set()  # roles whose session (or account) a case ended
_counter = [0]
# Accounts the run created: user_id -> {token, session_id, sessions, password}.
_known = {}
_seen = set()  # every UUID a response carried: server-made ids, not generated ones
_forgotten = set()  # user ids of such accounts whose session a case ended (or deactivated)
# Tokens of the hooks' accounts that a case ended: token -> (role, user_id, session_id).
_obsolete = {}
_cycle = [0]
_turn = [0]
_made = {}  # generated case id -> the Authorization its set() gave it, until it is sent


def _post(path, body):
    request = urllib.request.Request(
        BASE_URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _account(role):
    """The role's account with a live session: signs it up, or logs in again, when needed."""
    account = _own.get(role)
    if account is None:
        _counter[0] += 1
        account = {"email": f"schemathesis-{role}-{_counter[0]}-{os.getpid()}@example.com", "password": PASSWORD}
        _post("/api/auth/signup", {"email": account["email"], "password": account["password"]})
        _own[role] = account
        _spent.add(role)
    if role in _spent or "token" not in account:
        answer = _post("/api/auth/login", {"email": account["email"], "password": account["password"]})
        account.update(token=answer["token"], user_id=answer["user_id"], session_id=answer["session_id"])
        _seen.update((answer["user_id"], answer["session_id"]))
        _spent.discard(role)
    return {"role": role, **account}


def _as_uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _valid_password(value):
    return isinstance(value, str) and len(value) <= MAX_PASSWORD


def _swap_passwords(body, password):
    if not isinstance(body, dict) or not isinstance(password, str):
        return
    # Only schema-valid values are swapped: a negative case must stay negative.
    for field in ("current_password", "password"):
        value = body.get(field)
        if _valid_password(value) and len(value) % 2 == 0:
            body[field] = password
    value = body.get("new_password")
    if _valid_password(value) and len(value) % 3 == 0:
        body["new_password"] = STRONG


def _act_as(case, params, user_id, account):
    """Sends the case as `account` (token, and its live session for an even session id)."""
    params["user_id"] = user_id
    case.headers["Authorization"] = f"Bearer {account['token']}"
    if _generated_even(params.get("session_id")):
        params["session_id"] = account["session_id"]
    _swap_passwords(case.body, account["password"])


def _generated_even(value):
    """A generated (not server-made) valid UUID whose integer is even."""
    parsed = _as_uuid(value)
    return parsed is not None and str(value) not in _seen and parsed.int % 2 == 0


def _next_known():
    """The run's accounts in turn (in the order the run met them): one per even id."""
    if not _known:
        return None
    user_id = list(_known)[_cycle[0] % len(_known)]
    _cycle[0] += 1
    return user_id


def _apply(case, data):
    case.headers = case.headers or {}
    params = case.path_parameters or {}
    if "user_id" not in params:
        case.headers["Authorization"] = f"Bearer {data['token']}"
        body = case.body
        if _route(case.operation) == LOGIN and isinstance(body, dict) and not _is_negative(case):
            email = body.get("email")
            # Every other login with a string email (Hypothesis repeats its simplest email
            # often, so a rule on its value would treat those alike): a real account's
            # email, the next of the run's in turn, and its password by the rule below
            # (200 as well as 401).
            # Before the run has signed anyone up, the hooks' own *signin* account.
            if isinstance(email, str) and "@" in email:
                _turn[0] += 1
                if _turn[0] % 2 == 0:
                    chosen = _next_known()
                    target = _known[chosen] if chosen is not None else _account("signin")
                    body["email"] = target["email"]
                    _swap_passwords(body, target["password"])
                    return
        _swap_passwords(body, data["password"])
        return
    user_id = str(params["user_id"])
    if user_id in _known:
        # A real account of the run, named by a link: act as it.
        _act_as(case, params, user_id, _known[user_id])
        return
    if _generated_even(user_id) and user_id not in _forgotten:
        # An even id: a real account, the next of the run's in turn (so the requests
        # differ), or the hooks' own one while the run has none.
        chosen = _next_known()
        if chosen is not None:
            _act_as(case, params, chosen, _known[chosen])
        else:
            own = {"sessions": {data["session_id"]}, **data}
            _act_as(case, params, data["user_id"], own)
        return
    # An odd id, a server-made one that is no account of the run's (the hooks' own, or
    # forgotten), or not a UUID: as it is (403 unless it is the role's own, or 400), with
    # the role's token. (A server-made id is random: a choice on its value would make the
    # run differ from the last.)
    case.headers["Authorization"] = f"Bearer {data['token']}"
    if _generated_even(params.get("session_id")):
        params["session_id"] = data["session_id"]
    _swap_passwords(case.body, data["password"])


def _is_negative(case):
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    return getattr(mode, "value", mode) == "negative"


def _route(operation):
    return operation.method.upper(), operation.path


ENDS_SESSION = {
    ("POST", "/api/auth/logout"),
    ("DELETE", "/api/{user_id}/sessions"),
    ("DELETE", "/api/{user_id}/sessions/{session_id}"),
}
LOGIN = ("POST", "/api/auth/login")
SIGNUP = ("POST", "/api/auth/signup")
CHANGE_PASSWORD = ("PUT", "/api/{user_id}/password")
DEACTIVATE = ("DELETE", "/api/{user_id}")


def _role_for(operation):
    route = _route(operation)
    if route in ENDS_SESSION:
        return "revoker"
    if route == CHANGE_PASSWORD:
        return "keeper"
    if route == DEACTIVATE:
        return "disposable"
    return "reader"


@schemathesis.auth(refresh_interval=None)
class Accounts:
    def get(self, case, ctx):
        return _account(_role_for(ctx.operation))

    def set(self, case, data, ctx):
        _apply(case, data)
        _made[case.id] = case.headers.get("Authorization")


def _collect_ids(value):
    if isinstance(value, dict):
        for item in value.values():
            _collect_ids(item)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item)
    elif isinstance(value, str) and len(value) == 36 and _as_uuid(value) is not None:
        _seen.add(value)


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


@schemathesis.hook
def before_call(context, case, kwargs):
    """A case made before an earlier one ended its account's session goes out with the new one.

    (Explicit examples are all made before the first is sent.)"""
    headers = case.headers or {}
    given = _made.pop(case.id, None)
    # Only a generated case, sent for the first time, with the token it was given: the
    # requests a check derives from a case (no token, a revoked one, after a delete) stay.
    if given is None or headers.get("Authorization") != given:
        return
    old = _obsolete.get(given.removeprefix("Bearer "))
    if old is None:
        return
    role, user_id, session_id = old
    chosen = _next_known() if role is None else None
    if chosen is not None:
        account = {"user_id": chosen, **_known[chosen]}
    else:
        role = role or _role_for(case.operation)
        if role in _own and "token" in _own[role] and role not in _spent:
            account = _own[role]
        else:
            account = _account(role)
    headers["Authorization"] = f"Bearer {account['token']}"
    params = case.path_parameters or {}
    if params.get("user_id") == user_id:
        params["user_id"] = account["user_id"]
    if params.get("session_id") == session_id:
        params["session_id"] = account["session_id"]


def _forget(user_id):
    account = _known.pop(user_id, None)
    _forgotten.add(user_id)
    if account is not None:
        _obsolete[account["token"]] = (None, user_id, account["session_id"])


@schemathesis.hook
def after_call(context, case, response):
    """Learns the run's accounts from signup / login, and what a case ended or changed."""
    route = _route(case.operation)
    status = response.status_code
    body = case.body if isinstance(case.body, dict) else {}
    if 200 <= status < 300:
        _collect_ids(_json(response))
    params = case.path_parameters or {}
    if route in (SIGNUP, LOGIN) and status in (200, 201):
        answer = _json(response) or {}
        user_id = answer.get("user_id")
        own = {account.get("user_id") for account in _own.values()}
        if user_id and answer.get("token") and user_id not in own:
            _forgotten.discard(user_id)
            account = _known.setdefault(user_id, {"sessions": set()})
            account.update(
                token=answer["token"],
                session_id=answer.get("session_id"),
                password=body.get("password"),
                email=body.get("email"),
            )
            account["sessions"].add(answer.get("session_id"))
        return
    if not 200 <= status < 300:
        return
    role = _role_for(case.operation)
    known = _known.get(str(params.get("user_id")))
    if route == CHANGE_PASSWORD:
        if known is not None:
            known["password"] = body.get("new_password")
        elif role in _own and params.get("user_id") == _own[role].get("user_id"):
            _own[role]["password"] = body.get("new_password")
    elif route == DEACTIVATE:
        if known is not None:
            _forget(str(params.get("user_id")))
        elif role in _own:
            account = _own.pop(role)
            _obsolete[account.get("token")] = (role, account.get("user_id"), account.get("session_id"))
    elif route in ENDS_SESSION:
        session = params.get("session_id")
        if known is not None and (session is None or session == known["session_id"]):
            _forget(str(params.get("user_id")))
        elif role in _own and (session is None or session == _own[role].get("session_id")):
            account = _own[role]
            _obsolete[account.get("token")] = (role, account.get("user_id"), account.get("session_id"))
            _spent.add(role)
