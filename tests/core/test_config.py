"""Settings: safe defaults in development, a hard stop in production without a real secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings, SettingsError, get_settings


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/glucodiary.db"


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.jwt_secret_value()
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path).jwt_secret_value() == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("secret", [None, "too-short-secret"])
def test_production_refuses_to_start_without_a_long_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("GLUCODIARY_ENV", "production")
    if secret is None:
        monkeypatch.delenv("GLUCODIARY_SECURITY__JWT_SECRET", raising=False)
    else:
        monkeypatch.setenv("GLUCODIARY_SECURITY__JWT_SECRET", secret)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    message = str(raised.value)
    assert "GLUCODIARY_SECURITY__JWT_SECRET" in message and "32 bytes" in message
    assert "\n" not in message


def test_production_starts_with_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLUCODIARY_ENV", "production")
    monkeypatch.setenv("GLUCODIARY_SECURITY__JWT_SECRET", "x" * 32)
    get_settings.cache_clear()
    try:
        assert get_settings().jwt_secret_value() == "x" * 32
    finally:
        get_settings.cache_clear()


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLUCODIARY_DIARY__LATE_AFTER_HOURS", "48")
    assert Settings().diary.late_after_hours == 48
