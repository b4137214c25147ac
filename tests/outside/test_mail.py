"""Mail as users get it: `marketplace serve` and `marketplace worker` in their own processes,
sending through SMTP to a real SMTP server (aiosmtpd) that this test reads.

Registration mails a link that verifies the address; a password reset mails a link that sets
a new password and ends the old session. Nothing here is in-process: the API answers over
HTTP, the worker is the CLI, and the mail is what arrived at the server.
"""

import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.outside.live import REPO_ROOT, LiveServer, base_environment, free_port

if TYPE_CHECKING:
    from tests.conftest import ScratchDatabases

TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def server(
    scratch_databases: "ScratchDatabases", tmp_path: Path, inbox: tuple[Inbox, int]
) -> Iterator[LiveServer]:
    live = LiveServer(
        command=[sys.executable, "-m", "app.cli"],
        env=base_environment(
            MARKETPLACE_DATABASE_URL=scratch_databases.new_url(),
            MARKETPLACE_MEDIA_DIR=str(tmp_path / "media"),
            MARKETPLACE_RUN_WORKER_IN_PROCESS="false",
            MARKETPLACE_EMAIL_BACKEND="smtp",
            MARKETPLACE_SMTP_URL=f"smtp://127.0.0.1:{inbox[1]}",
            MARKETPLACE_EMAIL_FROM="Marketplace <no-reply@marketplace.test>",
            MARKETPLACE_EMAIL_LINK_BASE_URL="https://shop.example",
        ),
        cwd=REPO_ROOT,
        log_path=tmp_path / "server.log",
    )
    live.run("migrate")
    with live.serving():
        yield live


def _only_mail(inbox: Inbox, address: str, subject: str) -> EmailMessage:
    found = [m for m in inbox.to(address) if m["Subject"] == subject]
    assert len(found) == 1, [m["Subject"] for m in inbox.to(address)]
    return found[0]


def _token(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    match = TOKEN.search(text.get_content())
    assert match is not None, text.get_content()
    return match.group(1)


def test_registration_and_reset_mail_reach_a_real_smtp_server(
    server: LiveServer, inbox: tuple[Inbox, int]
) -> None:
    mailbox, _ = inbox
    email = f"outside-{uuid.uuid4().hex[:8]}@example.com"
    password, new_password = "first outside pass phrase", "second outside pass phrase"
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        registered = client.post(
            "/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Outside <b>Tester</b>"},
        )
        assert registered.status_code == 202, registered.text
        assert mailbox.to(email) == []  # never sent inside the request

        server.run("worker", "--once")
        verify = _only_mail(mailbox, email, "Confirm your email address")
        assert verify["From"] == "Marketplace <no-reply@marketplace.test>"
        assert verify["Message-ID"].endswith("@127.0.0.1>")
        assert "List-Unsubscribe" not in verify  # security mail cannot be turned off
        html = verify.get_body(preferencelist=("html",))
        assert html is not None
        assert "Outside &lt;b&gt;Tester&lt;/b&gt;" in html.get_content()  # escaped
        token = _token(verify)
        assert f"https://shop.example/verify-email?token={token}" in html.get_content()

        verified = client.post("/v1/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
        assert verified.json()["email_verified"] is True
        assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 400

        session = client.post("/v1/auth/token", data={"username": email, "password": password})
        assert session.status_code == 200, session.text

        for address in (email, f"nobody-{uuid.uuid4().hex[:8]}@example.com"):
            asked = client.post("/v1/auth/password-reset", json={"email": address})
            assert asked.status_code == 202, asked.text
        server.run("worker", "--once")
        reset = _only_mail(mailbox, email, "Reset your password")
        assert len(mailbox.messages) == 2  # nothing went to the unknown address

        confirmed = client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": _token(reset), "new_password": new_password},
        )
        assert confirmed.status_code == 204, confirmed.text
        old_session = client.get(
            "/v1/me", headers={"Authorization": f"Bearer {session.json()['access_token']}"}
        )
        assert old_session.status_code == 401, old_session.text
        assert (
            client.post(
                "/v1/auth/token", data={"username": email, "password": password}
            ).status_code
            == 401
        )
        assert (
            client.post(
                "/v1/auth/token", data={"username": email, "password": new_password}
            ).status_code
            == 200
        )

    deadline = time.monotonic() + 30
    server.run("worker", "--once")
    while time.monotonic() < deadline and not mailbox.to(email)[2:]:
        time.sleep(0.2)
    _only_mail(mailbox, email, "Your password was changed")
    # Sent mail keeps no body in the database (the reset token is gone with it).
    listed = server.run("mail", "--to", email, "--limit", "10")
    assert "Reset your password" in listed
    assert "(body wiped once sent)" in listed
    assert _token(reset) not in listed
