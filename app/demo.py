"""Demo data for a newcomer's first run: accounts to log in with at /docs, an approved shop,
a realistic category tree and live listings to search."""

import functools
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import service as auth_service
from app.auth.models import User
from app.auth.principal import Principal
from app.auth.repository import UserRepository
from app.auth.schemas import UserRegister
from app.catalog import category_service
from app.catalog import service as catalog_service
from app.catalog.category_tree import CategoryTreeCache
from app.catalog.models import Condition
from app.catalog.schemas import CategoryCreate, ListingCreate
from app.catalog.state import ListingAction
from app.config import Settings
from app.core.money import Money
from app.promotions import service as promotions
from app.promotions.models import PromotionKind
from app.promotions.schemas import AdminPromotionCreate, PromotionCreate, TierIn
from app.sellers import service as seller_service
from app.sellers.models import SellerProfile, SellerType
from app.sellers.schemas import SellerApply
from app.sellers.state import SellerAction


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

DEMO_COUPON = "WELCOME10"

# (root, [leaves])
CATEGORY_TREE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Electronics", ("Phones", "Laptops", "Audio", "Cameras")),
    ("Fashion", ("Shoes", "Bags", "Jackets")),
    ("Home & Garden", ("Kitchen", "Furniture", "Garden Tools")),
    ("Sports", ("Cycling", "Fitness", "Camping")),
    ("Books & Media", ("Books", "Vinyl Records")),
)

# (leaf slug, title, description, price in cents, quantity, condition)
LISTINGS: tuple[tuple[str, str, str, int, int, Condition], ...] = (
    (
        "phones",
        "iPhone 13 128GB Midnight",
        "Unlocked, battery health 89%, no scratches.",
        42900,
        1,
        Condition.like_new,
    ),
    (
        "phones",
        "Google Pixel 7 Pro",
        "Dual SIM, with original box and charger.",
        38500,
        2,
        Condition.good,
    ),
    (
        "phones",
        "Nokia 3310 (2017)",
        "The indestructible classic, works perfectly.",
        2900,
        5,
        Condition.good,
    ),
    (
        "laptops",
        "ThinkPad X1 Carbon Gen 9",
        "i7, 16GB RAM, 512GB SSD, new battery.",
        74900,
        1,
        Condition.good,
    ),
    (
        "laptops",
        "MacBook Air M1 8GB",
        "Space grey, 212 battery cycles.",
        59900,
        1,
        Condition.like_new,
    ),
    (
        "audio",
        "Sony WH-1000XM4 headphones",
        "Noise cancelling, black, with case.",
        17900,
        3,
        Condition.like_new,
    ),
    (
        "audio",
        "Technics SL-1210 turntable",
        "Serviced last year, new stylus.",
        64900,
        1,
        Condition.good,
    ),
    (
        "cameras",
        "Fujifilm X100V",
        "Silver, 4k shutter count, with two batteries.",
        119900,
        1,
        Condition.like_new,
    ),
    ("shoes", "Nike Air Max 90 size 42", "Worn twice, white/grey.", 8900, 1, Condition.like_new),
    (
        "shoes",
        "Dr. Martens 1460 boots size 39",
        "Cherry red smooth leather.",
        9500,
        2,
        Condition.good,
    ),
    (
        "bags",
        "Leather messenger bag",
        "Handmade full-grain leather, fits a 15 inch laptop.",
        12900,
        4,
        Condition.new,
    ),
    ("jackets", "Patagonia Nano Puff jacket M", "Navy, light and warm.", 11000, 1, Condition.good),
    ("kitchen", "Cast iron skillet 28cm", "Pre-seasoned, ready to use.", 3900, 10, Condition.new),
    (
        "kitchen",
        "Espresso machine with grinder",
        "Makes great coffee, descaled monthly.",
        28900,
        1,
        Condition.good,
    ),
    (
        "furniture",
        "Oak dining table 180cm",
        "Solid oak, seats six, pick-up preferred.",
        45000,
        1,
        Condition.good,
    ),
    (
        "garden-tools",
        "Cordless hedge trimmer",
        "18V, battery and charger included.",
        7900,
        2,
        Condition.like_new,
    ),
    (
        "cycling",
        "Road bike carbon 56cm",
        "Shimano 105, 8.2 kg, recently serviced.",
        129000,
        1,
        Condition.good,
    ),
    (
        "fitness",
        "Adjustable dumbbells 2x24kg",
        "Quick-change weight selector.",
        24900,
        3,
        Condition.like_new,
    ),
    (
        "camping",
        "Two-person backpacking tent",
        "1.4 kg, used on three trips.",
        15900,
        1,
        Condition.good,
    ),
    (
        "books",
        "The Pragmatic Programmer (20th anniversary)",
        "Hardcover, like new.",
        2900,
        2,
        Condition.like_new,
    ),
    (
        "vinyl-records",
        "Miles Davis - Kind of Blue LP",
        "180g reissue, played once.",
        2600,
        1,
        Condition.like_new,
    ),
)


