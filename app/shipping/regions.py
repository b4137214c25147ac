"""Where a shipping rate may send goods: countries by their ISO 3166-1 alpha-2 code, a region
instead of its countries, or `*`, every country the profile's other rates do not name."""

from collections.abc import Mapping
from types import MappingProxyType

_ISO_3166 = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN "
    "BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL "
    "GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM "
    "JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
    "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD "
    "SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW"
)
COUNTRIES: frozenset[str] = frozenset(_ISO_3166.split())
"""The ISO 3166-1 alpha-2 codes of countries (as the time zone database's `iso3166.tab` lists
them), and XK: Kosovo has no ISO code, and carriers, payment providers and the EU all use this
user-assigned one. A list, not just two capitals, so that a seller's slip (`UK` for `GB`) is
refused rather than saved as a rate no address ever matches."""

EU: tuple[str, ...] = (
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
)
"""The 27 member states of the European Union (Greece as ISO has it, `GR`, not the EU's own
`EL`)."""

REGIONS: Mapping[str, frozenset[str]] = MappingProxyType({"EU": frozenset(EU)})
"""A region a rate may name, by its code, and its countries. ISO reserves `EU` for the
European Union, so no country will ever take it."""

EVERYWHERE = "*"
"""A rate's destination standing for every country no other rate of its profile names."""


def is_destination(code: str) -> bool:
    """Whether a rate may name `code`: a country, a region or `*`."""
    return code in COUNTRIES or code in REGIONS or code == EVERYWHERE
