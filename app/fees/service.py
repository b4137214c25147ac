"""Which commission percent applies to a line, the buyer protection fee, and the admins'
management of commission rules (audited in the same transaction)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.catalog import category_service
from app.config import Settings
from app.core.audit import record_audit
from app.core.clock import now
from app.core.pagination import PageParams, SortKey, paginate
from app.fees.commission import percent_of
from app.fees.exceptions import CommissionRuleNotFound, InvalidCommissionRule
from app.fees.models import CommissionRule
from app.fees.repository import CommissionRuleRepository
from app.fees.schemas import CommissionRuleCreate, CommissionRuleUpdate
from app.sellers import service as seller_service


@dataclass(frozen=True, slots=True)
class SoldLine:
    """What decides a line's commission: its shop and its category."""

    listing_id: uuid.UUID
    seller_id: uuid.UUID
    category_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class AppliedCommission:
    percent: Decimal
    rule_id: uuid.UUID | None
    """The rule that set the percent; null: the platform's default."""


async def commissions_for(
    session: AsyncSession, settings: Settings, lines: Sequence[SoldLine]
) -> dict[uuid.UUID, AppliedCommission]:
    """By listing: the shop's rule in force, else the rule of the line's nearest category
    with one (the most specific wins), else the default. Of two rules for the same shop or
    category in force at once, the one that started last wins. One statement, two when a
    category rule is in force (the category tree, to find each line's ancestors)."""
    at = now()
    rules = await CommissionRuleRepository(session).in_force(
        at, seller_ids={line.seller_id for line in lines}
    )
    by_shop: dict[uuid.UUID, CommissionRule] = {}
    by_category: dict[uuid.UUID, CommissionRule] = {}
    for in_force in sorted(rules, key=lambda r: (r.starts_at, r.id)):  # the latest wins
        if in_force.seller_id is not None:
            by_shop[in_force.seller_id] = in_force
        elif in_force.category_id is not None:
            by_category[in_force.category_id] = in_force
    parents: dict[uuid.UUID, uuid.UUID | None] = {}
    if by_category:
        parents = {c.id: c.parent_id for c in await category_service.all_categories(session)}
    default = AppliedCommission(settings.commission_percent, None)
    applied: dict[uuid.UUID, AppliedCommission] = {}
    for line in lines:
        rule: CommissionRule | None = by_shop.get(line.seller_id)
        if rule is None:
            rule = _nearest(by_category, parents, line.category_id)
        applied[line.listing_id] = (
            default if rule is None else AppliedCommission(rule.percent, rule.id)
        )
    return applied


def _nearest(
    rules: dict[uuid.UUID, CommissionRule],
    parents: dict[uuid.UUID, uuid.UUID | None],
    category_id: uuid.UUID,
) -> CommissionRule | None:
    node: uuid.UUID | None = category_id
    seen: set[uuid.UUID] = set()
    while node is not None and node not in seen:
        if node in rules:
            return rules[node]
        seen.add(node)
        node = parents.get(node)
    return None


def protection_fee(settings: Settings, goods: int) -> int:
    """The buyer protection fee on an order whose goods and shipping come to `goods` (after
    discounts): percent rounded half up plus the fixed part; none on a free order."""
    if goods <= 0:
        return 0
    return percent_of(goods, settings.buyer_protection_percent, settings.buyer_protection_fixed)


# --- admin ------------------------------------------------------------------------------------


async def list_rules(
    session: AsyncSession,
    page: PageParams,
    *,
    category_id: uuid.UUID | None,
    seller_id: uuid.UUID | None,
) -> tuple[list[CommissionRule], str | None]:
    statement = CommissionRuleRepository(session).filtered(
        category_id=category_id, seller_id=seller_id
    )
    return await paginate(
        session, statement, keys=[SortKey(CommissionRule.id, descending=True)], page=page
    )


async def get(session: AsyncSession, rule_id: uuid.UUID, *, lock: bool = False) -> CommissionRule:
    rules = CommissionRuleRepository(session)
    rule = await (rules.get_for_update(rule_id) if lock else rules.get(rule_id))
    if rule is None:
        raise CommissionRuleNotFound()
    return rule


async def create(
    session: AsyncSession, principal: Principal, data: CommissionRuleCreate
) -> CommissionRule:
    """A new rule, audited. Its scope must exist; a category rule may name any node of the
    tree (it covers the subtree)."""
    if data.category_id is not None:
        await category_service.get(session, data.category_id)
    if data.seller_id is not None:
        await seller_service.get(session, data.seller_id)
    rule = CommissionRule(
        category_id=data.category_id,
        seller_id=data.seller_id,
        percent=data.percent,
        starts_at=data.starts_at or now(),
        ends_at=data.ends_at,
        note=data.note,
    )
    _check_dates(rule.starts_at, rule.ends_at)
    await CommissionRuleRepository(session).add(rule)
    await _audit(session, principal, "commission_rule.create", rule)
    return rule


async def update(
    session: AsyncSession,
    principal: Principal,
    rule_id: uuid.UUID,
    data: CommissionRuleUpdate,
) -> CommissionRule:
    """Change a rule's percent, dates or note, audited with the values before. Orders
    already checked out keep the percent they recorded."""
    rule = await get(session, rule_id, lock=True)
    before = _snapshot(rule)
    for field in data.model_fields_set:
        setattr(rule, field, getattr(data, field))
    if rule.percent is None or rule.starts_at is None:
        raise InvalidCommissionRule("percent and starts_at cannot be null")
    _check_dates(rule.starts_at, rule.ends_at)
    await session.flush()
    await _audit(session, principal, "commission_rule.update", rule, before=before)
    return rule


async def delete(session: AsyncSession, principal: Principal, rule_id: uuid.UUID) -> None:
    """Remove a rule, audited with what it was (orders keep the percent they recorded)."""
    rule = await get(session, rule_id, lock=True)
    await _audit(session, principal, "commission_rule.delete", rule)
    await session.delete(rule)
    await session.flush()


def _check_dates(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidCommissionRule("ends_at must come after starts_at")


def _snapshot(rule: CommissionRule) -> dict[str, object]:
    return {
        "category_id": None if rule.category_id is None else str(rule.category_id),
        "seller_id": None if rule.seller_id is None else str(rule.seller_id),
        "percent": f"{rule.percent:.2f}",
        "starts_at": rule.starts_at.isoformat(),
        "ends_at": None if rule.ends_at is None else rule.ends_at.isoformat(),
        "note": rule.note,
    }


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    rule: CommissionRule,
    *,
    before: dict[str, object] | None = None,
) -> None:
    details: dict[str, object] = {"rule": _snapshot(rule)}
    if before is not None:
        details["before"] = before
    await record_audit(
        session,
        actor_id=principal.user_id,
        action=action,
        target_type="commission_rule",
        target_id=rule.id,
        details=details,
    )
