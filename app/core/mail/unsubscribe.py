"""One-click unsubscribe links (RFC 8058): a signed token naming a person and one kind of
mail, so the link needs no login and turns off nothing else."""

import uuid
from datetime import timedelta

from app.config import Settings
from app.core.ids import uuid7
from app.core.security import InvalidToken, TokenType, decode_token, encode_token

UNSUBSCRIBE_PATH = "/v1/notifications/unsubscribe"
UNSUBSCRIBE_TOKEN_TTL = timedelta(days=365)
_TOPIC_CLAIM = "topic"


def unsubscribe_token(settings: Settings, user_id: uuid.UUID, topic: str) -> str:
    return encode_token(
        settings.jwt_secret.get_secret_value(),
        subject=str(user_id),
        token_type=TokenType.unsubscribe,
        ttl=UNSUBSCRIBE_TOKEN_TTL,
        token_id=uuid7(),
        extra={_TOPIC_CLAIM: topic},
    )


def read_unsubscribe_token(settings: Settings, token: str) -> tuple[uuid.UUID, str] | None:
    """(person, kind of mail) the token names; None if it is forged, expired or another
    kind of token."""
    try:
        claims = decode_token(
            settings.jwt_secret.get_secret_value(), token, expected_type=TokenType.unsubscribe
        )
        topic = claims.extra.get(_TOPIC_CLAIM)
        return (uuid.UUID(claims.subject), topic) if isinstance(topic, str) else None
    except (InvalidToken, ValueError):
        return None
