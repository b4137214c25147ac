"""Who is calling, decided once per request at the boundary and handed to services
explicitly: the user, their shop (if any), whether they act as an admin, and — when the
caller is an API key — the key's scopes. Nothing below the router reads request state.

An API key is a shop's integration: it acts for the shop only, never as its owner's buyer
or admin self, so `is_admin` and `acts_as_buyer` are false for keys whatever the owner is."""

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.auth.models import User


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    key_scopes: frozenset[str] | None = None
    """The API key's scopes when the caller is a key; None for a signed-in person."""

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id

    @property
    def id(self) -> uuid.UUID:
        """What the caller is known by where a key or record belongs to a caller
        (idempotency keys): the user, whether they come in person or by API key."""
        return self.user.id

    @property
    def shop_id(self) -> uuid.UUID | None:
        """The caller's shop in any state (pending, approved, suspended, closed); None when
        they never applied to sell."""
        return self.user.shop_id

    @property
    def via_api_key(self) -> bool:
        return self.key_scopes is not None

    @property
    def is_admin(self) -> bool:
        """Admin powers need the admin's own session, never an API key."""
        return self.user.is_admin and not self.via_api_key

    @property
    def acts_as_buyer(self) -> bool:
        return not self.via_api_key


PartySide = Literal["buyer", "seller"]


def party_conditions(
    principal: Principal,
    *,
    buyer: InstrumentedAttribute[uuid.UUID],
    seller: InstrumentedAttribute[uuid.UUID],
) -> dict[PartySide, ColumnElement[bool]]:
    """For a row with a buyer (a user) and a seller (a shop) — an order, a return, a dispute,
    a conversation — the SQL condition of each side the caller may hold on it: the buyer side
    as themselves (never through an API key: a key acts for its shop only), the seller side
    through their shop. The one place where "is the caller a party" is decided."""
    sides: dict[PartySide, ColumnElement[bool]] = {}
    if principal.acts_as_buyer:
        sides["buyer"] = buyer == principal.user_id
    if principal.shop_id is not None:
        sides["seller"] = seller == principal.shop_id
    return sides


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """OR of `conditions`; false when there are none (the caller holds no side)."""
    return or_(*conditions) if conditions else false()
