"""The category tree held in memory for public reads (search by category, the tree endpoint).

Every search by category needs the category's subtree; reading it from the database costs a
recursive query and a round trip per search, several times the cost of the search itself on
the common filters. The tree is small and only admins change it, so each process keeps it and
reloads it at most every `category_tree_ttl`. A change committed through this process drops
the tree at once; one made by another process (another uvicorn worker) is seen within the
TTL. With a read replica (`database_read_url`) the tree is reloaded from it, so a reload that
comes before the replica has replayed a change keeps the old tree for one more TTL. Writes
(filing a listing under a leaf, moving a category) always read the primary.
"""

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.catalog.models import Category
from app.catalog.repository import CategoryRepository
from app.catalog.schemas import CategoryNode
from app.core.clock import now


@dataclass(frozen=True, slots=True)
class CategoryTreeSnapshot:
    roots: list[CategoryNode]
    """The nested tree, siblings in `position` order (shared: never mutate)."""
    subtrees: dict[str, tuple[uuid.UUID, ...]]
    """A category's id (canonical text) or slug -> its id and all its descendants' ids."""
    nodes: dict[uuid.UUID, CategoryNode]
    """Every category by id."""

    def node(self, reference: str) -> CategoryNode | None:
        """A category by id (any spelling) or slug."""
        ids = self.subtree_ids(reference)
        return self.nodes.get(ids[0]) if ids else None

    def path(self, category_id: uuid.UUID) -> list[CategoryNode]:
        """The category and its ancestors, root first (empty if unknown)."""
        path: list[CategoryNode] = []
        node = self.nodes.get(category_id)
        while node is not None:
            path.append(node)
            node = self.nodes.get(node.parent_id) if node.parent_id else None
        return path[::-1]

    @classmethod
    def build(cls, categories: Sequence[Category]) -> "CategoryTreeSnapshot":
        """From every category, ordered by position (children lists come out ordered)."""
        nodes = {
            c.id: CategoryNode(
                id=c.id, name=c.name, slug=c.slug, parent_id=c.parent_id, position=c.position
            )
            for c in categories
        }
        roots: list[CategoryNode] = []
        for node in nodes.values():
            parent = nodes.get(node.parent_id) if node.parent_id else None
            (parent.children if parent else roots).append(node)
        subtrees: dict[str, tuple[uuid.UUID, ...]] = {}
        for node in nodes.values():
            ids = tuple(_descendants_and_self(node))
            subtrees[str(node.id)] = subtrees[node.slug] = ids
        return cls(roots=roots, subtrees=subtrees, nodes=nodes)

    def subtree_ids(self, reference: str) -> tuple[uuid.UUID, ...]:
        """The ids of a category (by id or slug) and of its descendants; empty if unknown."""
        with contextlib.suppress(ValueError):
            reference = str(uuid.UUID(reference))  # any spelling of an id
        return self.subtrees.get(reference, ())


def _descendants_and_self(node: CategoryNode) -> list[uuid.UUID]:
    ids = [node.id]
    for child in node.children:
        ids.extend(_descendants_and_self(child))
    return ids


async def load_tree(session: AsyncSession) -> CategoryTreeSnapshot:
    return CategoryTreeSnapshot.build(await CategoryRepository(session).all())


class CategoryTreeCache:
    """One app's copy of the tree (see the module docstring)."""

    def __init__(self, ttl: timedelta) -> None:
        self._ttl = ttl
        self._tree: CategoryTreeSnapshot | None = None
        self._expires_at = datetime.min.replace(tzinfo=UTC)
        self._generation = 0  # bumped by every committed change

    async def get(self, session: AsyncSession) -> CategoryTreeSnapshot:
        if self._tree is not None and now() < self._expires_at:
            return self._tree
        generation, loaded_at = self._generation, now()
        tree = await load_tree(session)
        # A change committed while this load ran may be missing from it: use it, keep it not.
        if generation == self._generation:
            self._tree, self._expires_at = tree, loaded_at + self._ttl
        return tree

    def drop_on_commit(self, session: AsyncSession) -> None:
        """Forget the tree when `session` commits (its change is then visible to a reload);
        a rolled-back change leaves it as it was."""
        event.listen(session.sync_session, "after_commit", self._drop_unless_savepoint)

    def _drop_unless_savepoint(self, session: Session) -> None:
        # after_commit also fires when a savepoint is released (the category service saves
        # through one), while the change is not yet visible to other connections: a reload
        # then would read the old tree and keep it for the whole TTL.
        if session.in_nested_transaction():
            return
        self._tree = None
        self._generation += 1
