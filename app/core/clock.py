"""The one source of time. Tests move it instead of sleeping."""

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time, optionally shifted or frozen (tests and simulations only)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def now(self) -> datetime:
        if self._frozen_at is not None:
            return self._frozen_at
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if self._frozen_at is not None:
            self._frozen_at += delta
        else:
            self._offset += delta

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen_at = at or self.now()

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen_at = None


clock = Clock()


def now() -> datetime:
    return clock.now()


_SATURDAY = 5


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` business days (Monday to Friday) after `start`, at the same time of day.

    Counts forward a day at a time, skipping Saturdays and Sundays; a result that falls on a
    weekend moves on to the Monday. So 0 days from a weekday is `start` itself and 0 from a
    Saturday or Sunday is the next Monday; 1 from a Friday is the Monday. Weekdays are
    judged in UTC, as every timestamp of the app is UTC: `start` is converted to UTC when it
    has another offset (and a naive `start` is taken as UTC). Public holidays are out of
    scope: they count as business days.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    at = start.astimezone(UTC) if start.tzinfo is not None else start
    while at.weekday() >= _SATURDAY:
        at += timedelta(days=1)
    for _ in range(days):
        at += timedelta(days=1)
        while at.weekday() >= _SATURDAY:
            at += timedelta(days=1)
    return at
