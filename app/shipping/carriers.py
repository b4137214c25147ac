"""The carrier registry (`data/carriers.json`) and tracking-number validation.

The formats live as data in the repository because no maintained library recognises tracking
numbers. A number is normalized (white space removed, upper case), must fully match one of its
carrier's formats and, where that format has one, pass its check digit. A carrier missing from
the registry is `other`, with a free name and any plausible number.
"""

import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from app.shipping.exceptions import CarrierNameRequired, InvalidTrackingNumber, UnknownCarrier

OTHER = "other"
SANDBOX = "sandbox"
"""The test carrier whose numbers script a journey (`app.logistics.sandbox`); refused in
production."""
"""A carrier not in the registry: a free name is required, and any number of 4 to 40 letters,
digits and hyphens is accepted."""
OTHER_NAME = "Other carrier"
MAX_TRACKING_NUMBER = 40
"""No carrier's number is longer; the bound also keeps every pattern's input small."""

_OTHER_NUMBER = re.compile(rf"[A-Z0-9-]{{4,{MAX_TRACKING_NUMBER}}}", re.ASCII)
_PLACEHOLDER = "{tracking_number}"
# ASCII only: str.upper() turns some non-ASCII letters into ASCII ones (U+017F, the long s,
# into "S") and would so make a number out of something that is not one.
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


# --- check digits ------------------------------------------------------------------------------
# Each check is given a number that matched its format's pattern, and still verifies the shape
# it relies on, so that a check paired with a looser pattern in the data refuses rather than
# raises.

_S10 = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}", re.ASCII)
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_UPS = re.compile(r"1Z[0-9A-Z]{15}[0-9]", re.ASCII)
_DIGITS = re.compile(r"[0-9]{2,}", re.ASCII)
_USPS_APPLICATION_ID = re.compile(r"9[1-5]", re.ASCII)


def _upu_s10(number: str) -> bool:
    """UPU S10: service indicator (2 letters), serial (8 digits), check digit, country (2
    letters). The serial weighted 8,6,4,2,3,5,9,7; the check is 11 - sum mod 11, where 10
    becomes 0 and 11 becomes 5."""
    if not _S10.fullmatch(number):
        return False
    weighted = sum(int(d) * w for d, w in zip(number[2:10], _S10_WEIGHTS, strict=True))
    check = 11 - weighted % 11
    check = {10: 0, 11: 5}.get(check, check)
    return check == int(number[10])


def _ups(number: str) -> bool:
    """UPS `1Z`: the 15 characters after `1Z` (a letter counts as (ord - 63) mod 10, so A=2,
    I=0, S=0, Z=7) summed with weight 1 at odd and 2 at even positions; the check digit brings
    the sum up to a multiple of 10."""
    if not _UPS.fullmatch(number):
        return False
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in number[2:17]]
    total = sum(value * (2 if position % 2 else 1) for position, value in enumerate(values))
    return (10 - total % 10) % 10 == int(number[17])


def _mod7(number: str) -> bool:
    """DHL Express: the number without its last digit, modulo 7, is the last digit."""
    return bool(_DIGITS.fullmatch(number)) and int(number[:-1]) % 7 == int(number[-1])


