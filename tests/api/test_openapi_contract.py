"""The contract as phone teams read it: a client generated from /openapi.json builds without a warning, each
entry kind has one named input and one named output schema, and no model is published twice under two names."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from core.diary.kinds import MODEL_BY_KIND
from tests.urls import API


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from api.main import create_app

    app: FastAPI = create_app()
    return app.openapi()


def _without_names(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_names(v) for k, v in schema.items() if k not in ("title", "description")}
    if isinstance(schema, list):
        return [_without_names(v) for v in schema]
    return schema


def test_no_model_is_published_twice_under_two_names(document: dict[str, Any]) -> None:
    by_shape: dict[str, list[str]] = {}
    for name, schema in document["components"]["schemas"].items():
        by_shape.setdefault(json.dumps(_without_names(schema), sort_keys=True), []).append(name)
    assert [names for names in by_shape.values() if len(names) > 1] == []


def test_every_kind_has_one_named_input_and_output_schema_told_apart_by_kind(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    inputs = schemas["EntryIn"]
    assert inputs["discriminator"]["propertyName"] == "kind"
    assert set(inputs["discriminator"]["mapping"]) == set(MODEL_BY_KIND)
    paths = document["paths"]
    single = paths[API + "/participants/{participant_id}/entries"]["post"]
    batch = paths[API + "/participants/{participant_id}/entries/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EntryBatchIn"
    }
    assert single["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EntryIn"
    }
    batch_items = schemas["EntryBatchIn"]["properties"]["entries"]
    assert batch_items["items"] == {"$ref": "#/components/schemas/EntryIn"}
    assert batch_items["maxItems"] == 1000  # the limit as schema, not as prose
    answered = single["responses"]["201"]["content"]["application/json"]["schema"]
    assert answered["discriminator"]["propertyName"] == "kind"
    for kind in MODEL_BY_KIND:
        name = "".join(part.title() for part in kind.split("_")) + "Entry"
        assert answered["discriminator"]["mapping"][kind] == f"#/components/schemas/{name}"
        assert schemas[name]["properties"]["kind"]["const"] == kind
        assert f"{name}In" in schemas
    assert "value_mg_dl" in schemas["GlucoseEntry"]["properties"]
    assert "value_mg_dl" not in schemas["InsulinEntry"]["properties"]


def test_headers_a_client_needs_are_documented(document: dict[str, Any]) -> None:
    entry = document["paths"][API + "/participants/{participant_id}/entries/{entry_id}"]
    assert "ETag" in entry["get"]["responses"]["200"]["headers"]
    assert "ETag" in entry["patch"]["responses"]["200"]["headers"]
    login = document["paths"][f"{API}/auth/token"]["post"]
    assert "Retry-After" in login["responses"]["429"]["headers"]
    for path, operations in document["paths"].items():
        if path.startswith("/api/"):
            for method, operation in operations.items():
                assert "Retry-After" in operation["responses"]["503"]["headers"], (method, path)


def test_a_client_generated_from_the_document_builds_without_a_warning(
    document: dict[str, Any], tmp_path: Path
) -> None:
    generator = shutil.which("openapi-python-client") or str(
        Path(sys.executable).parent / "openapi-python-client"
    )
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")
    done = subprocess.run(
        [
            generator,
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "client"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output
    models = {p.stem for p in (tmp_path / "client" / "models").glob("*.py")}
    assert {"glucose_entry", "glucose_entry_in", "entry_page", "glucose_unit", "insulin_type"} <= models
    # an enum of the domain is one class, not a copy per model that uses it (glucose_entry_in_unit, ...)
    assert not {"glucose_entry_unit", "glucose_entry_in_unit", "insulin_entry_in_insulin_type"} & models
