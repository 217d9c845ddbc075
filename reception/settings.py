"""Settings of the reception terminal: a TOML file plus environment variables.

Sources, strongest first: arguments given to :class:`ReceptionSettings` in code,
environment variables (prefix ``RECEPTION_``, nested with ``__``, e.g.
``RECEPTION_OQS__READ_TIMEOUT=5``), the TOML file, the defaults below. The TOML
file is ``reception.toml`` in the platform's config directory, or the path in
``RECEPTION_CONFIG``; a missing file is fine, a broken one is an error that names
the file and the line.

Example ``reception.toml``::

    language = "ja"

    [oqs]
    url = "https://127.0.0.1:8443"
    client_cert = "/etc/reception/terminal/cert.pem"
    client_key = "/etc/reception/terminal/key.pem"
    ca = "/etc/reception/facility-ca/cert.pem"
    read_timeout = 10

    [face]
    threshold = 0.82
    tries = 3
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError as SourceError

from reader.clock import today_jst
from reader.transport import DEFAULT_DEADLINE_SECONDS
from reception.errors import InputError
from reception.flow import ConsentFlow, CounterRules
from reception.home_visit.mode import Mode
from reception.reader_models import (
    MODEL_HELP,
    PHONE_NAME_UNUSED,
    PRESCRIPTION_HELP,
    PrescriptionQuestion,
    ReaderModel,
)
from reception.shared_folder import FilePrivacy, resolve_group

APP_NAME = "myna-reception"
ENV_CONFIG = "RECEPTION_CONFIG"


class SettingsError(InputError):
    """Settings that cannot be used, with a message that says where and why."""

    title = "設定エラー"


class OqsSettings(BaseModel):
    """How to reach the online qualification service."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="https://host:port of the service")
    client_cert: Path | None = Field(default=None, description="terminal certificate (PEM)")
    client_key: Path | None = Field(default=None, description="its private key (PEM)")
    ca: Path | None = Field(default=None, description="CA that signed the server certificate")
    connect_timeout: float = Field(default=3.0, gt=0, le=60)
    read_timeout: float = Field(default=10.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=5, description="for idempotent requests only")
    breaker_failures: int = Field(
        default=3, ge=1, le=100, description="consecutive failures that open the breaker"
    )
    breaker_cooldown: float = Field(
        default=30.0, gt=0, le=3600, description="seconds before one trial request"
    )
    keepalive: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="seconds an idle connection is kept for the next request (0: a new "
        "connection, with a resumed TLS session, every request)",
    )

    @model_validator(mode="after")
    def _key_with_cert(self) -> OqsSettings:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        if self.url is not None and not self.url.startswith("https://"):
            raise ValueError(f"url must start with https:// (got {self.url!r})")
        return self


