"""Text as the service accepts it: no NUL character, which PostgreSQL cannot store in text or JSONB.

`SafeText` is the one string type for free text from users (schemas, forms, query parameters): a NUL anywhere is
a 422 naming the field, refused at the edge before it reaches the database (where it was a 500). `refuse_nul`
does the same for values that do not pass through pydantic.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from core.errors import FieldProblem, InvalidInput

NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


def _no_nul(value: str) -> str:
    if NUL in value:
        # pydantic names the field in the error's location; the message says what is wrong and why
        raise PydanticCustomError("nul_character", NUL_MESSAGE)
    return value


# Use as a field's type (`note: SafeText = Field(max_length=2000)`) or inside Optional/list types.
SafeText = Annotated[str, AfterValidator(_no_nul)]


def refuse_nul(value: str, *, path: str) -> str:
    """`value` unchanged, or InvalidInput naming `path` when it holds a NUL character."""
    if NUL in value:
        raise InvalidInput(f"{path}: {NUL_MESSAGE}", fields=[FieldProblem(path=path, message=NUL_MESSAGE)])
    return value
