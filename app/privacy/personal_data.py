"""Where a person's data lives, as data: for every table that holds it, the columns that tie a
row to the person (directly, or through their shop) and the columns never handed out.

The export reads this map. A test checks that every foreign key to a user or a shop is either
in it or in NOT_PERSONAL with the reason, so a new table with one cannot be forgotten; columns
that name a person without a foreign key (order_events.actor_id, ledger_entries.owner_id) are
listed here by hand.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, Table


class OwnerKind(StrEnum):
    user = "user"
    shop = "shop"
    """The person's seller profile (sellers.id)."""


@dataclass(frozen=True, slots=True)
class Owner:
    column: str
    kind: OwnerKind = OwnerKind.user
    only_when: Callable[[Table], ColumnElement[bool]] | None = None
    """A further condition for rows tied through this column."""


@dataclass(frozen=True, slots=True)
class PersonalTable:
    name: str
    owners: tuple[Owner, ...]
    hidden: frozenset[str] = frozenset()
    """Secrets (or their hashes): never exported."""
    masked: frozenset[str] = field(default_factory=frozenset)
    """Exported only masked, as `<column>_masked` (as the API shows them)."""


def _published(reviews: Table) -> ColumnElement[bool]:
    # Reviews are double-blind: one about the person is theirs to see once it is published
    # (hidden or not: its subject sees a hidden one too).
    return reviews.c.published_at.is_not(None)


USER, SHOP = OwnerKind.user, OwnerKind.shop

PERSONAL_DATA: tuple[PersonalTable, ...] = (
    PersonalTable(
        "users",
        (Owner("id"),),
        hidden=frozenset({"password_hash", "deleted_at", "totp_secret", "totp_last_step"}),
    ),
    PersonalTable("auth_sessions", (Owner("user_id"),)),
    PersonalTable("refresh_tokens", (Owner("user_id"),), hidden=frozenset({"id"})),
    PersonalTable("api_keys", (Owner("user_id"),), hidden=frozenset({"key_hash"})),
    PersonalTable("totp_recovery_codes", (Owner("user_id"),), hidden=frozenset({"code_hash"})),
    PersonalTable("sellers", (Owner("user_id"),), masked=frozenset({"payout_account"})),
    PersonalTable("listings", (Owner("seller_id", SHOP),)),
    PersonalTable("shipping_profiles", (Owner("seller_id", SHOP),)),
    PersonalTable("promotions", (Owner("seller_id", SHOP),)),
    PersonalTable("promotion_usages", (Owner("buyer_id"),)),
    PersonalTable("promotion_redemptions", (Owner("buyer_id"),)),
    PersonalTable("listing_reports", (Owner("reporter_id"),)),
    PersonalTable("favourites", (Owner("user_id"),)),
    PersonalTable("saved_searches", (Owner("user_id"),)),
    PersonalTable("cart_items", (Owner("buyer_id"),)),
    PersonalTable("offers", (Owner("buyer_id"), Owner("seller_id", SHOP))),
    PersonalTable("checkouts", (Owner("buyer_id"),)),
    PersonalTable("orders", (Owner("buyer_id"), Owner("seller_id", SHOP))),
    PersonalTable("order_events", (Owner("actor_id"),)),
    PersonalTable("payouts", (Owner("seller_id", SHOP),)),
    PersonalTable("ledger_entries", (Owner("owner_id", SHOP),)),
    PersonalTable("returns", (Owner("buyer_id"), Owner("seller_id", SHOP))),
    PersonalTable("disputes", (Owner("buyer_id"), Owner("seller_id", SHOP))),
    PersonalTable("dispute_messages", (Owner("author_id"),)),
    PersonalTable("dispute_evidence", (Owner("uploader_id"),)),
    PersonalTable("reviews", (Owner("author_id"), Owner("subject_user_id", only_when=_published))),
    PersonalTable("conversations", (Owner("buyer_id"), Owner("seller_id", SHOP))),
    PersonalTable("conversation_messages", (Owner("sender_id"),)),
    PersonalTable("notifications", (Owner("user_id"),)),
    PersonalTable(
        "webhook_endpoints",
        (Owner("seller_id", SHOP),),
        hidden=frozenset({"secret", "previous_secret"}),
    ),
    PersonalTable("audit_entries", (Owner("actor_id"),)),
    PersonalTable("account_tokens", (Owner("user_id"),), hidden=frozenset({"token_hash"})),
    # The mail sent to the person; bodies stay out (a queued one may hold a single-use token).
    PersonalTable(
        "mail_messages",
        (Owner("user_id"),),
        hidden=frozenset({"text_body", "html_body", "claim_id", "dedup_key"}),
    ),
)

# Columns that refer to a user or a shop but hold nothing of that person's to hand out.
NOT_PERSONAL: dict[str, str] = {
    "commission_rules.seller_id": "the commission rate an operator set for a shop: the "
    "platform's terms, not the person's data (the percent applied shows on their orders)",
    "disputes.resolved_by": "the admin who decided a dispute; the dispute itself is exported "
    "to its buyer and seller",
    "webhook_deliveries.seller_id": "the delivery log of the shop's integration (event ids, "
    "status codes); its endpoints are exported",
}
