"""The category tree managed by admins (audited); public reads go through `category_tree`."""

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.catalog.category_tree import CategoryTreeCache
from app.catalog.exceptions import (
    CategoryCycle,
    CategoryHasChildren,
    CategoryHasListings,
    CategoryNotFound,
    CategoryNotLeaf,
    CategorySlugTaken,
    UnknownCategory,
)
from app.catalog.models import Category
from app.catalog.repository import CategoryRepository
from app.catalog.schemas import CategoryCreate, CategoryUpdate
from app.core.audit import record_audit
from app.core.errors import ValidationFailed
from app.core.text import slugify


async def all_categories(session: AsyncSession) -> list[Category]:
    return list(await CategoryRepository(session).all())


async def get(session: AsyncSession, category_id: uuid.UUID) -> Category:
    category = await CategoryRepository(session).get(category_id)
    if category is None:
        raise CategoryNotFound()
    return category


async def require_leaf(session: AsyncSession, category_id: uuid.UUID) -> Category:
    """The category a listing may be filed under: it exists and has no sub-categories."""
    categories = CategoryRepository(session)
    category = await categories.get(category_id)
    if category is None:
        raise UnknownCategory(f"no category {category_id}")
    if await categories.has_children(category_id):
        raise CategoryNotLeaf(f"'{category.name}' has sub-categories; pick one of them")
    return category


async def _check_parent(
    categories: CategoryRepository, parent_id: uuid.UUID, moving: uuid.UUID | None
) -> None:
    parent = await categories.get(parent_id)
    if parent is None:
        raise UnknownCategory(f"no parent category {parent_id}")
    if await categories.has_listings(parent_id):
        # Its listings would suddenly sit in a non-leaf category.
        raise CategoryHasListings(f"'{parent.name}' has listings and cannot get sub-categories")
    if moving is not None:
        ancestor: Category | None = parent
        while ancestor is not None:
            if ancestor.id == moving:
                raise CategoryCycle()
            ancestor = await categories.get(ancestor.parent_id) if ancestor.parent_id else None


async def create(
    session: AsyncSession, tree: CategoryTreeCache, admin: Principal, data: CategoryCreate
) -> Category:
    categories = CategoryRepository(session)
    tree.drop_on_commit(session)
    if data.parent_id is not None:
        await _check_parent(categories, data.parent_id, moving=None)
    slug = data.slug or slugify(data.name)
    if not slug:
        raise ValidationFailed(["body", "slug"], "the name has no Latin letters; give a slug")
    category = Category(
        name=data.name,
        slug=slug,
        parent_id=data.parent_id,
        position=data.position,
    )
    await categories.save_unique(category, CategorySlugTaken())
    await record_audit(
        session,
        actor_id=admin.user_id,
        action="category.created",
        target_type="category",
        target_id=category.id,
        details={"slug": category.slug},
    )
    return category


async def update(
    session: AsyncSession,
    tree: CategoryTreeCache,
    admin: Principal,
    category_id: uuid.UUID,
    data: CategoryUpdate,
) -> Category:
    categories = CategoryRepository(session)
    tree.drop_on_commit(session)
    category = await get(session, category_id)
    changes = data.model_dump(exclude_unset=True)
    if "parent_id" in changes and changes["parent_id"] != category.parent_id:
        if changes["parent_id"] is not None:
            await _check_parent(categories, changes["parent_id"], moving=category.id)
        category.parent_id = changes["parent_id"]
    for field in ("name", "slug", "position"):
        if changes.get(field) is not None:
            setattr(category, field, changes[field])
    await categories.save_unique(category, CategorySlugTaken())
    await record_audit(
        session,
        actor_id=admin.user_id,
        action="category.updated",
        target_type="category",
        target_id=category.id,
        details={k: str(v) for k, v in changes.items()},
    )
    return category


async def delete(
    session: AsyncSession, tree: CategoryTreeCache, admin: Principal, category_id: uuid.UUID
) -> None:
    categories = CategoryRepository(session)
    tree.drop_on_commit(session)
    category = await get(session, category_id)
    if await categories.has_children(category_id):
        raise CategoryHasChildren()
    if await categories.has_listings(category_id):
        raise CategoryHasListings()
    try:
        async with session.begin_nested():
            await session.delete(category)
    except IntegrityError as error:  # a listing was filed under it concurrently
        raise CategoryHasListings() from error
    await record_audit(
        session,
        actor_id=admin.user_id,
        action="category.deleted",
        target_type="category",
        target_id=category_id,
        details={"slug": category.slug},
    )
    await session.flush()
