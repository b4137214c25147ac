"""Admin: the commission rules."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import AdminPrincipal, admin_api_router
from app.catalog.exceptions import CategoryNotFound
from app.core.db import DbSession
from app.core.errors import NotFound, error_responses
from app.core.pagination import InvalidCursor, PageQuery
from app.core.schemas import Page, page_of
from app.fees import service
from app.fees.exceptions import CommissionRuleNotFound, InvalidCommissionRule
from app.fees.schemas import CommissionRuleCreate, CommissionRuleRead, CommissionRuleUpdate

commission_rules_router = admin_api_router("/commission-rules")


@commission_rules_router.get(
    "", response_model=Page[CommissionRuleRead], responses=error_responses(InvalidCursor)
)
async def list_commission_rules(
    admin: AdminPrincipal,
    session: DbSession,
    page: PageQuery,
    category_id: Annotated[uuid.UUID | None, Query()] = None,
    seller_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[CommissionRuleRead]:
    """Every commission rule, newest first, past and future ones included; filter by
    category or shop."""
    rows, next_cursor = await service.list_rules(
        session, page, category_id=category_id, seller_id=seller_id
    )
    return page_of(rows, next_cursor, CommissionRuleRead.model_validate)


@commission_rules_router.post(
    "",
    response_model=CommissionRuleRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(InvalidCommissionRule, CategoryNotFound, NotFound),
)
async def create_commission_rule(
    data: CommissionRuleCreate, admin: AdminPrincipal, session: DbSession
) -> CommissionRuleRead:
    """Set the commission percent for a category (its whole subtree) or a shop, from
    `starts_at` (default now) until `ends_at`. A shop's rule beats any category's; of
    category rules the nearest to the line's category wins. Checkout records on each order
    line the percent and the rule that set it; later changes do not touch those orders.
    Audited."""
    return CommissionRuleRead.model_validate(await service.create(session, admin, data))


@commission_rules_router.get(
    "/{rule_id}",
    response_model=CommissionRuleRead,
    responses=error_responses(CommissionRuleNotFound),
)
async def get_commission_rule(
    rule_id: uuid.UUID, admin: AdminPrincipal, session: DbSession
) -> CommissionRuleRead:
    """One commission rule."""
    return CommissionRuleRead.model_validate(await service.get(session, rule_id))


@commission_rules_router.patch(
    "/{rule_id}",
    response_model=CommissionRuleRead,
    responses=error_responses(CommissionRuleNotFound, InvalidCommissionRule),
)
async def update_commission_rule(
    rule_id: uuid.UUID, data: CommissionRuleUpdate, admin: AdminPrincipal, session: DbSession
) -> CommissionRuleRead:
    """Change a rule's percent, dates or note (its scope is fixed). Audited, with the values
    it had before."""
    return CommissionRuleRead.model_validate(await service.update(session, admin, rule_id, data))


@commission_rules_router.delete(
    "/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(CommissionRuleNotFound),
)
async def delete_commission_rule(
    rule_id: uuid.UUID, admin: AdminPrincipal, session: DbSession
) -> None:
    """Remove a rule; checkouts after this fall back to the next rule or the default.
    Audited."""
    await service.delete(session, admin, rule_id)


ROUTERS: tuple[APIRouter, ...] = (commission_rules_router,)
"""Every router of the package, in the order `app.api` includes them."""
