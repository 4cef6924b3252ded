"""SafeText: a NUL character is refused with the field named, every other character is kept as sent."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from core.errors import InvalidInput
from core.text import SafeText, refuse_nul


class _Note(BaseModel):
    note: SafeText = Field(max_length=20)
    tags: list[SafeText] = []


def test_nul_anywhere_is_refused_naming_the_field() -> None:
    for value in ("\x00", "before\x00", "\x00after", "mid\x00dle"):
        with pytest.raises(ValidationError) as caught:
            _Note(note=value)
        (error,) = caught.value.errors()
        assert error["loc"] == ("note",)
        assert error["type"] == "nul_character"
        assert "NUL" in error["msg"]


def test_nul_inside_a_list_names_the_item() -> None:
    with pytest.raises(ValidationError) as caught:
        _Note(note="ok", tags=["fine", "bad\x00"])
    assert caught.value.errors()[0]["loc"] == ("tags", 1)


def test_other_text_is_kept_unchanged() -> None:
    text = "Café ☕ \t tab, \u200b zero-width, emoji 🍞"
    assert _Note(note=text[:20]).note == text[:20]
    assert refuse_nul("plain", path="query.q") == "plain"


def test_refuse_nul_is_invalid_input_naming_the_path() -> None:
    with pytest.raises(InvalidInput) as caught:
        refuse_nul("a\x00b", path="query.cursor")
    assert caught.value.fields[0].path == "query.cursor"
    assert "query.cursor" in caught.value.detail