async def _account(session: AsyncSession, account: DemoAccount) -> tuple[User, bool]:
    user = await UserRepository(session).get_by_email(account.email)
    if user is not None:
        return user, False
    if account.role == "admin":
        user = await auth_service.create_admin(
            session, email=account.email, password=account.password, name=account.display_name
        )
    else:
        user = await auth_service.create_account(
            session,
            UserRegister(
                email=account.email, password=account.password, display_name=account.display_name
            ),
            verified=True,
        )
    return user, True


async def seed_demo(session: AsyncSession, settings: Settings) -> bool:
    """Create whatever demo data is missing; returns False when everything was there."""
    users = {a.role: await _account(session, a) for a in DEMO_ACCOUNTS}
    admin, seller_user = users["admin"][0], users["seller"][0]
    if seller_user.seller_status is not None:  # the shop and its catalog exist already
        return any(created for _, created in users.values())

    # Seeding runs in a process that serves nothing: no app's in-memory tree to keep current
    # (servers load theirs from the database).
    tree = CategoryTreeCache(settings.category_tree_ttl)
    # Seeding acts as these two people would through the API (the seller's principal sees
    # the shop once `apply` has mirrored it onto the user).
    as_admin, as_seller = Principal(admin), Principal(seller_user)
    for root_position, (root_name, leaves) in enumerate(CATEGORY_TREE):
        root = await category_service.create(
            session, tree, as_admin, CategoryCreate(name=root_name, position=root_position)
        )
        for position, leaf in enumerate(leaves):
            await category_service.create(
                session,
                tree,
                as_admin,
                CategoryCreate(name=leaf, parent_id=root.id, position=position),
            )

    profile = await seller_service.apply(
        session,
        as_seller,
        SellerApply(
            shop_name="Demo Vintage & Tech",
            description="Pre-loved electronics, clothes and household goods.",
            legal_name="Demo Seller",
            seller_type=SellerType.individual,
            country="DE",
            contact_email="seller@example.com",
            contact_phone="+49 30 1234567",
            payout_account=SecretStr("DE89370400440532013000"),
        ),
    )
    await seller_service.decide(session, as_admin, profile.id, SellerAction.approve, "demo shop")
    slugs = {c.slug: c.id for c in await category_service.all_categories(session)}
    for slug, title, description, price, quantity, condition in LISTINGS:
        listing = await catalog_service.create(
            session,
            settings,
            as_seller,
            profile,
            ListingCreate(
                title=title,
                description=description,
                price=Money(amount=price, currency=settings.currency),
                quantity=quantity,
                condition=condition,
                category_id=slugs[slug],
                shipping_fee=Money(amount=490, currency=settings.currency),
                accepts_offers=True,
            ),
        )
        await catalog_service.act(session, settings, listing, ListingAction.publish)
    await _promotions(session, settings, as_admin, profile)
    return True


async def _promotions(
    session: AsyncSession, settings: Settings, as_admin: Principal, shop: SellerProfile
) -> None:
    """A platform coupon any buyer may use once, and the shop's own automatic "spend 100,
    save 5"."""
    money = functools.partial(Money, currency=settings.currency)
    await promotions.create_platform(
        session,
        settings,
        as_admin,
        AdminPromotionCreate(
            name="Welcome: 10 % off your first order",
            kind=PromotionKind.percent,
            percent=10,
            max_discount=money(amount=2000),
            code=DEMO_COUPON,
            max_per_buyer=1,
        ),
    )
    await promotions.create_for_shop(
        session,
        settings,
        shop,
        PromotionCreate(
            name="Spend 100, save 5",
            kind=PromotionKind.threshold,
            tiers=[TierIn(min_subtotal=money(amount=10000), discount=money(amount=500))],
        ),
    )
