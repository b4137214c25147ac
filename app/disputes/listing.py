"""Returns and disputes of a list, as their screens show them: each with the caller's roles
on it and its order's context, from the rows of one query."""

from collections.abc import Sequence
from typing import Any

from app.auth.principal import Principal
from app.core.guards import Guarded
from app.disputes.repository import OrderContext, PartiesT, context_of
from app.orders import service as order_service
from app.orders.state import OrderActor


def listed(
    rows: Sequence[Sequence[Any]], principal: Principal
) -> list[tuple[Guarded[PartiesT, OrderActor], OrderContext]]:
    """Rows selected with their order's context (the subject first), for `principal`."""
    return [
        (Guarded(row[0], order_service.roles_of(row[0], principal)), context_of(row))
        for row in rows
    ]
