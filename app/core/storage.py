"""Where uploaded files live, behind one small interface: local disk now, object storage
later (an S3 implementation only needs these three methods)."""

import asyncio
from pathlib import Path
from typing import Any, Protocol

from starlette.responses import Response
from starlette.staticfiles import StaticFiles

MEDIA_URL_PREFIX = "/media"
# Stored names are new UUIDs and a file is never rewritten under its name.
MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable"


class MediaStorage(Protocol):
    async def save(self, key: str, data: bytes) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def read(self, key: str) -> bytes: ...

    def url(self, key: str) -> str: ...


class LocalDiskStorage:
    """Files under `root` (the public root is served by the app at /media/<key>). `base_url`
    is the API's public URL (`Settings.public_base_url`): `url()` is absolute under it, so a
    client can show an image without knowing where the API lives."""

    def __init__(self, root: Path, base_url: str = "") -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are built by the app from ids, but never let one escape the media root.
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key escapes the media root: {key!r}")
        return path

    async def save(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(path.suffix + ".part")
            temporary.write_bytes(data)
            temporary.replace(path)  # atomic: a reader never sees half a file

        await asyncio.to_thread(write)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def read(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    def url(self, key: str) -> str:
        return f"{self.base_url}{MEDIA_URL_PREFIX}/{key}"


_SIGNATURES: tuple[tuple[str, str, int, bytes], ...] = (
    # (content type, extension, offset, magic bytes)
    ("image/jpeg", "jpg", 0, b"\xff\xd8\xff"),
    ("image/png", "png", 0, b"\x89PNG\r\n\x1a\n"),
)


def sniff_image_type(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPEG, PNG or WebP judged by its bytes, not its name."""
    for content_type, extension, offset, magic in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def sniff_evidence_type(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of dispute evidence: an image as above, or a PDF."""
    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    return sniff_image_type(data)


class ImmutableFiles(StaticFiles):
    """Serves stored media with a far-future, immutable Cache-Control."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = MEDIA_CACHE_CONTROL
        return response
