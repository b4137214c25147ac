"""Issue 18, logistics: an order ships as parcels (`shipments`, with `shipment_lines`),
whose carriers' scans are kept in `tracking_events`; on `orders`, when the last parcel was
delivered (which starts the completion clock), when it is refunded if its parcel was lost
or sent back and nothing changed since, and the handling time its lines promised (which
sets the ship-by date).

Orders shipped before this migration get one parcel each, holding all their lines, under
carrier `other` with the carrier's name they were shipped with (free text then), never
correctable. Their completion dates stay as they were. Their handling time is their lines'
longest as the listings say now (2 business days where a listing is gone).

Revision ID: i18a_logistics
Revises: i17a_accounts_mail
Create Date: 2026-12-07 21:58:00+00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.models

revision: str = "i18a_logistics"
down_revision: str | None = "i17a_accounts_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("return_id", sa.Uuid(), nullable=True),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("carrier_name", sa.String(length=64), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("tracking_since", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "label_created",
                "in_transit",
                "out_for_delivery",
                "delivered",
                "exception",
                "returned_to_sender",
                name="shipment_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("next_poll_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("correctable_until", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_shipments_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_shipments_return_id_returns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index("ix_shipments_next_poll_at", ["next_poll_at"], unique=False)
        batch_op.create_index("ix_shipments_order", ["order_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shipments_return_id"), ["return_id"], unique=False)
        batch_op.create_index("ix_shipments_tracking", ["carrier", "tracking_number"], unique=False)

    op.create_table(
        "shipment_lines",
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("order_line_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_shipment_lines_order_line_id_order_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_lines_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_lines")),
    )
    with op.batch_alter_table("shipment_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shipment_lines_shipment_id"), ["shipment_id"], unique=False
        )

    op.create_table(
        "tracking_events",
        sa.Column("shipment_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_event_id", sa.String(length=128), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "label_created",
                "in_transit",
                "out_for_delivery",
                "delivered",
                "exception",
                "returned_to_sender",
                name="shipment_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=128), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_tracking_events_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.UniqueConstraint(
            "provider",
            "provider_event_id",
            "shipment_id",
            name=op.f("uq_tracking_events_provider_provider_event_id_shipment_id"),
        ),
    )
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tracking_events_shipment", ["shipment_id", "occurred_at"], unique=False
        )

    # In place (no table rebuild on SQLite: rebuilding `orders` would fail on, or cascade
    # from, the rows that refer to it).
    with op.batch_alter_table("orders", recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("handling_days", sa.Integer(), nullable=False, server_default="2")
        )
        batch_op.add_column(
            sa.Column("delivered_at", app.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("auto_refund_at", app.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_orders_auto_refund_at", ["auto_refund_at"], unique=False)
    op.execute(
        """
        UPDATE orders SET handling_days = COALESCE(
            (SELECT MAX(listings.handling_days) FROM order_lines
             JOIN listings ON listings.id = order_lines.listing_id
             WHERE order_lines.order_id = orders.id),
            2)
        """
    )
    _backfill_parcels()
    _set_subjects(SUBJECTS_AFTER)


SUBJECTS_BEFORE = ("order", "return", "dispute", "review")
SUBJECTS_AFTER = (*SUBJECTS_BEFORE, "shipment")


def _set_subjects(subjects: Sequence[str]) -> None:
    """The order timeline's step subjects (nothing refers to `order_events`, so rebuilding
    it on SQLite loses nothing)."""
    allowed = ", ".join(f"'{subject}'" for subject in subjects)
    with op.batch_alter_table("order_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_order_events_event_subject"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_order_events_event_subject"), sa.text(f"subject IN ({allowed})")
        )


def _backfill_parcels() -> None:
    connection = op.get_bind()
    # Read through typed columns: raw SQL on SQLite hands back ids and times as text.
    at = app.core.models.UTCDateTime(timezone=True)
    orders = sa.table(
        "orders",
        sa.column("id", sa.Uuid()),
        sa.column("carrier", sa.String()),
        sa.column("tracking_number", sa.String()),
        sa.column("shipped_at", at),
    )
    order_lines = sa.table(
        "order_lines",
        sa.column("id", sa.Uuid()),
        sa.column("order_id", sa.Uuid()),
        sa.column("quantity", sa.Integer()),
    )
    shipped = connection.execute(
        sa.select(orders.c.id, orders.c.carrier, orders.c.tracking_number, orders.c.shipped_at)
        .where(
            orders.c.shipped_at.is_not(None),
            orders.c.carrier.is_not(None),
            orders.c.tracking_number.is_not(None),
        )
        .order_by(orders.c.id)
    ).all()
    lines = connection.execute(
        sa.select(order_lines.c.id, order_lines.c.order_id, order_lines.c.quantity)
    ).all()
    by_order: dict[object, list[tuple[object, int]]] = {}
    for line_id, order_id, quantity in lines:
        by_order.setdefault(order_id, []).append((line_id, quantity))
    shipments = sa.table(
        "shipments",
        sa.column("id", sa.Uuid()),
        sa.column("order_id", sa.Uuid()),
        sa.column("carrier", sa.String()),
        sa.column("carrier_name", sa.String()),
        sa.column("tracking_number", sa.String()),
        sa.column("tracking_since", app.core.models.UTCDateTime(timezone=True)),
        sa.column("status", sa.String()),
        sa.column("status_at", app.core.models.UTCDateTime(timezone=True)),
        sa.column("correctable_until", app.core.models.UTCDateTime(timezone=True)),
        sa.column("created_at", app.core.models.UTCDateTime(timezone=True)),
        sa.column("updated_at", app.core.models.UTCDateTime(timezone=True)),
    )
    shipment_lines = sa.table(
        "shipment_lines",
        sa.column("id", sa.Uuid()),
        sa.column("shipment_id", sa.Uuid()),
        sa.column("order_line_id", sa.Uuid()),
        sa.column("quantity", sa.Integer()),
    )
    parcels: list[dict[str, object]] = []
    contents: list[dict[str, object]] = []
    for order_id, carrier, number, shipped_at in shipped:
        parcel_id = uuid.uuid4()
        parcels.append(
            {
                "id": parcel_id,
                "order_id": order_id,
                "carrier": "other",
                "carrier_name": carrier[:64],
                "tracking_number": "".join(number.split()).upper()[:64],
                "tracking_since": shipped_at,
                "status": "label_created",
                "status_at": shipped_at,
                "correctable_until": shipped_at,
                "created_at": shipped_at,
                "updated_at": shipped_at,
            }
        )
        contents.extend(
            {"id": uuid.uuid4(), "shipment_id": parcel_id, "order_line_id": line, "quantity": q}
            for line, q in by_order.get(order_id, [])
        )
    if parcels:
        op.bulk_insert(shipments, parcels)
    if contents:
        op.bulk_insert(shipment_lines, contents)


def downgrade() -> None:
    op.execute("DELETE FROM order_events WHERE subject = 'shipment'")
    _set_subjects(SUBJECTS_BEFORE)
    with op.batch_alter_table("orders", recreate="never") as batch_op:
        batch_op.drop_index("ix_orders_auto_refund_at")
        batch_op.drop_column("auto_refund_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("handling_days")

    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_events_shipment")

    op.drop_table("tracking_events")
    with op.batch_alter_table("shipment_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_lines_shipment_id"))

    op.drop_table("shipment_lines")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipments_return_id"))
        batch_op.drop_index("ix_shipments_tracking")
        batch_op.drop_index("ix_shipments_order")
        batch_op.drop_index("ix_shipments_next_poll_at")

    op.drop_table("shipments")
