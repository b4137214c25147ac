"""What the caller may act as, beyond who they are: admin powers need the admin's own
session, never an API key (a key is a shop's integration, see `app.auth.scopes`)."""

from app.auth.models import User
from app.core.request_context import acting_through_api_key


def acts_as_admin(user: User | None) -> bool:
    return user is not None and user.is_admin and not acting_through_api_key()
