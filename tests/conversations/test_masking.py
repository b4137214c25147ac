"""Contact details hidden before payment: what is caught, and the ordinary talk about prices,
dates and sizes that must be left alone."""

import pytest

from app.conversations.masking import HIDDEN, mask_contact_details


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # e-mail addresses
        ("mail me: john.doe@example.com", "mail me: [hidden]"),
        ("JOHN+shop@Mail.Example.CO.UK please", "[hidden] please"),
        ("write to jane_d@web.de.", "write to [hidden]."),
        ("<a.b-c@sub-domain.example.org>", "<[hidden]>"),
        ("josé@correo.es", "[hidden]"),
        # links
        ("see https://example.com/item?id=42 for photos", "see [hidden] for photos"),
        ("http://shop.example.net.", "[hidden]."),
        ("(www.my-shop.com)", "([hidden])"),
        ("WWW.EXAMPLE.ORG/contact!", "[hidden]!"),
        ("ftp://files.example.com/a.zip", "[hidden]"),
        ("visit example.com", "visit [hidden]"),
        ("my shop: sub.example.co.uk/items, cheaper", "my shop: [hidden], cheaper"),
        ("Example.COM.", "[hidden]."),
        ("localhost.io:8080", "[hidden]"),
        ("john(at)gmail.com", "john(at)[hidden]"),
        ("whatsapp wa.me/4915112345678", "whatsapp [hidden]"),
        ("telegram t.me/cheapcameras", "telegram [hidden]"),
        ("bit.ly/3xYz", "[hidden]"),
        # phone numbers
        ("call 5551234567", "call [hidden]"),
        ("call +49 30 1234567 today", "call [hidden] today"),
        ("+1 (555) 123-4567", "[hidden]"),
        ("(030) 123 45 67", "[hidden]"),
        ("555.123.4567.", "[hidden]."),
        ("06.12.34.56.78", "[hidden]"),
        ("0049-30-123-4567", "[hidden]"),
        ("call(555)1234567", "call([hidden]"),
        ("+44 20 7946 0958 or +44 7700 900123", "[hidden] or [hidden]"),
        ("٠١٢٣٤٥٦٧٨٩", "[hidden]"),
        # several kinds at once
        (
            "Mail a@b.com or call 555 123 4567, or www.x.com",
            "Mail [hidden] or call [hidden], or [hidden]",
        ),
    ],
)
def test_contact_details_are_hidden(text: str, expected: str) -> None:
    assert mask_contact_details(text) == (expected, True)


@pytest.mark.parametrize(
    "text",
    [
        "Is it still available?",
        "I can pay $1,250.00 today",
        "$1,250,000.00 is too much",
        "€1.250.000 is the price",
        "1.250.000 € or 1 250 000 EUR",
        "12500.00 is my last offer",
        "Can you ship before 2026-11-27?",
        "delivery 27.11.2026 or 11/27/2026",
        "2026-11-27T10:00:00Z",
        "from 2026-11-27 - 2026-12-01",
        "used 2019-2023, works fine",
        "open 10.00-18.00 and 10:00-18:00",
        "size 42, 3 x 25 cm, 120x60x75, 3.5mm jack",
        "order 0190f1c2-0000-7000-8000-000000000000",
        "order #123456",
        "version 1.2.3, e.g. the i.e. case",
        "photo.jpg, readme.md, index.html, script.py and node.js",
        "Thanks.See you soon",
        "ok.it works, meet.at noon, tell.me more",
        "john at gmail dot com",
        "@ the market",
        "email me",
        "",
        "   ",
        "Price: 1.000,00 EUR",
        "10:30 or 11.45",
        "a 100% cotton shirt, 2 for 25",
    ],
)
def test_ordinary_talk_is_left_alone(text: str) -> None:
    assert mask_contact_details(text) == (text, False)


def test_hidden_marker_is_not_masked_again() -> None:
    once, _masked = mask_contact_details("a@b.com 5551234567 example.com")
    assert mask_contact_details(once) == (once, False)
    assert once.count(HIDDEN) == 3


AT = "\N{FULLWIDTH COMMERCIAL AT}"
DOT = "\N{FULLWIDTH FULL STOP}"
W = "\N{FULLWIDTH LATIN SMALL LETTER W}"
WIDE_M = "\N{FULLWIDTH LATIN CAPITAL LETTER M}"


def _wide_digits(digits: str) -> str:
    return "".join(chr(ord(d) - ord("0") + ord("\N{FULLWIDTH DIGIT ZERO}")) for d in digits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"mail john{AT}gmail{DOT}com please", "mail [hidden] please"),
        (f"{W * 3}{DOT}example{DOT}com", "[hidden]"),
        (f"call {_wide_digits('0176')} {_wide_digits('1234567')}", "call [hidden]"),
    ],
)
def test_look_alike_characters_are_caught(text: str, expected: str) -> None:
    assert mask_contact_details(text) == (expected, True)


def test_text_without_contact_details_keeps_its_own_characters() -> None:
    # Full-width letters and digits, as Japanese text writes them, with nothing to hide.
    text = f"size {WIDE_M}, {_wide_digits('2')} left"
    assert mask_contact_details(text) == (text, False)
