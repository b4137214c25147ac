"""The carrier registry: every format's example validates, check digits catch a mistyped
digit, legacy carrier names still resolve, `other` takes any plausible number with a name,
and `GET /v1/carriers` lists it all for a client's picker."""

import json
from urllib.parse import quote

import httpx
import pytest

from app.shipping.carriers import (
    CARRIERS,
    MAX_TRACKING_NUMBER,
    OTHER,
    Carrier,
    Tracking,
    TrackingFormat,
    normalize,
    parse_registry,
    resolve,
    tracking_url,
)
from app.shipping.exceptions import CarrierNameRequired, InvalidTrackingNumber, UnknownCarrier

FORMATS = [
    pytest.param(carrier, fmt, id=f"{carrier.code}-{index}")
    for carrier in CARRIERS.values()
    for index, fmt in enumerate(carrier.formats)
]


def _one_digit_changes() -> list[object]:
    """Each checked example with one of its digits moved up by one (9 becomes 0), where the
    result still has the format (the `1` of UPS's `1Z` is no digit of the number)."""
    cases: list[object] = []
    for carrier in CARRIERS.values():
        for index, fmt in enumerate(carrier.formats):
            if fmt.check is None:
                continue
            for position, char in enumerate(fmt.example):
                if char.isdigit():
                    changed = f"{fmt.example[:position]}{(int(char) + 1) % 10}"
                    changed += fmt.example[position + 1 :]
                    if not fmt.pattern.fullmatch(changed):
                        continue
                    cases.append(
                        pytest.param(carrier, changed, id=f"{carrier.code}-{index}-{position}")
                    )
    return cases


REQUIRED_CODES = [
    "ups",
    "usps",
    "fedex",
    "dhl_express",
    "dhl_paket",
    "deutsche_post",
    "royal_mail",
    "la_poste",
    "poste_italiane",
    "correos",
    "postnl",
    "gls",
    "dpd",
    "hermes",
    "canada_post",
    "australia_post",
    "japan_post",
    "yamato",
    "china_post",
    "sf_express",
    "cainiao",
    "sandbox",
]


def test_the_registry_has_every_carrier_we_promised_and_no_other() -> None:
    assert sorted(CARRIERS) == sorted(REQUIRED_CODES)
    assert OTHER not in CARRIERS


@pytest.mark.parametrize(("carrier", "fmt"), FORMATS)
def test_every_example_is_valid_for_its_own_format(carrier: Carrier, fmt: TrackingFormat) -> None:
    assert fmt.pattern.fullmatch(fmt.example), "the example does not match its own pattern"
    tracking = resolve(carrier.code, fmt.example)
    assert tracking == Tracking(
        carrier=carrier.code,
        carrier_name=carrier.name,
        tracking_number=fmt.example,
        tracking_url=tracking_url(carrier.code, fmt.example),
    )
    assert len(fmt.example) <= MAX_TRACKING_NUMBER


@pytest.mark.parametrize(("carrier", "changed"), _one_digit_changes())
def test_a_one_digit_change_fails_the_check_digit(carrier: Carrier, changed: str) -> None:
    # (An S10 example whose check digit is 5 would not do here: remainders 0 and 6 both give
    # 5, so some one-digit changes keep it valid. The examples avoid it.)
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve(carrier.code, changed)
    assert raised.value.code == "invalid_tracking_number"
    assert raised.value.status == 422
    assert "check digit is wrong" in raised.value.detail


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        # UPU S10: 1,2,3,4,5,6,7,8 weighted 8,6,4,2,3,5,9,7 sum to 204; 204 % 11 = 6; 11 - 6 = 5.
        ("deutsche_post", "RR123456785DE"),
        ("royal_mail", "RB123456785GB"),
        # Serial 00000000: the sum is 0, 11 - 0 = 11, written 5.
        ("deutsche_post", "RR000000005DE"),
        # Serial 02000000: 2 x 6 = 12, 12 % 11 = 1, 11 - 1 = 10, written 0.
        ("china_post", "LK020000000CN"),
        # UPS's own sample number, and numbers from other carriers' published test sets.
        ("ups", "1Z999AA10123456784"),
        ("ups", "1Z5R89390357567127"),
        ("ups", "1ZXX3150YW44070023"),
        # DHL Express: 123456789 % 7 = 1.
        ("dhl_express", "1234567891"),
        ("dhl_express", "3318810025"),
        ("usps", "9505511069605048600624"),
        ("usps", "92748931507708513018050063"),
        # A 20-digit number whose check digit covers a "91" it leaves out.
        ("usps", "71969010756003077385"),
        ("usps", "03071790000523483741"),
    ],
)
def test_known_valid_numbers_pass(carrier: str, number: str) -> None:
    assert resolve(carrier, number).tracking_number == number


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("deutsche_post", "RR123456786DE"),
        ("china_post", "LK020000005CN"),
        ("ups", "1Z999AA10123456785"),
        # 123456789 % 7 is 1, not 7.
        ("dhl_express", "1234567897"),
        ("usps", "9505511069605048600625"),
        ("usps", "71969010756003077386"),
    ],
)
def test_known_invalid_check_digits_fail(carrier: str, number: str) -> None:
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve(carrier, number)
    assert "check digit is wrong" in raised.value.detail


