"""Where mail goes: the log (console), an SMTP server, or nowhere."""

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

import aiosmtplib

from app.config import EmailBackend, Environment, Settings
from app.core.clock import now
from app.core.mail.models import MailMessage
from app.core.mail.unsubscribe import UNSUBSCRIBE_PATH, unsubscribe_token

logger = logging.getLogger("app.mail")

SMTP_PORT, SMTPS_PORT = 587, 465
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    """smtps://: TLS from the first byte; smtp://: STARTTLS."""


def smtp_server(url: str) -> SmtpServer:
    parts = urlsplit(url)
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        hostname=parts.hostname or "localhost",
        port=parts.port or (SMTPS_PORT if implicit_tls else SMTP_PORT),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit_tls,
    )


def message_id(settings: Settings, message: MailMessage) -> str:
    """The same on every attempt of one message, so that a repeat after a crash (SMTP is at
    least once) is recognisable as the same mail."""
    domain = urlsplit(settings.public_base_url).hostname or "localhost"
    return f"<{message.id}@{domain}>"


def build(settings: Settings, message: MailMessage) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative."""
    mime = EmailMessage()
    mime["From"] = settings.email_from
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(now())
    mime["Message-ID"] = message_id(settings, message)
    mime["Auto-Submitted"] = "auto-generated"
    if message.topic is not None and message.user_id is not None:
        # RFC 2369's link with RFC 8058's one-click POST: mail programs show an
        # "Unsubscribe" button that turns this kind off without a login.
        token = unsubscribe_token(settings, message.user_id, message.topic)
        mime["List-Unsubscribe"] = f"<{settings.public_base_url}{UNSUBSCRIBE_PATH}?token={token}>"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(message.text_body or "")
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    return mime


async def deliver(settings: Settings, message: MailMessage) -> None:
    """Hands the message to the configured backend; raises if it was not accepted."""
    backend = settings.mail_backend
    if backend is EmailBackend.none:
        return
    mime = build(settings, message)
    if backend is EmailBackend.console:
        logger.info(
            "mail to %s: %s\n%s", message.to_address, message.subject, message.text_body or ""
        )
        return
    assert settings.smtp_url is not None  # the settings refuse smtp without a URL
    server = smtp_server(settings.smtp_url.get_secret_value())
    # STARTTLS is required in production (a server that does not offer it is refused),
    # except from a relay on this host (a sidecar MTA), where nothing crosses a network;
    # elsewhere it is used when offered, so a local test server needs no certificate.
    local_relay = server.hostname in LOOPBACK_HOSTS
    required = settings.environment is Environment.production and not local_relay
    start_tls = True if required else None
    await aiosmtplib.send(
        mime,
        hostname=server.hostname,
        port=server.port,
        username=server.username,
        password=server.password,
        use_tls=server.implicit_tls,
        start_tls=False if server.implicit_tls else start_tls,
        timeout=settings.email_timeout.total_seconds(),
    )
