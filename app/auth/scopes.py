"""What an API key may reach. A key names resources with `read` or `write` access; a route
belongs to the resource its (first) OpenAPI tag maps to, and reading (GET, HEAD) needs
`read` or `write`, anything else `write`. Routes of unmapped tags — accounts, keys
themselves, cart and checkout, admin — are never reachable with a key, so a leaked key
cannot mint keys, change the password, buy, or act as an admin."""

from collections.abc import Collection, Sequence
from enum import StrEnum

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class ApiKeyScope(StrEnum):
    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Names for generated clients' enum members (`LISTINGS_READ`): the values'
        colons cannot be part of an identifier."""
        schema = handler(core_schema)
        schema["x-enum-varnames"] = [member.name.upper() for member in cls]
        return schema

    listings_read = "listings:read"
    listings_write = "listings:write"
    orders_read = "orders:read"
    orders_write = "orders:write"
    returns_read = "returns:read"
    returns_write = "returns:write"
    disputes_read = "disputes:read"
    disputes_write = "disputes:write"
    reviews_read = "reviews:read"
    reviews_write = "reviews:write"
    messages_read = "messages:read"
    messages_write = "messages:write"
    payouts_read = "payouts:read"
    payouts_write = "payouts:write"
    webhooks_read = "webhooks:read"
    webhooks_write = "webhooks:write"
    shop_read = "shop:read"
    # No shop:write: the shop profile holds the payout account, and a leaked key must not
    # be able to redirect payouts.


RESOURCE_OF_TAG: dict[str, str] = {
    "listings": "listings",
    "categories": "listings",
    # What a listing's shipping costs: an integration that keeps listings keeps these too.
    "shipping-profiles": "listings",
    # A shop's own promotions on its listings: an integration that prices listings runs them.
    "promotions": "listings",
    "orders": "orders",
    "shipments": "orders",
    # An offer is a sale in the making: a shop's integration answers it with its orders.
    "offers": "orders",
    "returns": "returns",
    "disputes": "disputes",
    "reviews": "reviews",
    "messaging": "messages",
    "payouts": "payouts",
    "webhooks": "webhooks",
    "sellers": "shop",
}

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(tags: Sequence[str], method: str) -> str | None:
    """The scope a route needs from a key; None when no key may call it."""
    resource = RESOURCE_OF_TAG.get(tags[0]) if tags else None
    if resource is None:
        return None
    return f"{resource}:{'read' if method.upper() in _READ_METHODS else 'write'}"


def grants(scopes: Collection[str], required: str) -> bool:
    """`write` includes `read` of the same resource."""
    resource, _, access = required.partition(":")
    return required in scopes or (access == "read" and f"{resource}:write" in scopes)
