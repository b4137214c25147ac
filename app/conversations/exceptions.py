from app.core.errors import Conflict, Forbidden, NotFound, TooManyRequests


class ConversationNotFound(NotFound):
    code, title = "not_found", "Conversation not found"


class CannotMessageOwnListing(Conflict):
    code, title = "cannot_message_own_listing", "You cannot start a conversation with yourself"


class NotAParticipant(Forbidden):
    code, title = "not_participant", "Only the buyer and the seller take part in a conversation"


class ParticipantGone(Conflict):
    code, title = "participant_gone", "The other party has left the marketplace"


class MessageRateLimited(TooManyRequests):
    code, title = "rate_limited", "Too many messages; try again later"
