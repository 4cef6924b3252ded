"""The README documents every setting the service reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from core.config import Settings


def _variables(model: type[BaseModel], prefix: str) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [v for v in _variables(Settings, "GLUCODIARY_") if f"`{v}`" not in readme]
    assert missing == [], f"document these settings in README.md: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    first_screen = (Path(__file__).resolve().parent.parent / "README.md").read_text().splitlines()[:8]
    text = "\n".join(first_screen)
    assert "make run" in text and "make test" in text