def _mod10_weights_3_1(payload: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def _usps_mod10(number: str) -> bool:
    """USPS IMpb: the digits before the check digit weighted 3, 1, 3... from the right; the
    check digit brings the sum up to a multiple of 10."""
    if not _DIGITS.fullmatch(number):
        return False
    payload, check = number[:-1], int(number[-1])
    if _mod10_weights_3_1(payload) == check:
        return True
    # A 20-digit number (certified mail and the like) may leave out its "91" application
    # identifier, which its check digit still covers.
    return (
        len(number) == 20
        and not _USPS_APPLICATION_ID.match(number)
        and _mod10_weights_3_1("91" + payload) == check
    )


CHECKS: Mapping[str, Callable[[str], bool]] = MappingProxyType(
    {"upu_s10": _upu_s10, "ups": _ups, "mod7": _mod7, "usps_mod10": _usps_mod10}
)
"""The check-digit algorithms a format's `check` may name."""


# --- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackingFormat:
    name: str
    """What the number looks like, for people: `1Z + 16 letters and digits`."""
    pattern: re.Pattern[str]
    """Matches the whole normalized number."""
    check: str | None
    """A key of `CHECKS`, or None: the format has no check digit."""
    example: str


@dataclass(frozen=True, slots=True)
class Carrier:
    code: str
    name: str
    country: str | None
    """ISO 3166-1 alpha-2; None: international."""
    tracking_url: str | None
    """The public tracking page, with `{tracking_number}` where the number goes."""
    formats: tuple[TrackingFormat, ...]


@dataclass(frozen=True, slots=True)
class Tracking:
    carrier: str
    """A registry code, or `other`."""
    carrier_name: str
    """The registry's display name, or the free name given with `other`."""
    tracking_number: str
    """Normalized: white space removed, upper case."""
    tracking_url: str | None


_CODE = re.compile(r"[a-z][a-z0-9_]{1,31}", re.ASCII)
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
_MAX_NAME = 64
_CARRIER_KEYS = {"code", "name", "country", "tracking_url", "aliases", "formats"}
_FORMAT_KEYS = {"name", "pattern", "check", "example"}


def _loose(text: str) -> str:
    """A carrier's code, name or alias as legacy clients wrote it: `Royal Mail` -> royal_mail."""
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"carriers.json: {where}: `{key}` must be a non-empty string")
    return value


def _optional_text(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if entry.get(key) is None else _text(entry, key, where)


def _entries(value: object, where: str, keys: set[str]) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"carriers.json: {where} must be a non-empty list")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ValueError(f"carriers.json: {where}[{index}] must be an object")
        if unknown := set(entry) - keys:
            raise ValueError(f"carriers.json: {where}[{index}]: unknown keys {sorted(unknown)}")
    return value


def _format(entry: Mapping[str, Any], where: str) -> TrackingFormat:
    check = _optional_text(entry, "check", where)
    if check is not None and check not in CHECKS:
        raise ValueError(f"carriers.json: {where}: unknown check {check!r}")
    try:
        pattern = re.compile(_text(entry, "pattern", where), re.ASCII)
    except re.error as error:
        raise ValueError(f"carriers.json: {where}: bad pattern ({error})") from error
    return TrackingFormat(
        name=_text(entry, "name", where),
        pattern=pattern,
        check=check,
        example=_text(entry, "example", where),
    )


def _carrier(entry: Mapping[str, Any], where: str) -> Carrier:
    code = _text(entry, "code", where)
    where = f"carrier {code!r}"
    if not _CODE.fullmatch(code) or code == OTHER:
        raise ValueError(f"carriers.json: {where}: a code is [a-z][a-z0-9_]{{1,31}}, not `other`")
    name = _text(entry, "name", where)
    if len(name) > _MAX_NAME:
        raise ValueError(f"carriers.json: {where}: a name has at most {_MAX_NAME} characters")
    country = _optional_text(entry, "country", where)
    if country is not None and not _COUNTRY.fullmatch(country):
        raise ValueError(f"carriers.json: {where}: `country` is an ISO 3166-1 alpha-2 code")
    url = _optional_text(entry, "tracking_url", where)
    if url is not None and not (url.startswith("https://") and _PLACEHOLDER in url):
        raise ValueError(f"carriers.json: {where}: `tracking_url` is https:// with {_PLACEHOLDER}")
    formats = _entries(entry.get("formats"), f"{where} formats", _FORMAT_KEYS)
    return Carrier(
        code=code,
        name=name,
        country=country,
        tracking_url=url,
        formats=tuple(_format(f, f"{where} format {i}") for i, f in enumerate(formats)),
    )