class FaceSettings(BaseModel):
    """The simulated face match."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.82, gt=0, lt=1, description="similarity to accept")
    tries: int = Field(default=3, ge=1, le=10, description="failed captures before PIN/目視")
    terminal_certificate: Path | None = Field(
        default=None,
        description="the terminal's card-verifiable certificate for the face path (signed by "
        "the facility CA); without it the face path is not offered",
    )


class TransportKind(enum.StrEnum):
    PCSC = "pcsc"
    LOOPBACK = "loopback"


class ReaderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transport: TransportKind = TransportKind.PCSC
    name: str | None = Field(default=None, description="PC/SC reader (default: the first)")
    extended_length: bool = False
    answer_timeout: float = Field(
        default=DEFAULT_DEADLINE_SECONDS,
        gt=0,
        le=120,
        description="seconds the card may take to answer one command, all its pieces "
        "included, and to let itself be connected; one card operation (identifying the "
        "card, a PIN authentication) may take twice that (a genuine card signs within a "
        "second): a card silent or slower ends the check-in as a card that cannot be "
        "read, pending for the ladder",
    )
    phone_name: str | None = Field(
        default=None,
        description="a second PC/SC reader for smartphones (many clinics add a generic NFC "
        "reader); none: phones are held to the card reader",
    )
    counter_name: str | None = Field(
        default=None,
        description="the staff-held PC/SC reader of the 居宅同意取得型 route (when the "
        "face-recognition reader fails or the patient cannot operate it); none: not offered",
    )
    consent_flow: ConsentFlow = Field(
        default=ConsentFlow.CURRENT,
        description="2024-10: まとめて同意, 限度額 without a question (today's readers); "
        "pre-2024: each item and the 限度額 question (old training material only)",
    )
    model: ReaderModel = Field(default=ReaderModel.CURRENT, description=MODEL_HELP)
    prescription: PrescriptionQuestion = Field(
        default=PrescriptionQuestion.OFF, description=PRESCRIPTION_HELP
    )
    electronic_prescriptions: bool | None = Field(
        default=None,
        description="the old form of `prescription` (kept for compatibility): true = "
        "outside, false = off; say `prescription` instead",
    )

    public_expense_pilot: bool = Field(
        default=False,
        description="the clinic's area runs 公費 by card (the PMH pilot): the reader asks "
        "「医療費助成の各種受給者証を利用しますか」; off, paper 受給者証 stay the rule",
    )

    @model_validator(mode="after")
    def _one_prescription_setting(self) -> ReaderSettings:
        """The old boolean, where given, says the same as `prescription` or is refused."""
        old = self.electronic_prescriptions
        if old is None:
            return self
        if "prescription" not in self.model_fields_set:
            self.prescription = PrescriptionQuestion.OUTSIDE if old else PrescriptionQuestion.OFF
        elif old != self.prescription.asked:
            raise ValueError(
                f"electronic_prescriptions={str(old).lower()} contradicts "
                f"prescription={self.prescription.value}: set prescription alone "
                "(off, outside or inside)"
            )
        return self

    def notes(self) -> list[str]:
        """What staff should know of these settings (each fine on its own)."""
        said: list[str] = []
        if self.model.reads_phones and self.phone_name is not None:
            said.append(PHONE_NAME_UNUSED)
        if self.electronic_prescriptions is not None:
            said.append(
                "reader.electronic_prescriptions は古い設定です: reader.prescription = "
                f"{self.prescription.value} として扱います"
            )
        return said

    def counter_rules(self) -> CounterRules:
        return CounterRules(
            self.consent_flow,
            public_expense_pilot=self.public_expense_pilot,
            prescriptions=self.prescription,
            reader_model=self.model,
        )


AnswerForm = Literal["xml", "zip", "zip-encrypted"]
# prefixes the real terminal never encrypts, whatever its setting says (the public
# kitting script ONS_Reconfig_Encrypt; reception.link.zipped says more)
NEVER_ENCRYPTED = (
    "EPS",
    "OQSmutic",
    "OQSmuhvq",
    "OQSmuonq",
    "OQSsihvq",
    "OQSsionq",
    "OQSsihvd",
    "OQSsiurl",
    "OQSsiinq",
    "OQSsiupd",
    "PMHsimsm",
)
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,40}")


class LinkSettings(BaseModel):
    """The folder interface for clinic software (oqs.md §7)."""

    model_config = ConfigDict(extra="forbid")

    folder: Path | None = Field(
        default=None, description="the shared folder (req/, res/, face/); none: no link"
    )

    remove_done: bool = Field(
        default=False,
        description="remove answered requests instead of moving them to req/done/",
    )
    watch_step_ms: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="milliseconds the watcher of req/ waits between looks: a request is "
        "answered about that long after it is written, and each look wakes the terminal "
        "(1 ms: ~2 % of a core while idle; a training room's desks use 50)",
    )
    group: str | None = Field(
        default=None,
        description="the group (name or number) of clinic software that runs as another "
        "user: answers in res/, card confirmations in face/ and exports are then 0640 with "
        "this group (RECEPTION_LINK__GROUP=recept); none: 0600, for this user only. This "
        "user must be a member of the group",
    )

    answer_form: dict[str, AnswerForm] = Field(
        default_factory=dict,
        description="per file-name prefix of a request, the form of its answer: xml (the "
        "real default), zip, or zip-encrypted (a password-protected ZIP, as the real "
        "terminal's encrypt.conf sets 'e'); the longest prefix a request's name starts "
        'with wins, e.g. RECEPTION_LINK__ANSWER_FORM=\'{"OQSmuquc02": "zip-encrypted"}\'',
    )
    zip_password: SecretStr | None = Field(
        default=None,
        description="the password of zip-encrypted answers (RECEPTION_LINK__ZIP_PASSWORD); "
        "never shown or logged",
    )
    zip_password_file: Path | None = Field(
        default=None,
        description="a file holding that password (its first line), instead of the variable",
    )

    @field_validator("group")
    @classmethod
    def _usable_group(cls, value: str | None) -> str | None:
        if value is not None:
            resolve_group(value)  # ValueError says which group, and why not
        return value

    @model_validator(mode="after")
    def _usable_forms(self) -> LinkSettings:
        for prefix, form in self.answer_form.items():
            if not _PREFIX.fullmatch(prefix):
                raise ValueError(
                    f"answer_form: {prefix!r} is not a file-name prefix (letters, digits and _, "
                    "e.g. OQSmuquc02)"
                )
            if form == "zip-encrypted" and prefix.startswith(NEVER_ENCRYPTED):
                raise ValueError(
                    f"answer_form: {prefix} answers are never encrypted (the real terminal "
                    f"exempts {', '.join(NEVER_ENCRYPTED)}): use zip or xml"
                )
        encrypted = sorted(p for p, f in self.answer_form.items() if f == "zip-encrypted")
        if encrypted and self.password() is None:
            raise ValueError(
                f"answer_form: {', '.join(encrypted)} zip-encrypted, but no password: set "
                "zip_password_file or RECEPTION_LINK__ZIP_PASSWORD"
            )
        return self

    def password(self) -> bytes | None:
        """The password of encrypted answers (the file's first line, else the variable);
        ValueError when the file cannot be read or is empty — its content never said."""
        if self.zip_password_file is not None:
            try:
                lines = self.zip_password_file.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise ValueError(f"zip_password_file {self.zip_password_file}: {reason}") from None
            if not lines or not lines[0].strip():
                raise ValueError(f"zip_password_file {self.zip_password_file} is empty")
            return lines[0].strip().encode("utf-8")
        if self.zip_password is not None and self.zip_password.get_secret_value():
            return self.zip_password.get_secret_value().encode("utf-8")
        return None

    @property
    def privacy(self) -> FilePrivacy:
        """How files with personal data are written: 0600, or 0640 with ``group``."""
        return FilePrivacy(None if self.group is None else resolve_group(self.group))

    @property
    def face_folder(self) -> Path | None:
        """Where card confirmations are written as they complete (oqs.md §7)."""
        return None if self.folder is None else self.folder / "face"


class ReceptionSettings(BaseSettings):
    """Everything the terminal can be told."""

    model_config = SettingsConfigDict(
        env_prefix="RECEPTION_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    language: str = Field(default="ja", pattern="^(ja|en)$")
    mode: Mode = Field(
        default=Mode.FULL,
        description="full, or limited: 資格確認限定型 (柔道整復・あはき, 助産所, facilities not "
        "obliged to run OQS) — qualification only: no consents asked or sent, no records "
        "(reception/home_visit/mode.py)",
    )
    today: dt.date | None = Field(
        default=None,
        description="the world's day for the rules that depend on the day (oqs.md §8: the "
        "expired 保険証 until 2026-03-31, the 後期高齢者's 資格確認書, a 資格情報のお知らせ's "
        "validity): a trainer plays any date with `reception --today` (the demo: the world's "
        "day); default: the clinic's day (JST)",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)),
        description="the store, the 申立書 PDFs and the link's journal (link-journals/: what "
        "it answered, kept out of the shared folder)",
    )
    oqs: OqsSettings = OqsSettings()
    face: FaceSettings = FaceSettings()
    reader: ReaderSettings = ReaderSettings()
    link: LinkSettings = LinkSettings()

    @property
    def store_path(self) -> Path:
        return self.data_dir / "reception.sqlite"

    def counter_rules(self) -> CounterRules:
        """The reader's rules, qualification only in the 資格確認限定型 ``mode``."""
        rules = self.reader.counter_rules()
        return dataclasses.replace(rules, qualification_only=self.mode is Mode.LIMITED)

    def rules_day(self) -> dt.date:
        """The day whose rules apply: :attr:`today` where set, else the clinic's day."""
        return self.today or today_jst()

    @property
    def declarations_dir(self) -> Path:
        return self.data_dir / "declarations"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, config_path()))


def config_path() -> Path:
    override = os.environ.get(ENV_CONFIG)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "reception.toml"


def load_settings(**overrides: Any) -> ReceptionSettings:
    """The settings, or :class:`SettingsError` naming the file or variable at fault."""
    path = config_path()
    if path.exists():
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read: {exc}") from None
    try:
        return ReceptionSettings(**overrides)
    except SourceError as exc:  # a value that does not even parse (JSON of a nested variable)
        found = re.search(r'field "(\w+)" from source "(\w+)"', str(exc))
        field, source = found.groups() if found else ("?", "?")
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        where = (
            f"environment variable RECEPTION_{field.upper()}"
            if source.startswith("Env")
            else f"{path}: {field}"
        )
        raise SettingsError(
            f"{where} does not parse (a nested setting is JSON, e.g. "
            f'RECEPTION_OQS=\'{{"url": "https://…"}}\', or use RECEPTION_OQS__URL){cause}'
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(
            f"invalid settings (file {path}, environment RECEPTION_*): {problems}"
        ) from None
