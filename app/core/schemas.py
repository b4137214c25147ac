"""Pydantic bases shared by every domain."""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Schema(BaseModel):
    """Base of response models: built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class RequestSchema(BaseModel):
    """Base of request bodies: unknown fields are refused (so nobody slips `"role": "admin"`
    into a PATCH), and NUL characters too (PostgreSQL text cannot store them). Nothing is
    stripped or rewritten silently."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[ItemT]
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page, null on the last page"
    )
