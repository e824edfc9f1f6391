"""Contract v2 rule 4, for the Python client openapi-python-client generates from
contracts/auth.yaml: event types, failure reasons, error codes and password rules grow in
later releases, and a client generated from this spec must keep working when a newer server
sends a value the spec does not list. A stand-in transport answers as such a release might;
the client must parse the answer and keep the value. (Against a spec with closed enums the
generated models raise ValueError: 'some_future_event' is not a valid AuthEventType.)"""

import uuid
from http import HTTPStatus

import httpx

from gatehouse_client import Client, models
from gatehouse_client.api.account import get_profile, list_auth_events
from gatehouse_client.models import AuthEventList, AuthEventType, ErrorCode, ErrorDetailsType0, ErrorEnvelope


def later_release(status: HTTPStatus, body: dict) -> Client:
    """A client whose every request is answered with `status` and the JSON `body`."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    return Client(
        base_url="http://later-release.invalid",
        httpx_args={"transport": transport},
        raise_on_unexpected_status=True,
    )


def event(event_type: str, failure_reason: str | None) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "success": failure_reason is None,
        "failure_reason": failure_reason,
        "ip_address": "127.0.0.1",
        "user_agent": None,
        "created_at": "2026-01-14T10:00:00Z",
        "count": 1,
    }


def test_event_types_and_failure_reasons_a_later_release_adds_are_parsed_and_kept() -> None:
    body = {
        "data": [
            event("some_future_event", "SOME_FUTURE_REASON"),
            event("login_failed", "INVALID_CREDENTIALS"),
            event("login", None),
        ],
        "next_cursor": None,
    }
    with later_release(HTTPStatus.OK, body) as client:
        page = list_auth_events.sync_detailed(uuid.uuid4(), client=client)
    assert isinstance(page.parsed, AuthEventList), page.content
    future, failed, login = page.parsed.data
    assert future.event_type == "some_future_event"
    assert not isinstance(future.event_type, AuthEventType)
    assert future.failure_reason == "SOME_FUTURE_REASON"
    # Known values still parse into the spec's enums.
    assert failed.event_type is AuthEventType.LOGIN_FAILED
    assert failed.failure_reason is models.FailureReason.INVALID_CREDENTIALS
    assert login.event_type is AuthEventType.LOGIN and login.failure_reason is None
    # And are sent back as they came.
    assert future.to_dict()["event_type"] == "some_future_event"
    assert failed.to_dict()["failure_reason"] == "INVALID_CREDENTIALS"


def test_an_error_code_and_a_password_rule_a_later_release_adds_are_parsed_and_kept() -> None:
    body = {
        "error": {
            "code": "SOME_FUTURE_CODE",
            "message": "Refused for a reason a later release adds",
            "details": {
                "violations": [
                    {"rule": "some_future_rule", "message": "Too guessable"},
                    {"rule": "min_length", "message": "Password must be at least 8 characters"},
                ]
            },
        },
        "meta": {"timestamp": "2026-01-14T10:00:00Z", "request_id": str(uuid.uuid4())},
    }
    with later_release(HTTPStatus.FORBIDDEN, body) as client:
        refused = get_profile.sync_detailed(uuid.uuid4(), client=client)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    envelope = refused.parsed
    assert isinstance(envelope, ErrorEnvelope), refused.content
    assert envelope.error.code == "SOME_FUTURE_CODE"
    assert not isinstance(envelope.error.code, ErrorCode)
    assert isinstance(envelope.error.details, ErrorDetailsType0)
    rules = [v.rule for v in envelope.error.details.violations]
    assert rules == ["some_future_rule", models.PasswordRule.MIN_LENGTH]
