"""The integration harness's own tests: signatures against a published vector, the webhook
receiver, client generation, and (on PostgreSQL) a live server and worker process."""

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.integration.harness import (
    CLIENT_PACKAGE,
    ClientGenerationError,
    WebhookReceiver,
    WebhookVerificationError,
    generate_client,
    operation,
    sign,
    verify,
)

# The Standard Webhooks / Svix reference vector (also what the `standardwebhooks` 1.1.0
# package computes for it).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
HEADERS = {
    "webhook-id": MESSAGE_ID,
    "webhook-timestamp": str(TIMESTAMP),
    "webhook-signature": SIGNATURE,
}
OTHER_SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"


# ------------------------------------------------------------------------------ signatures


def test_sign_reproduces_the_reference_vector() -> None:
    assert sign(SECRET, MESSAGE_ID, TIMESTAMP, BODY) == SIGNATURE


def test_verify_accepts_the_reference_vector() -> None:
    assert verify(SECRET, HEADERS, BODY, now=TIMESTAMP) == MESSAGE_ID


def test_verify_matches_header_names_case_insensitively() -> None:
    titled = {k.title(): v for k, v in HEADERS.items()}
    assert verify(SECRET, titled, BODY, now=TIMESTAMP) == MESSAGE_ID


def test_one_matching_v1_entry_among_several_suffices() -> None:
    entries = f"v2,{SIGNATURE[3:]} v1,{'A' * 43}= {SIGNATURE}"
    headers = {**HEADERS, "webhook-signature": entries}
    assert verify(SECRET, headers, BODY, now=TIMESTAMP) == MESSAGE_ID


def test_the_tolerance_is_inclusive_both_ways() -> None:
    ten_seconds = timedelta(seconds=10)
    assert verify(SECRET, HEADERS, BODY, now=TIMESTAMP + 300) == MESSAGE_ID
    assert verify(SECRET, HEADERS, BODY, now=TIMESTAMP - 300) == MESSAGE_ID
    assert verify(SECRET, HEADERS, BODY, now=TIMESTAMP + 10, tolerance=ten_seconds) == MESSAGE_ID


def test_verify_uses_the_current_time_by_default() -> None:
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(SECRET, "evt_1", now, b"{}"),
    }
    verify(SECRET, headers, b"{}")
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SECRET, HEADERS, BODY)


@pytest.mark.parametrize(
    ("secret", "headers", "body", "now", "message"),
    [
        (SECRET, HEADERS, BODY + b" ", TIMESTAMP, "no v1 signature"),
        (OTHER_SECRET, HEADERS, BODY, TIMESTAMP, "no v1 signature"),
        (SECRET, {**HEADERS, "webhook-id": "msg_other"}, BODY, TIMESTAMP, "no v1 signature"),
        (
            SECRET,
            {**HEADERS, "webhook-timestamp": str(TIMESTAMP + 1)},
            BODY,
            TIMESTAMP,
            "no v1 signature",
        ),
        (
            SECRET,
            {**HEADERS, "webhook-signature": "v2," + SIGNATURE[3:]},
            BODY,
            TIMESTAMP,
            "no v1 signature",
        ),
        (SECRET, {**HEADERS, "webhook-signature": ""}, BODY, TIMESTAMP, "missing"),
        (SECRET, HEADERS, BODY, TIMESTAMP + 301, "too old"),
        (SECRET, HEADERS, BODY, TIMESTAMP - 301, "future"),
        (SECRET, {**HEADERS, "webhook-timestamp": "1e9"}, BODY, TIMESTAMP, "Unix seconds"),
        ("whsec_not base64!", HEADERS, BODY, TIMESTAMP, "secret"),
        *[
            (SECRET, {k: v for k, v in HEADERS.items() if k != name}, BODY, TIMESTAMP, "missing")
            for name in HEADERS
        ],
    ],
    ids=[
        "tampered-body",
        "other-secret",
        "other-id",
        "other-timestamp",
        "only-v2",
        "empty-signature",
        "too-old",
        "too-new",
        "non-integer-timestamp",
        "malformed-secret",
        "no-id",
        "no-timestamp",
        "no-signature",
    ],
)
def test_verify_refuses(
    secret: str, headers: dict[str, str], body: bytes, now: int, message: str
) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify(secret, headers, body, now=now)


# -------------------------------------------------------------------------- webhook receiver