def test_a_number_of_no_format_names_the_formats_expected_with_an_example() -> None:
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve("ups", "12345")
    assert raised.value.detail == (
        "12345 is not a UPS tracking number: expected 1Z + 16 letters and digits "
        "(e.g. 1Z999AA10123456784)."
    )


def test_a_carrier_of_several_formats_lists_them_all() -> None:
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve("usps", "1Z999AA10123456784")
    detail = raised.value.detail
    assert "is not a USPS tracking number: expected one of: " in detail
    for fmt in CARRIERS["usps"].formats:
        assert f"{fmt.name} (e.g. {fmt.example})" in detail


def test_white_space_and_case_are_normalized() -> None:
    tracking = resolve("ups", " 1z 999 aa1\t0123\u00a0456784\n")
    assert tracking.tracking_number == "1Z999AA10123456784"
    assert tracking.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"


def test_normalize_upper_cases_ascii_only() -> None:
    assert normalize(" ab-1 2 ") == "AB-12"
    # The long s (U+017F) upper-cases to "S": a number must not be made out of it.
    assert normalize("\u017fbx00000001") == "\u017fBX00000001"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("DHL", "dhl_express"),
        ("dhl", "dhl_express"),
        ("DHL Express", "dhl_express"),
        ("ups", "ups"),
        ("UPS", "ups"),
        ("Royal Mail", "royal_mail"),
        ("royal-mail", "royal_mail"),
        (" ROYAL_MAIL ", "royal_mail"),
        ("Deutsche Post", "deutsche_post"),
        ("USPS", "usps"),
        ("FedEx", "fedex"),
        ("Colissimo", "la_poste"),
        ("Yamato Transport", "yamato"),
    ],
)
def test_legacy_free_names_resolve_to_a_carrier(given: str, code: str) -> None:
    example = CARRIERS[code].formats[0].example
    tracking = resolve(given, example)
    assert (tracking.carrier, tracking.carrier_name) == (code, CARRIERS[code].name)


@pytest.mark.parametrize("given", ["Bob's Couriers", "", "dhl express paket"])
def test_an_unknown_carrier_is_refused_with_where_to_look(given: str) -> None:
    with pytest.raises(UnknownCarrier) as raised:
        resolve(given, "1234567891")
    assert (raised.value.status, raised.value.code) == (422, "unknown_carrier")
    assert "GET /v1/carriers" in raised.value.detail
    assert "`other`" in raised.value.detail
    assert "carrier_name" in raised.value.detail


def test_other_takes_a_free_name_and_any_plausible_number() -> None:
    tracking = resolve("Other", " ab-1234 x ", carrier_name="Bob's Couriers")
    assert tracking == Tracking(
        carrier=OTHER, carrier_name="Bob's Couriers", tracking_number="AB-1234X", tracking_url=None
    )


@pytest.mark.parametrize("carrier_name", [None, "", "  \t"])
def test_other_without_a_name_is_refused(carrier_name: str | None) -> None:
    with pytest.raises(CarrierNameRequired) as raised:
        resolve(OTHER, "AB-1234", carrier_name=carrier_name)
    assert (raised.value.status, raised.value.code) == (422, "carrier_name_required")


@pytest.mark.parametrize("number", ["ABC", "AB/1234", "AB_1234", "\u017f\u017f\u017f\u017f"])
def test_other_refuses_what_is_not_a_tracking_number(number: str) -> None:
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve(OTHER, number, carrier_name="Bob's Couriers")
    assert "expected 4 to 40 letters, digits and hyphens" in raised.value.detail


