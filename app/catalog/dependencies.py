from typing import Annotated

from fastapi import Depends, Request

from app.core.storage import MediaStorage


def get_storage(request: Request) -> MediaStorage:
    storage: MediaStorage = request.app.state.storage
    return storage


Storage = Annotated[MediaStorage, Depends(get_storage)]
