"""Listing images: the sizes a screen shows, derived from an upload.

An upload has already been judged a JPEG, PNG or WebP by its first bytes
(`app.core.storage.sniff_image_type`); here it is decoded, with the decoder held to that one
format, after its declared canvas has been checked against a pixel budget (a few kilobytes
can declare a canvas of gigapixels: a decompression bomb). The derived sizes are turned as
the EXIF orientation tag says and carry no metadata at all (no EXIF, GPS position, camera
serial, ICC profile or text chunks). The original is kept byte for byte, as uploaded.
"""

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# The longest side of each derived size, in pixels (never enlarged: a smaller original is
# re-encoded at its own size). A result card shows the thumbnail, a listing page the medium.
DERIVED_SIZES: dict[str, int] = {"thumbnail": 320, "medium": 1024}

# Pillow's name of each format the upload check admits, by content type.
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_JPEG_QUALITY = 85


class ImageRejected(Exception):
    """The file does not decode as the image its bytes announced."""


class ImageTooManyPixels(Exception):
    """The image declares more pixels than the budget allows."""


@dataclass(frozen=True, slots=True)
class DerivedImage:
    name: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    width: int
    """Of the original as displayed (after its orientation is applied)."""
    height: int
    derived: tuple[DerivedImage, ...]


def process(data: bytes, content_type: str, *, max_pixels: int) -> ProcessedImage:
    """The original's displayed size and its derived sizes (CPU-bound: run it in a thread)."""
    pil_format = _PIL_FORMATS[content_type]
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit refuses) on huge canvases; either way
        # the image is refused, before any pixel is decoded.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[pil_format]) as probe:
                if probe.width * probe.height > max_pixels:
                    raise ImageTooManyPixels()
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
                image.load()
                oriented = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageTooManyPixels() from error
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
            raise ImageRejected() from error
    derived = tuple(
        _derive(oriented, name, side, pil_format) for name, side in DERIVED_SIZES.items()
    )
    return ProcessedImage(width=oriented.width, height=oriented.height, derived=derived)


def _derive(image: Image.Image, name: str, side: int, pil_format: str) -> DerivedImage:
    scaled = image.copy()
    scaled.thumbnail((side, side), Image.Resampling.LANCZOS)
    if pil_format == "JPEG" and scaled.mode not in ("RGB", "L"):
        scaled = scaled.convert("RGB")
    elif pil_format == "WEBP" and scaled.mode not in ("RGB", "RGBA"):
        scaled = scaled.convert("RGBA" if "A" in scaled.getbands() else "RGB")
    # What the encoder could copy from the source (EXIF, ICC profile, PNG text) goes.
    scaled.info = {}
    out = io.BytesIO()
    if pil_format == "JPEG":
        scaled.save(out, "JPEG", quality=_JPEG_QUALITY, optimize=True)
    elif pil_format == "WEBP":
        scaled.save(out, "WEBP", quality=_JPEG_QUALITY)
    else:
        scaled.save(out, "PNG", optimize=True)
    return DerivedImage(name=name, data=out.getvalue(), width=scaled.width, height=scaled.height)