def parse_registry(text: str) -> tuple[Mapping[str, Carrier], Mapping[str, str]]:
    """From the text of `carriers.json`: the registry by code, in file order, and every loose
    spelling (of a code, a name or an alias) that names a carrier. Refuses (ValueError) data
    the code cannot rely on, so a bad edit fails at import rather than on some request."""
    carriers: dict[str, Carrier] = {}
    spellings: dict[str, str] = {}
    for index, entry in enumerate(_entries(json.loads(text), "the top level", _CARRIER_KEYS)):
        carrier = _carrier(entry, f"carrier {index}")
        if carrier.code in carriers:
            raise ValueError(f"carriers.json: carrier {carrier.code!r} appears twice")
        carriers[carrier.code] = carrier
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ValueError(f"carriers.json: carrier {carrier.code!r}: `aliases` lists strings")
        for spelling in {_loose(s) for s in (carrier.code, carrier.name, *aliases)}:
            claimed = spellings.setdefault(spelling, carrier.code)
            if claimed != carrier.code or spelling in {"", OTHER}:
                raise ValueError(
                    f"carriers.json: {spelling!r} would name {carrier.code!r} "
                    f"(already {claimed!r}, or reserved)"
                )
    return MappingProxyType(carriers), MappingProxyType(spellings)


CARRIERS: Mapping[str, Carrier]
"""Every carrier of the registry by code, in file order."""
_SPELLINGS: Mapping[str, str]
CARRIERS, _SPELLINGS = parse_registry(
    # A resource of the package (pyproject's package-data ships it), wherever it is installed.
    (files("app.shipping") / "data" / "carriers.json").read_text(encoding="utf-8")
)


# --- validation --------------------------------------------------------------------------------


def normalize(tracking_number: str) -> str:
    """White space removed (people copy numbers in groups: `1Z 999 AA1 ...`), upper case."""
    return "".join(tracking_number.split()).translate(_ASCII_UPPER)


def tracking_url(carrier: str, tracking_number: str) -> str | None:
    """The carrier's public tracking page for a (normalized) number; None for `other`, an
    unknown code or a carrier without a tracking page."""
    found = CARRIERS.get(carrier)
    if found is None or found.tracking_url is None:
        return None
    return found.tracking_url.replace(_PLACEHOLDER, quote(tracking_number, safe=""))


def _expected(carrier: Carrier) -> str:
    shapes = [f"{f.name} (e.g. {f.example})" for f in carrier.formats]
    return shapes[0] if len(shapes) == 1 else "one of: " + "; ".join(shapes)


def _check_length(number: str) -> None:
    if not number:
        raise InvalidTrackingNumber("The tracking number is empty.")
    if len(number) > MAX_TRACKING_NUMBER:
        raise InvalidTrackingNumber(
            f"A tracking number has at most {MAX_TRACKING_NUMBER} characters (white space aside)."
        )


def _validate(carrier: Carrier, number: str) -> None:
    matching = [f for f in carrier.formats if f.pattern.fullmatch(number)]
    if not matching:
        raise InvalidTrackingNumber(
            f"{number} is not a {carrier.name} tracking number: expected {_expected(carrier)}."
        )
    if any(f.check is None or CHECKS[f.check](number) for f in matching):
        return
    raise InvalidTrackingNumber(
        f"{number} has the form of a {carrier.name} number ({matching[0].name}) but its check "
        "digit is wrong: look for a mistyped character."
    )


def code_of(carrier: str) -> str:
    """The registry code a carrier is written as (loosely, as `resolve` reads it), or the
    loose spelling itself when no carrier answers to it (a provider naming one we lack)."""
    key = _loose(carrier)
    return _SPELLINGS.get(key, key)


def resolve(carrier: str, tracking_number: str, *, carrier_name: str | None = None) -> Tracking:
    """The carrier (a code in any case; also a code, name or alias written loosely, as legacy
    clients sent `DHL` or `Royal Mail`) and the normalized number, validated against that
    carrier's formats. For `other`, `carrier_name` is required and kept as given; for a
    registry carrier it is ignored."""
    number = normalize(tracking_number)
    key = _loose(carrier)
    if key == OTHER:
        if carrier_name is None or not carrier_name.strip():
            raise CarrierNameRequired()
        _check_length(number)
        if not _OTHER_NUMBER.fullmatch(number):
            raise InvalidTrackingNumber(
                f"{number} is not a tracking number: expected 4 to {MAX_TRACKING_NUMBER} "
                "letters, digits and hyphens."
            )
        return Tracking(OTHER, carrier_name, number, None)
    code = _SPELLINGS.get(key)
    if code is None:
        raise UnknownCarrier(carrier)
    found = CARRIERS[code]
    _check_length(number)
    _validate(found, number)
    return Tracking(code, found.name, number, tracking_url(code, number))
