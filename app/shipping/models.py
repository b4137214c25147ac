import uuid

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.models import Base, IdMixin, TimestampMixin


class ShippingProfile(IdMixin, TimestampMixin, Base):
    """A shop's way of charging shipping, which its listings point to: a rate per destination,
    charged once per order for all the profile's items going there (first item, then each
    additional one), free over an amount."""

    __tablename__ = "shipping_profiles"
    __table_args__ = (
        # A shop picks a profile by name: two of the same name could not be told apart.
        UniqueConstraint("seller_id", "name"),
    )

    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sellers.id"))
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    """ISO 4217: every amount of its rates is in it, and so is every listing on it."""

    # Replaced as a whole by an edit, in the order the seller gave them (ids are time-ordered).
    rates: Mapped[list["ShippingRate"]] = relationship(
        lazy="raise", order_by="ShippingRate.id", cascade="all, delete-orphan"
    )


class ShippingRate(IdMixin, Base):
    """What shipping to some destinations costs under one profile."""

    __tablename__ = "shipping_rates"
    __table_args__ = (
        CheckConstraint("first_item_amount >= 0", name="first_item_not_negative"),
        CheckConstraint("additional_item_amount >= 0", name="additional_item_not_negative"),
        CheckConstraint(
            "free_over_amount IS NULL OR free_over_amount > 0", name="free_over_positive"
        ),
        Index("ix_shipping_rates_profile", "profile_id", "id"),
    )

    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("shipping_profiles.id", ondelete="CASCADE")
    )
    destinations: Mapped[list[str]] = mapped_column(JSON)
    """ISO 3166-1 alpha-2 countries, regions (`EU`) and `*` (every country the profile's other
    rates do not name); each code in one rate of the profile only."""
    first_item_amount: Mapped[int] = mapped_column(BigInteger)
    """The first unit of the profile's items in an order, minor units of the profile's
    currency; zero or more."""
    additional_item_amount: Mapped[int] = mapped_column(BigInteger)
    """Each further unit, minor units; zero or more."""
    free_over_amount: Mapped[int | None] = mapped_column(BigInteger)
    """Shipping is free when the profile's items in an order cost at least this, minor units;
    null: never free."""
