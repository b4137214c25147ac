"""Hiding contact details in messages sent before an order is paid.

A trade moved off-platform loses the platform its fee and the buyer their escrow protection,
so e-mail addresses, phone numbers and links are replaced by `[hidden]` until the buyer has
paid. It is a deterrent, not a guarantee: "john at gmail dot com" gets through, and that is
accepted. What must not happen is hiding ordinary talk about prices, dates and sizes, so
every pattern errs towards leaving text alone when it is ambiguous.

Pure functions only: no I/O, no settings.
"""

import re
import unicodedata

HIDDEN = "[hidden]"

_TRAILING_PUNCTUATION = r"[^\s<>\"'.,!?;:)\]}]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}", re.IGNORECASE)

_URL = re.compile(
    rf"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"']*{_TRAILING_PUNCTUATION}", re.IGNORECASE
)

# Top-level domains that are not also everyday words: "example.com" is a link wherever it
# stands. Written without a space after a full stop, "ok.it" or "meet.at" is more often a
# typo than a link, so those domains count only with a path ("wa.me/49...", "t.me/shop").
_PLAIN_TLDS = (
    "com|net|org|info|biz|io|co|app|dev|shop|store|online|site|xyz|tech|email|link|live|"
    "club|top|ly|gg|tv|cc|ai|de|fr|es|nl|ch|se|dk|fi|pl|cz|ru|ua|ca|au|nz|jp|cn|br|mx|eu|uk|"
    "ie|pt|gr|hu|ro|sk|tk|ml"
)
_WORD_TLDS = "me|it|at|be|us|to|in|is|no|so|do|go|my|am|pro|one|page|fyi"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@.\-/])(?:{_LABEL}\.)+"
    rf"(?:(?:{_PLAIN_TLDS})(?![\w-])(?::\d{{2,5}})?(?:/[^\s<>\"']*{_TRAILING_PUNCTUATION})?"
    rf"|(?:{_WORD_TLDS})/[^\s<>\"']*{_TRAILING_PUNCTUATION})",
    re.IGNORECASE,
)

# Seven or more digits, separated by at most two of space, dot, dash or parentheses, with an
# optional leading "+". Not glued to letters or to other numbers ("0190f1c2-0000-7000-...",
# a UUID, is not a phone number).
_PHONE = re.compile(r"(?<![\w+.\-])\+?\(?\d(?:[ \t.\-()]{0,2}\d){6,}(?![\w])")

# Numbers that look like phone numbers but are something else.
_DATE = re.compile(
    r"(?<!\d)(?:"
    r"(?:19|20)\d{2}([-./])\d{1,2}\1\d{1,2}"  # 2026-11-27
    r"|\d{1,2}([-./])\d{1,2}\2(?:19|20)\d{2}"  # 27.11.2026
    r"|(?:19|20)\d{2} ?- ?(?:19|20)\d{2}"  # 2019-2023
    r")(?!\d)"
)
_TIME_RANGE = re.compile(r"\d{1,2}[.:]\d{2} ?- ?\d{1,2}[.:]\d{2}")  # 10.00-18.00
_DECIMAL = re.compile(r"\d+\.\d{1,2}")  # 12500.00
_CURRENCY_BEFORE = re.compile(r"[$€£¥₹]\s?$")
_CURRENCY_AFTER = re.compile(
    r"^\s?(?:[$€£¥₹]|(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|SEK|NOK|DKK|PLN|CZK)\b)", re.IGNORECASE
)
_MIN_PHONE_DIGITS = 7


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _is_phone(match: re.Match[str]) -> bool:
    candidate = match.group()
    if _TIME_RANGE.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
        return False
    if _digits(_DATE.sub("", candidate)) < _MIN_PHONE_DIGITS:
        return False
    before, after = match.string[: match.start()], match.string[match.end() :]
    return not (_CURRENCY_BEFORE.search(before) or _CURRENCY_AFTER.search(after))


def _hide_phones(text: str) -> str:
    return _PHONE.sub(lambda m: HIDDEN if _is_phone(m) else m.group(), text)


def mask_contact_details(text: str) -> tuple[str, bool]:
    """`text` with e-mail addresses, URLs, bare domains and phone numbers replaced by
    `[hidden]`, and whether anything was replaced. Matching runs on the NFKC form, so
    look-alikes such as full-width at signs and full stops are caught; the text is returned in that
    form only when something was hidden, and untouched otherwise."""
    normalized = unicodedata.normalize("NFKC", text)
    masked = _EMAIL.sub(HIDDEN, normalized)
    masked = _URL.sub(HIDDEN, masked)
    masked = _BARE_DOMAIN.sub(HIDDEN, masked)
    masked = _hide_phones(masked)
    if masked == normalized:
        return text, False
    return masked, True
