"""Settings: TOML file, environment (nested, prefixed), clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reception.settings import ENV_CONFIG, SettingsError, TransportKind, load_settings


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "reception.toml"
    monkeypatch.setenv(ENV_CONFIG, str(path))
    for name in (
        "RECEPTION_OQS__READ_TIMEOUT",
        "RECEPTION_FACE__TRIES",
        "RECEPTION_LANGUAGE",
        "RECEPTION_READER__ANSWER_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    return path


def test_defaults_without_a_file(config: Path) -> None:
    settings = load_settings()
    assert settings.oqs.read_timeout == 10.0 and settings.face.tries == 3
    assert settings.reader.transport is TransportKind.PCSC and settings.language == "ja"


def test_file_then_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_text(
        'language = "en"\n[oqs]\nurl = "https://oqs.example:8443"\nread_timeout = 4\n'
        '[face]\ntries = 5\n[reader]\ntransport = "loopback"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("RECEPTION_OQS__READ_TIMEOUT", "2.5")
    settings = load_settings()
    assert settings.language == "en" and settings.oqs.url == "https://oqs.example:8443"
    assert settings.oqs.read_timeout == 2.5  # the environment wins over the file
    assert settings.face.tries == 5 and settings.reader.transport is TransportKind.LOOPBACK


def test_broken_toml_names_the_file(config: Path) -> None:
    config.write_text("[oqs\nurl = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"reception\.toml: not valid TOML.*line 1"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[oqs]\nurl = "http://plain"\n', "https://"),
        ("[oqs]\nread_timeout = -1\n", "oqs.read_timeout"),
        ("[face]\nthreshold = 3\n", "face.threshold"),
        ('[face]\ncolour = "blue"\n', "face.colour"),
        ('language = "fr"\n', "language"),
        ('[reader]\ntransport = "bluetooth"\n', "reader.transport"),
        ("[reader]\nanswer_timeout = 0\n", "reader.answer_timeout"),
    ],
)
def test_bad_values_say_which(config: Path, text: str, fragment: str) -> None:
    config.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=fragment.replace(".", r"\.")):
        load_settings()


def test_bad_environment_value(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEPTION_FACE__TRIES", "many")
    with pytest.raises(SettingsError, match=r"face\.tries"):
        load_settings()


def test_the_cards_answer_timeout(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """How long a check-in waits for one answer of the card (issue 19): 5 s by default."""
    assert load_settings().reader.answer_timeout == 5.0
    monkeypatch.setenv("RECEPTION_READER__ANSWER_TIMEOUT", "2.5")
    assert load_settings().reader.answer_timeout == 2.5
