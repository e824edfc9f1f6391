"""The Python client that openapi-python-client generates from contracts/auth.yaml drives
the whole flow against a running gatehouse (GATEHOUSE_URL) and decodes errors into the
spec's typed envelope. run.sh generates the package `gatehouse_client` afresh on every run
(outside the clone) and puts it on PYTHONPATH."""

import os
import uuid
from http import HTTPStatus

import pytest

from gatehouse_client import AuthenticatedClient, Client
from gatehouse_client.api.account import get_profile, list_auth_events, list_sessions
from gatehouse_client.api.authentication import get_current_user, log_in, log_out, sign_up
from gatehouse_client.models import (
    AuthEventList,
    AuthEventType,
    AuthResponse,
    Credentials,
    ErrorCode,
    ErrorEnvelope,
    MessageResponse,
    ErrorDetailsType0,
    SessionList,
    User,
)

PASSWORD = "Correct-Horse-42"


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get("GATEHOUSE_URL")
    assert url, "GATEHOUSE_URL must point at a running gatehouse"
    return url


def unique_email() -> str:
    return f"py-{uuid.uuid4()}@example.com"


def assert_envelope(response, status: HTTPStatus) -> ErrorEnvelope:
    """The parsed body of an error answer: the typed envelope, with its request id."""
    assert response.status_code == status, response.content
    envelope = response.parsed
    assert isinstance(envelope, ErrorEnvelope), response.content
    # `format: uuid`: the generated model parses it into a UUID.
    assert str(envelope.meta.request_id) == response.headers["x-request-id"]
    return envelope


def test_signup_to_logout_then_me_is_refused_with_auth_revoked(base_url: str) -> None:
    email = unique_email()
    with Client(base_url=base_url, raise_on_unexpected_status=True) as anonymous:
        signed_up = sign_up.sync_detailed(client=anonymous, body=Credentials(email=email, password=PASSWORD))
        assert signed_up.status_code == HTTPStatus.CREATED, signed_up.content
        assert isinstance(signed_up.parsed, AuthResponse)
        assert signed_up.parsed.email == email
        assert signed_up.parsed.token_type == "Bearer"

        logged_in = log_in.sync_detailed(client=anonymous, body=Credentials(email=email, password=PASSWORD))
        assert logged_in.status_code == HTTPStatus.OK, logged_in.content
        session = logged_in.parsed
        assert isinstance(session, AuthResponse)
        assert session.user_id == signed_up.parsed.user_id
        assert session.session_id != signed_up.parsed.session_id

    with AuthenticatedClient(base_url=base_url, token=session.token, raise_on_unexpected_status=True) as client:
        me = get_current_user.sync_detailed(client=client)
        assert me.status_code == HTTPStatus.OK, me.content
        assert isinstance(me.parsed, User)
        assert me.parsed.email == email
        assert me.parsed.is_active
        assert me.parsed.last_login is not None
        user_id = me.parsed.user_id

        profile = get_profile.sync_detailed(user_id, client=client)
        assert isinstance(profile.parsed, User), profile.content
        assert profile.parsed.email == email

        events = list_auth_events.sync_detailed(user_id, client=client)
        assert isinstance(events.parsed, AuthEventList), events.content
        assert [e.event_type for e in events.parsed.data] == [AuthEventType.LOGIN, AuthEventType.SIGNUP]
        assert all(e.success and e.count == 1 and e.failure_reason is None for e in events.parsed.data)
        assert events.parsed.next_cursor is None

        sessions = list_sessions.sync_detailed(user_id, client=client)
        assert isinstance(sessions.parsed, SessionList), sessions.content
        assert len(sessions.parsed.data) == 2
        assert [s.session_id for s in sessions.parsed.data if s.current] == [session.session_id]

        bye = log_out.sync_detailed(client=client)
        assert isinstance(bye.parsed, MessageResponse), bye.content
        assert bye.parsed.message == "Logged out successfully"

        refused = get_current_user.sync_detailed(client=client)
        envelope = assert_envelope(refused, HTTPStatus.UNAUTHORIZED)
        assert envelope.error.code == ErrorCode.AUTH_REVOKED
        assert envelope.error.message == "Invalid or expired token"
        assert envelope.error.details is None
        assert refused.headers["www-authenticate"].startswith("Bearer")


def test_a_weak_password_decodes_into_typed_password_violations(base_url: str) -> None:
    with Client(base_url=base_url, raise_on_unexpected_status=True) as anonymous:
        refused = sign_up.sync_detailed(client=anonymous, body=Credentials(email=unique_email(), password="short"))
    envelope = assert_envelope(refused, HTTPStatus.BAD_REQUEST)
    assert envelope.error.code == ErrorCode.VALIDATION_PASSWORD
    # `details` is the nullable ErrorDetails object (exactly one of fields / violations);
    # openapi-python-client names its non-null branch ErrorDetailsType0.
    assert isinstance(envelope.error.details, ErrorDetailsType0)
    rules = [str(v.rule) for v in envelope.error.details.violations]
    assert rules == ["min_length", "uppercase", "digit"]
