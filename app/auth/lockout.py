"""The per-email password lockout. After `login_max_failures` wrong passwords for one email
within `login_failure_window`, every password check for that email (logins, and the
confirmations a signed-in user gives for sensitive changes) answers 429 until the oldest
failure leaves the window. Unknown emails are counted too, so the lockout tells nobody which
emails have accounts.

The count must hold under concurrency. Reading it, checking the password and recording a
failure afterwards let a burst of guesses all read the same count (40 sent at once got 7 to 10
of them checked). So every check is recorded as an attempt *before* the password is checked,
in a way the concurrent checks see, and is counted with them; a right password removes its
attempt again (a successful login: every attempt of the email, as a login always reset the
count), and a refused check removes itself (or a flood of refused guesses would keep the
email locked for good).

- A login commits its attempt in a transaction of its own and only then counts: the k-th
  attempt to commit counts at least k, so at most `login_max_failures` logins get their
  password checked, however many arrive together. This short transaction is a deliberate
  exception to "services flush, the request commits once": the attempt must be visible to the
  other requests before this one checks the password, and stay whatever becomes of it. It is
  the login's first database work, so the request never holds two connections at once (nor,
  on SQLite, waits for a write lock it holds itself).
- A signed-in user's confirmation already holds the request's connection, and taking a second
  one per request could starve the pool under a burst (each request holding one while waiting
  for another). So it records its attempt in the request's transaction after locking the
  account's row: concurrent confirmations of one account queue on that lock, and each counts
  the failures of those before it, committed with their refusal (`WrongPassword` keeps its
  changes). Logins do not see a confirmation until it ends, so when both race, at most one
  check more than the limit gets through.
"""

import math
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.exceptions import TooManyLoginAttempts
from app.auth.models import LoginFailure
from app.auth.repository import LoginFailureRepository, UserRepository
from app.config import Settings
from app.core.clock import now

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""A fresh session whose transaction commits when the block ends (`Database.session_scope`)."""


@dataclass(frozen=True, slots=True)
class PasswordAttempt:
    """One password check in progress, recorded (and counted) before the check."""

    id: int
    email: str


class PasswordAttempts:
    """Records password checks and refuses those over the limit (see the module's doc)."""

    def __init__(self, settings: Settings, own_transaction: UnitOfWork) -> None:
        self._settings = settings
        self._own_transaction = own_transaction

    async def begin_login(self, email: str) -> tuple[PasswordAttempt, str | None]:
        """Record a login's check of a password for `email`, committed at once; 429 if the
        window holds more than `login_max_failures` attempts with this one. Must come before
        the request's own session touches the database.

        Also returns the account's password hash (None: no such account), read in the same
        short transaction, so that the password is checked while the request holds no
        database connection: a flood of logins queueing for a hashing slot must not hold
        every pooled connection and stall everyone else's requests."""
        email = email.strip().lower()
        async with self._own_transaction() as session:
            failures = LoginFailureRepository(session)
            row = await failures.add(LoginFailure(email=email, created_at=now()))
            # Committed before anything is counted: of any concurrent attempts, those counting
            # after this point see this one.
            await session.commit()
            retry_after = await self._retry_after_if_over(failures, email)
            if retry_after is not None:
                await failures.remove(row.id)
            user = await UserRepository(session).get_by_email(email)
            password_hash = user.password_hash if user is not None else None
        if retry_after is not None:
            raise TooManyLoginAttempts(retry_after_seconds=retry_after)
        return PasswordAttempt(id=row.id, email=email), password_hash

    async def begin_confirmation(
        self, session: AsyncSession, user_id: uuid.UUID, email: str
    ) -> PasswordAttempt:
        """Record a signed-in user's check of their password, in the request's transaction,
        behind the account's row lock; 429 (which rolls the attempt back) if the window holds
        more than `login_max_failures` attempts with this one. A wrong password must answer
        an error that keeps the request's changes, so the failure stays recorded."""
        await UserRepository(session).get_for_update(user_id, key_share=True)
        failures = LoginFailureRepository(session)
        row = await failures.add(LoginFailure(email=email, created_at=now()))
        retry_after = await self._retry_after_if_over(failures, email)
        if retry_after is not None:
            raise TooManyLoginAttempts(retry_after_seconds=retry_after)
        return PasswordAttempt(id=row.id, email=email)

    async def _retry_after_if_over(
        self, failures: LoginFailureRepository, email: str
    ) -> int | None:
        """Seconds until the oldest attempt leaves the window, if the window holds too many."""
        window = self._settings.login_failure_window
        count, oldest = await failures.recent(email, now() - window)
        if count <= self._settings.login_max_failures:
            return None
        assert oldest is not None  # the window holds at least the caller's attempt
        return math.ceil((oldest + window - now()).total_seconds())

    @staticmethod
    async def succeeded(session: AsyncSession, attempt: PasswordAttempt, *, reset: bool) -> None:
        """The password was right, so the attempt is no failure. Removed in the request's
        transaction: a confirmation's attempt goes with the request's rollback anyway, and a
        login that fails after all (its tokens not issued) leaves its attempt counted, which
        errs on the safe side. `reset` also forgets every earlier failure for the email, as a
        successful login always has."""
        failures = LoginFailureRepository(session)
        if reset:
            await failures.clear(attempt.email)
        else:
            await failures.remove(attempt.id)
