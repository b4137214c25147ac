"""The screen helper's path language, which every screen walk relies on."""

import pytest

from tests.factories.screens import MissingField, require

ORDER = {
    "shop_name": "Lamps",
    "lines": [{"image_url": "http://x/a.jpg"}, {"image_url": None}],
    "actions": [
        {"name": "review", "deadline": "2026-01-01T00:00:00Z"},
        {"name": "message", "deadline": None},
    ],
    "empty": [],
    "notices": [{"type": "order.paid", "body": "Paid"}],
}


def test_present_fields_pass_and_give_their_values() -> None:
    assert require(ORDER, "shop_name", "actions[name=review].deadline") == [
        "Lamps",
        "2026-01-01T00:00:00Z",
    ]
    assert require(ORDER, "lines[*]") == ORDER["lines"]
    # A dot inside a selector is part of the value, not a step.
    assert require(ORDER, "notices[type=order.paid].body") == ["Paid"]


@pytest.mark.parametrize(
    "path",
    [
        "buyer_display_name",  # absent
        "lines[*].image_url",  # one line has none
        "actions[name=message].deadline",  # null
        "actions[name=cancel]",  # no such item
        "empty[*]",  # a list with no rows proves nothing
        "shop_name[*]",  # not a list
    ],
)
def test_missing_or_null_fields_fail(path: str) -> None:
    with pytest.raises(MissingField):
        require(ORDER, path)
