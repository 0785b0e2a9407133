"""The base of every derived fact served as JSON (the profile, the luck pillars, the almanac):
immutable pydantic models whose JSON names are camelCase."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Fact(BaseModel):
    """A frozen model serialised with camelCase names (`model_dump(by_alias=True)`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)
