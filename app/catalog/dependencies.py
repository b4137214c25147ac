from typing import Annotated

from fastapi import Depends, Request

from app.catalog.category_tree import CategoryTreeCache
from app.core.storage import MediaStorage


async def get_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.storage
    return storage


Storage = Annotated[MediaStorage, Depends(get_storage)]


async def get_private_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.private_storage
    return storage


PrivateStorage = Annotated[MediaStorage, Depends(get_private_storage)]


async def get_category_tree(request: Request) -> CategoryTreeCache:
    tree: CategoryTreeCache = request.app.state.category_tree
    return tree


CategoryTree = Annotated[CategoryTreeCache, Depends(get_category_tree)]
