"""Small text helpers shared by domains."""

import re
import unicodedata
from datetime import UTC, datetime

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, *, max_length: int = 100) -> str:
    """ASCII, lower-case, hyphen-separated: "Café Noir!" → "cafe-noir". May be empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NON_SLUG.sub("-", ascii_text.lower()).strip("-")[:max_length].rstrip("-")


def mask_secret(value: str, *, visible: int = 4) -> str:
    """ "DE89370400440532013000" → "••••3000": enough to recognise, useless to steal."""
    return "••••" + value[-visible:] if len(value) > visible else "••••"


def human_time(at: datetime) -> str:
    """A time as people read it in a notice or a mail: "7 Dec 2026, 14:05 UTC"."""
    return f"{at.day} {at.astimezone(UTC):%b %Y, %H:%M} UTC"
