"""The HTTP headers of the diary: an entry's ETag (sent back as If-Match or If-None-Match) and the app that sent
an entry, read off its User-Agent. Core knows versions and apps, never these headers' syntax."""

from __future__ import annotations

import re
import uuid

from core.diary.entries import SourceApp
from core.errors import FieldProblem, InvalidInput

_PRODUCT = re.compile(r"^\s*([A-Za-z0-9._+-]{1,80})(?:/([A-Za-z0-9._+-]{1,40}))?")
_ETAG_VERSION = re.compile(r'^(?:W/)?"?(?:[0-9a-fA-F-]{32,36}-v)?(\d{1,9})"?$')


def source_app(user_agent: str | None) -> SourceApp:
    """App and version from a User-Agent-style header: the first product token, e.g. `GlucodiaryApp/2.3.1`."""
    match = _PRODUCT.match(user_agent) if user_agent else None
    if match is None:
        return SourceApp()
    return SourceApp(match.group(1), match.group(2))


def etag(entry_id: uuid.UUID | str, version: int) -> str:
    """An entry version's weak entity tag: W/"<id>-v<version>"."""
    return f'W/"{entry_id}-v{version}"'


def if_match_version(value: str | None, path: str = "If-Match") -> int | None:
    """The version an If-Match names (W/"<id>-v3", "<id>-v3", "3" or 3); None without the header."""
    if value is None:
        return None
    match = _ETAG_VERSION.match(value.strip())
    if match is None:
        raise InvalidInput(
            f"{path} {value!r} is not an entity tag of this service.",
            fields=[FieldProblem(path, f'expected the ETag of the entry, e.g. W/"<id>-v3" (got {value!r})')],
        )
    return int(match.group(1))


def none_match(if_none_match: str | None, current: str) -> bool:
    """If-None-Match names the current tag (or is `*`): the client's copy is current, answer 304."""
    if if_none_match is None:
        return False
    return bool({tag.strip() for tag in if_none_match.split(",")} & {current, "*"})
