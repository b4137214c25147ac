"""Demo data for a newcomer's first run: accounts to log in with at /docs."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.repository import UserRepository
from app.auth.schemas import UserRegister


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    display_name: str


DEMO_ACCOUNTS = (
    DemoAccount("admin", "admin@example.com", "demo-admin-password", "Demo Admin"),
    DemoAccount("seller", "seller@example.com", "demo-seller-password", "Demo Seller"),
    DemoAccount("buyer", "buyer@example.com", "demo-buyer-password", "Demo Buyer"),
)


async def seed_demo(session: AsyncSession) -> bool:
    """Create whatever demo data is missing; returns False when everything was there."""
    users = UserRepository(session)
    created = False
    for account in DEMO_ACCOUNTS:
        if await users.get_by_email(account.email) is not None:
            continue
        created = True
        if account.role == "admin":
            await auth_service.create_admin(
                session, email=account.email, password=account.password, name=account.display_name
            )
        else:
            await auth_service.register(
                session,
                UserRegister(
                    email=account.email,
                    password=account.password,
                    display_name=account.display_name,
                ),
            )
    return created