def test_receiver_records_requests_and_answers_the_status_it_is_told(
    webhook_receiver: WebhookReceiver,
) -> None:
    body = json.dumps({"type": "order.paid"}).encode()
    first = httpx.post(
        webhook_receiver.url_for("/hooks/a?x=1"),
        content=body,
        headers={**HEADERS, "Content-Type": "application/json"},
    )
    webhook_receiver.respond_with(503)
    second = httpx.post(webhook_receiver.url_for("/hooks/a"), content=body, headers=HEADERS)

    assert (first.status_code, second.status_code) == (204, 503)
    one, two = webhook_receiver.wait_for(lambda requests: len(requests) == 2, timeout=5)
    assert (one.method, one.path, one.body, one.status) == ("POST", "/hooks/a?x=1", body, 204)
    assert one.headers["content-type"] == "application/json"
    assert one.event_id == MESSAGE_ID
    assert one.json() == {"type": "order.paid"}
    assert two.status == 503
    assert list(webhook_receiver.by_event_id()) == [MESSAGE_ID]
    assert len(webhook_receiver.by_event_id()[MESSAGE_ID]) == 2


def test_received_request_verifies_its_own_signature(webhook_receiver: WebhookReceiver) -> None:
    now = int(time.time())
    body = b'{"id": "evt_2"}'
    httpx.post(
        webhook_receiver.url_for(),
        content=body,
        headers={
            "webhook-id": "evt_2",
            "webhook-timestamp": str(now),
            "webhook-signature": sign(SECRET, "evt_2", now, body),
        },
    )
    (request,) = webhook_receiver.wait_for(lambda requests: len(requests) == 1, timeout=5)
    request.verify(SECRET)
    with pytest.raises(WebhookVerificationError):
        request.verify(OTHER_SECRET)


def test_receiver_hangs_on_the_first_requests_only(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.hang(2.0, first=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(webhook_receiver.url_for(), content=b"1", timeout=0.3)
    started = time.monotonic()
    answered = httpx.post(webhook_receiver.url_for(), content=b"2", timeout=5)

    assert answered.status_code == 204
    assert time.monotonic() - started < 1.5
    hung, quick = webhook_receiver.requests
    assert (hung.body, hung.hung_for, quick.body, quick.hung_for) == (b"1", 2.0, b"2", 0.0)


def test_close_cuts_a_hang_short_without_asyncio_errors(caplog: pytest.LogCaptureFixture) -> None:
    receiver = WebhookReceiver().start()
    receiver.hang(30, first=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(receiver.url_for(), content=b"1", timeout=0.3)
    started = time.monotonic()
    receiver.close()

    assert time.monotonic() - started < 3
    assert [r.body for r in receiver.requests] == [b"1"]
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text


def test_receiver_reads_chunked_bodies(webhook_receiver: WebhookReceiver) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"hello, "
        yield b"world"

    response = httpx.post(webhook_receiver.url_for(), content=chunks())

    assert response.status_code == 204
    (request,) = webhook_receiver.requests
    assert request.headers["transfer-encoding"] == "chunked"
    assert request.body == b"hello, world"


def test_wait_for_times_out_with_what_did_arrive(webhook_receiver: WebhookReceiver) -> None:
    httpx.post(webhook_receiver.url_for("/only"), content=b"x")
    with pytest.raises(TimeoutError, match=r"1 request\(s\)[\s\S]*/only"):
        webhook_receiver.wait_for(lambda requests: len(requests) > 1, timeout=0.2)


async def test_wait_for_async_leaves_the_event_loop_free(
    webhook_receiver: WebhookReceiver,
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(webhook_receiver.url_for(), content=b"async")
    assert response.status_code == 204
    (request,) = await webhook_receiver.wait_for_async(lambda r: len(r) == 1, timeout=5)
    assert request.body == b"async"


# ------------------------------------------------------------------------- client generation


def test_committed_spec_generates_an_importable_typed_client(generated_client: ModuleType) -> None:
    assert generated_client.__name__ == CLIENT_PACKAGE
    assert {"AuthenticatedClient", "Client"} <= set(dir(generated_client))
    create = operation(generated_client, "listings", "listings_create_listing")
    assert callable(create.sync_detailed)
    assert callable(create.asyncio_detailed)
    client = generated_client.AuthenticatedClient(base_url="http://127.0.0.1:1", token="mk_key")
    assert client.get_httpx_client().headers["Authorization"] == "Bearer mk_key"


def test_any_generator_warning_fails_generation(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    xml_only = {"200": {"description": "xml", "content": {"application/xml": {}}}}
    spec.write_text(
        json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "Marketplace API", "version": "0"},
                "paths": {"/x": {"get": {"operationId": "get_x", "responses": xml_only}}},
            }
        )
    )
    with pytest.raises(ClientGenerationError, match="Unsupported content_type application/xml"):
        generate_client(tmp_path, spec=spec)


# ------------------------------------------------------------- live server (PostgreSQL only)

PASSWORD = "a-long-test-password"
