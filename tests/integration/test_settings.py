"""Settings from the environment: defaults, blanks, and what an operator is told."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from entrypoints.settings import Settings, SettingsError

KEY = base64.b64encode(b"k" * 32).decode()


def test_unset_and_blank_variables_keep_their_defaults() -> None:
    defaults = Settings()
    assert Settings.from_env({}) == defaults
    assert Settings.from_env({"AUDITRAIL_EXPORT_TTL_SECONDS": "  ", "AUDITRAIL_REDIS_URL": "",
                              "AUDITRAIL_NOT_A_SETTING": "x", "PATH": "/bin"}) == defaults


def test_variables_are_read_as_what_they_hold() -> None:
    settings = Settings.from_env({
        "AUDITRAIL_DATA_DIR": "/srv/auditrail", "AUDITRAIL_EXPORT_TTL_SECONDS": " 60 ",
        "AUDITRAIL_LOG_LEVEL": "debug", "AUDITRAIL_ALLOW_PRIVATE_DESTINATIONS": "1",
        "AUDITRAIL_SIGNING_KEY_LOST": "0", "AUDITRAIL_STREAM_BATCH_SECONDS": "0.25",
        "AUDITRAIL_PREVIOUS_SECRET_KEYS": "a" * 16 + "  " + "b" * 16,
        "AUDITRAIL_VIEWER_FRAME_ANCESTORS": "https://app.example.com/ http://localhost:3000",
        "AUDITRAIL_SIGNING_KEY": KEY})
    assert settings.data_dir == Path("/srv/auditrail") and settings.export_ttl_seconds == 60
    assert settings.log_level == "DEBUG" and settings.allow_private_destinations is True
    assert settings.signing_key_lost is False and settings.stream_batch_seconds == 0.25
    assert settings.previous_secret_keys == ("a" * 16, "b" * 16)
    assert settings.viewer_frame_ancestors == ("https://app.example.com",
                                               "http://localhost:3000")
    assert settings.signing_key == KEY


def test_every_invalid_variable_is_named_at_once_and_no_secret_is_echoed() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({
            "AUDITRAIL_EXPORT_TTL_SECONDS": "0", "AUDITRAIL_TRUSTED_PROXIES": "two",
            "AUDITRAIL_CHECKPOINT_SECONDS": "5.5", "AUDITRAIL_SIGNING_KEY_LOST": "yes",
            "AUDITRAIL_STREAM_BATCH_SECONDS": "nan", "AUDITRAIL_DELIVERY_TIMEOUT_SECONDS": "61",
            "AUDITRAIL_LOG_LEVEL": "loud", "AUDITRAIL_SIGNING_KEY": "c2VjcmV0LXNlZWQ=",
            "AUDITRAIL_DATABASE_URL": "mysql://admin:hunter2@db/audit"})
    said = str(refused.value).split("; ")
    assert said == [
        "AUDITRAIL_CHECKPOINT_SECONDS must be a whole number",
        "AUDITRAIL_DATABASE_URL names mysql: Auditrail runs on PostgreSQL (or SQLite, "
        "embedded)",
        "AUDITRAIL_DELIVERY_TIMEOUT_SECONDS must be between 1 and 60",
        "AUDITRAIL_EXPORT_TTL_SECONDS must be at least 1",
        "AUDITRAIL_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR",
        "AUDITRAIL_SIGNING_KEY must be base64 of a 32-byte Ed25519 seed (`auditrail "
        "signing-key generate` prints one)",
        "AUDITRAIL_SIGNING_KEY_LOST must be 0 or 1",
        "AUDITRAIL_STREAM_BATCH_SECONDS must be a number of seconds",
        "AUDITRAIL_TRUSTED_PROXIES must be a whole number"]
    assert "hunter2" not in str(refused.value) and "c2VjcmV0" not in str(refused.value)


def test_the_signing_key_is_not_among_those_it_replaced() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"AUDITRAIL_SIGNING_KEY": KEY,
                           "AUDITRAIL_PREVIOUS_SIGNING_KEYS": KEY})
    assert str(refused.value) == ("AUDITRAIL_PREVIOUS_SIGNING_KEYS holds AUDITRAIL_SIGNING_KEY "
                                  "itself: list only the keys it replaced")


@pytest.mark.parametrize("variable", ["AUDITRAIL_SECRET_KEY", "AUDITRAIL_PREVIOUS_SECRET_KEYS"])
def test_the_documentations_placeholder_secret_is_refused(variable: str) -> None:
    """Left in an environment file, the example would be a secret anyone can read."""
    base = {"AUDITRAIL_DATABASE_URL": "postgresql+psycopg://db/auditrail",
            "AUDITRAIL_REDIS_URL": "redis://redis:6379/0", "AUDITRAIL_SIGNING_KEY": KEY,
            "AUDITRAIL_SECRET_KEY": "a-real-secret-of-32-random-chars"}
    Settings.from_env(base).check_production_secrets()
    settings = Settings.from_env({**base, variable: "Change-Me-to-32-random-characters"})
    with pytest.raises(SettingsError, match="the documentation's placeholder") as refused:
        settings.check_production_secrets()
    assert "Change-Me" not in str(refused.value)  # a secret is never echoed
