"""Conversation guards: the conversation a request is about, loaded through a query scoped
to the caller and locked when the request writes."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from app.auth.dependencies import CurrentPrincipal
from app.conversations import service
from app.conversations.models import Conversation
from app.conversations.schemas import ConversationRole
from app.core.db import DbSession
from app.core.guards import Guarded, writes


async def guard_conversation(
    conversation_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> Guarded[Conversation, ConversationRole]:
    return await service.get_visible(session, principal, conversation_id, lock=writes(request))


ConversationGuard = Annotated[Guarded[Conversation, ConversationRole], Depends(guard_conversation)]
"""A conversation the caller takes part in (or, for an admin, one about a disputed order),
with their role in it."""
