"""The diary's HTTP headers, read and written in api/headers.py: User-Agent, ETag, If-Match, If-None-Match."""

from __future__ import annotations

import uuid

import pytest

from api import headers
from core.errors import InvalidInput

ENTRY = uuid.UUID("0b9a3c1e-2f44-4c8e-9d51-7a6b1c2d3e4f")


def test_the_app_and_its_version_come_from_the_first_product_token() -> None:
    app = headers.source_app("GlucodiaryApp/2.3.1 (iPhone; iOS 17.2)")
    assert (app.name, app.version) == ("GlucodiaryApp", "2.3.1")
    assert headers.source_app("curl").name == "curl"
    assert headers.source_app("curl").version is None
    assert headers.source_app(None).name is None
    assert headers.source_app("(no product)").name is None


def test_an_etag_names_the_entry_and_its_version() -> None:
    assert headers.etag(ENTRY, 3) == f'W/"{ENTRY}-v3"'


@pytest.mark.parametrize("sent", [f'W/"{ENTRY}-v3"', f'"{ENTRY}-v3"', '"3"', "3", f' W/"{ENTRY}-v3" '])
def test_if_match_names_a_version_in_every_form_a_client_sends(sent: str) -> None:
    assert headers.if_match_version(sent) == 3


def test_no_if_match_names_no_version() -> None:
    assert headers.if_match_version(None) is None


@pytest.mark.parametrize("sent", ["v3", 'W/"abc"', "", "three", '"-3"'])
def test_an_if_match_that_is_no_etag_of_ours_is_refused_naming_the_header(sent: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        headers.if_match_version(sent)
    assert [f.path for f in refused.value.fields] == ["If-Match"]
    assert repr(sent) in refused.value.fields[0].message


def test_if_none_match_matches_the_current_tag_in_a_list_or_star() -> None:
    current = headers.etag(ENTRY, 2)
    assert headers.none_match(current, current)
    assert headers.none_match(f'W/"{ENTRY}-v1", {current}', current)
    assert headers.none_match("*", current)
    assert not headers.none_match(headers.etag(ENTRY, 1), current)
    assert not headers.none_match(None, current)
