"""Mail: a real SMTP server in the test's process (aiosmtpd) that keeps what it is sent, the
settings of an app and worker that send to it, and readers of the outbox (`mail_messages`).

The sink runs in a thread of its own (aiosmtpd's `Controller`), so the worker under test talks
to it over a real TCP connection. It can refuse every message, or leave the next DATA
commands unanswered (a server that hangs mid-send): a stalled message is never kept, as a
real server discards a message it never acknowledged."""

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.mail.models import MailMessage
from tests.factories.apps import make_settings
from tests.integration.harness import free_port

_TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")
STALL_FOR = 3600.0  # seconds: longer than any test; the client hanging up ends it


@dataclass(frozen=True)
class Received:
    """One message the server acknowledged (250), as sent over the wire."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None, self.message
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, self.message
        return str(part.get_content())


@dataclass
class SinkHandler:
    """aiosmtpd handler: keeps every message it accepts, or refuses them all
    (`refuse_with`, an SMTP reply such as "554 5.7.1 refused"), or leaves the next
    `stall_next` DATA commands without an answer until the client hangs up."""

    received: list[Received] = field(default_factory=list)
    refuse_with: str | None = None
    stall_next: int = 0
    stalled: threading.Event = field(default_factory=threading.Event)
    """Set when a DATA command has stalled (the message is on the server, unacknowledged)."""
    data_commands: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        if self.stall_next > 0:
            self.stall_next -= 1
            self.stalled.set()
            # aiosmtpd cancels this when the client drops the connection.
            await asyncio.sleep(STALL_FOR)
            return "451 4.3.0 never acknowledged"
        if self.refuse_with is not None:
            return self.refuse_with
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], message)
        )
        return "250 2.0.0 OK: kept"


@dataclass
class SmtpSink:
    handler: SinkHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        """What the server kept for `address` (an envelope recipient), oldest first."""
        return [r for r in self.handler.received if address.lower() in r.rcpt_tos]

    def only_one_to(self, address: str, *, subject: str | None = None) -> Received:
        """The one message to `address` (with this subject, if given)."""
        found = [r for r in self.to(address) if subject is None or r.message["Subject"] == subject]
        assert len(found) == 1, [(r.rcpt_tos, r.message["Subject"]) for r in self.received]
        return found[0]

    async def wait_until_stalled(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Until a DATA command hangs on the server (real network I/O, so real time)."""
        for _ in range(int(timeout / 0.01)):
            if self.handler.stalled.is_set():
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("no DATA command reached the stalling server")


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """A running SMTP server on a free local port, stopped at the end."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSink(handler, port)
    finally:
        controller.stop()


def unreachable_smtp_url() -> str:
    """An SMTP URL nothing listens on (connections are refused)."""
    return f"smtp://127.0.0.1:{free_port()}"


def smtp_settings(settings: Settings, smtp_url: str, **overrides: Any) -> Settings:
    """The run's settings, sending mail through the SMTP server at `smtp_url`."""
    values: dict[str, Any] = {"email_backend": "smtp", "smtp_url": smtp_url, **overrides}
    return make_settings(settings.database_url, **values)


async def mails_in_outbox(
    session: AsyncSession, *, to: str | None = None, template: str | None = None
) -> list[MailMessage]:
    """The queued and sent mail (to `to`, of `template`), oldest first, as stored now."""
    statement = (
        select(MailMessage)
        .order_by(MailMessage.created_at, MailMessage.id)
        .execution_options(populate_existing=True)
    )
    if to is not None:
        statement = statement.where(MailMessage.to_address == to.lower())
    if template is not None:
        statement = statement.where(MailMessage.template == template)
    return list((await session.scalars(statement)).all())


async def only_mail(session: AsyncSession, *, to: str, template: str) -> MailMessage:
    """The one mail of `template` queued for `to`."""
    found = await mails_in_outbox(session, to=to, template=template)
    assert len(found) == 1, [(m.to_address, m.template) for m in found]
    return found[0]


def token_in(text: str | None) -> str:
    """The single-use token of an account mail (its link's `token=` parameter)."""
    assert text is not None, "the mail's body was wiped"
    found = _TOKEN.search(text)
    assert found is not None, text
    return found.group(1)


async def mailed_token(session: AsyncSession, *, to: str, template: str) -> str:
    """The token of the newest `template` mail to `to` (the console backend keeps bodies)."""
    found = await mails_in_outbox(session, to=to, template=template)
    assert found, f"no {template} mail to {to}"
    return token_in(found[-1].text_body)
