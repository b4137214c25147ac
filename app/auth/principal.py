"""Who is calling, decided once per request at the boundary and handed to services
explicitly: the user, their shop (if any), whether they act as an admin, and — when the
caller is an API key — the key's scopes. Nothing below the router reads request state.

An API key is a shop's integration: it acts for the shop only, never as its owner's buyer
or admin self, so `is_admin` and `acts_as_buyer` are false for keys whatever the owner is."""

import uuid
from dataclasses import dataclass

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