@pytest.mark.parametrize("carrier", [OTHER, "sandbox"])
def test_an_overlong_number_is_refused_before_any_pattern(carrier: str) -> None:
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve(carrier, "SBX00000001-" + "X" * 40, carrier_name="Sandbox")
    assert raised.value.detail == (
        f"A tracking number has at most {MAX_TRACKING_NUMBER} characters (white space aside)."
    )


def test_an_empty_number_is_refused() -> None:
    with pytest.raises(InvalidTrackingNumber) as raised:
        resolve("ups", "  ")
    assert raised.value.detail == "The tracking number is empty."


def test_a_registry_carrier_ignores_a_free_name() -> None:
    tracking = resolve("ups", "1Z999AA10123456784", carrier_name="Someone else")
    assert tracking.carrier_name == "UPS"


def test_the_sandbox_carrier_takes_scenario_suffixes() -> None:
    tracking = resolve("sandbox", "sbx00000042-exception-lost")
    assert tracking.tracking_number == "SBX00000042-EXCEPTION-LOST"
    assert tracking.tracking_url is None


def test_tracking_url_encodes_the_number() -> None:
    url = tracking_url("ups", "A B/C?&#%")
    assert url == "https://www.ups.com/track?tracknum=A%20B%2FC%3F%26%23%25"


@pytest.mark.parametrize("carrier", [OTHER, "nobody", "sandbox", "UPS"])
def test_tracking_url_is_none_without_a_registry_page(carrier: str) -> None:
    assert tracking_url(carrier, "1Z999AA10123456784") is None


@pytest.mark.parametrize("carrier", [c for c in CARRIERS.values() if c.code != "sandbox"])
def test_every_real_carrier_has_an_https_tracking_page(carrier: Carrier) -> None:
    assert carrier.tracking_url is not None
    assert carrier.tracking_url.startswith("https://")
    number = carrier.formats[0].example
    assert tracking_url(carrier.code, number) == carrier.tracking_url.replace(
        "{tracking_number}", quote(number, safe="")
    )


def _registry(**changes: object) -> str:
    carrier: dict[str, object] = {
        "code": "acme",
        "name": "Acme",
        "country": None,
        "tracking_url": None,
        "formats": [{"name": "4 digits", "pattern": "[0-9]{4}", "check": None, "example": "1234"}],
    }
    return json.dumps([{**carrier, **changes}])


def test_the_registry_parser_accepts_a_minimal_carrier() -> None:
    carriers, spellings = parse_registry(_registry(aliases=["Acme Parcels"]))
    assert list(carriers) == ["acme"]
    assert spellings == {"acme": "acme", "acme_parcels": "acme"}


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"code": "other"}, "not `other`"),
        ({"code": "Acme"}, "a code is"),
        ({"country": "DEU"}, "ISO 3166-1 alpha-2"),
        ({"tracking_url": "https://acme.example/track"}, "{tracking_number}"),
        ({"tracking_url": "http://acme.example/{tracking_number}"}, "https://"),
        ({"aliases": ["Other"]}, "reserved"),
        ({"formats": []}, "non-empty list"),
        (
            {"formats": [{"name": "x", "pattern": "[0-9", "check": None, "example": "1"}]},
            "bad pattern",
        ),
        (
            {"formats": [{"name": "x", "pattern": "[0-9]", "check": "luhn", "example": "1"}]},
            "unknown check 'luhn'",
        ),
        ({"tracking_page": None}, "unknown keys ['tracking_page']"),
    ],
)
def test_the_registry_parser_refuses_what_the_code_cannot_rely_on(
    changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=r"^carriers\.json: ") as raised:
        parse_registry(_registry(**changes))
    assert complaint in str(raised.value)


def test_the_registry_parser_refuses_a_spelling_claimed_twice() -> None:
    twice = json.loads(_registry()) + json.loads(_registry(code="acme_2", aliases=["ACME"]))
    with pytest.raises(ValueError, match="already 'acme'"):
        parse_registry(json.dumps(twice))


async def test_get_carriers_lists_the_registry_then_other(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/carriers")  # no login
    assert response.status_code == 200
    body = response.json()
    assert [c["code"] for c in body] == [*CARRIERS, OTHER]
    assert body[0] == {
        "code": "ups",
        "name": "UPS",
        "country": None,
        "tracking_url_template": "https://www.ups.com/track?tracknum={tracking_number}",
        "formats": [{"name": "1Z + 16 letters and digits", "example": "1Z999AA10123456784"}],
    }
    assert body[-1] == {
        "code": "other",
        "name": "Other carrier",
        "country": None,
        "tracking_url_template": None,
        "formats": [],
    }
