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
