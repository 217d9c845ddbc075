"""The settings reader.model and reader.prescription (issue 24 §1; reception/reader_models.py):
their values, garbage refused with the setting's name, the old boolean
electronic_prescriptions still accepted (true = outside) with a note, and what each model
changes in the check-in's questions (the method question's 目視, the card-wait question)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reception.counter_rules import CounterRules
from reception.flow import (
    CardPlaced,
    CheckinFlow,
    InvalidTransition,
    Method,
    MethodChosen,
    NoMethodLeft,
    Route,
    State,
    Variant,
)
from reception.questions import ChooseMedium, ChoosePrescription, medium_question
from reception.reader_models import (
    NO_VISUAL_MESSAGE,
    PHONE_NAME_UNUSED,
    Medium,
    PrescriptionQuestion,
    ReaderModel,
)
from reception.reasons import FallbackReason
from reception.settings import ReaderSettings, SettingsError, load_settings


@pytest.fixture
def no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))


@pytest.mark.usefixtures("no_file")
@pytest.mark.parametrize(
    ("variable", "value", "name"),
    [
        ("RECEPTION_READER__MODEL", "hi-cara", "reader.model"),
        ("RECEPTION_READER__MODEL", "", "reader.model"),
        ("RECEPTION_READER__PRESCRIPTION", "院内", "reader.prescription"),
        ("RECEPTION_READER__PRESCRIPTION", "true", "reader.prescription"),
        ("RECEPTION_READER__ELECTRONIC_PRESCRIPTIONS", "perhaps", "electronic_prescriptions"),
    ],
)
def test_garbage_is_refused_with_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, name: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert name in str(raised.value)


@pytest.mark.usefixtures("no_file")
def test_the_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().reader.model is ReaderModel.CURRENT  # today's behaviour
    assert load_settings().reader.prescription is PrescriptionQuestion.OFF
    monkeypatch.setenv("RECEPTION_READER__MODEL", "next-generation")
    monkeypatch.setenv("RECEPTION_READER__PRESCRIPTION", "inside")
    reader = load_settings().reader
    assert (reader.model, reader.prescription) == ("next-generation", "inside")
    rules = reader.counter_rules()
    assert rules.reader_model is ReaderModel.NEXT_GENERATION
    assert rules.prescriptions is PrescriptionQuestion.INSIDE and rules.electronic_prescriptions


def test_the_old_boolean_is_accepted_with_a_note() -> None:
    old = ReaderSettings(electronic_prescriptions=True)
    assert old.prescription is PrescriptionQuestion.OUTSIDE
    assert any("reader.prescription = outside" in note for note in old.notes())
    assert ReaderSettings(electronic_prescriptions=False).prescription is PrescriptionQuestion.OFF
    both = ReaderSettings(electronic_prescriptions=True, prescription=PrescriptionQuestion.INSIDE)
    assert both.prescription is PrescriptionQuestion.INSIDE
    assert ReaderSettings().notes() == []


@pytest.mark.usefixtures("no_file")
def test_the_old_boolean_contradicting_the_new_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RECEPTION_READER__ELECTRONIC_PRESCRIPTIONS", "true")
    monkeypatch.setenv("RECEPTION_READER__PRESCRIPTION", "off")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "electronic_prescriptions=true contradicts prescription=off" in str(raised.value)


def test_counter_rules_keep_the_old_keyword() -> None:
    assert CounterRules(electronic_prescriptions=True).prescriptions is PrescriptionQuestion.OUTSIDE
    assert not CounterRules().electronic_prescriptions
    inside = CounterRules(prescriptions=PrescriptionQuestion.INSIDE)
    assert inside.electronic_prescriptions  # asked


def test_phone_name_on_a_next_generation_reader_is_said() -> None:
    reader = ReaderSettings(model=ReaderModel.NEXT_GENERATION, phone_name="NFC 00 00")
    assert PHONE_NAME_UNUSED in reader.notes()
    assert ReaderSettings(phone_name="NFC 00 00").notes() == []


def test_the_card_wait_question_per_model() -> None:
    assert medium_question(ReaderModel.NEXT_GENERATION, separate_reader=True) is None
    for model in (ReaderModel.CURRENT, ReaderModel.NO_VISUAL):
        question = medium_question(model, separate_reader=True)
        assert isinstance(question, ChooseMedium) and question.separate_reader
        assert question.accepts(Medium.PHONE) and question.accepts(Medium.CARD)
    assert ChoosePrescription().covers is PrescriptionQuestion.OUTSIDE


def blocked(model: ReaderModel, route: Route = Route.READER) -> CheckinFlow:
    flow = CheckinFlow(route=route, visual_check=model.visual_check)
    flow.apply(CardPlaced(Variant.PHYSICAL))
    flow.pin_tries_left = 0
    return flow


def test_no_visual_never_offers_visual_at_the_reader() -> None:
    assert blocked(ReaderModel.CURRENT).methods() == [Method.FACE, Method.VISUAL]
    assert blocked(ReaderModel.NO_VISUAL).methods() == [Method.FACE]
    counter = blocked(ReaderModel.NO_VISUAL, Route.COUNTER)
    assert Method.VISUAL in counter.methods()  # staff's 目視 at the staff-held reader
    assert "目視" not in blocked(ReaderModel.NO_VISUAL).locked_message().split("（")[0]
    assert NO_VISUAL_MESSAGE in blocked(ReaderModel.NO_VISUAL).locked_message()


def test_no_method_left_goes_to_the_desk_only_when_none_is() -> None:
    flow = blocked(ReaderModel.NO_VISUAL)
    with pytest.raises(Exception, match="NoMethodLeft"):
        flow.apply(NoMethodLeft())  # face is still open
    flow.face_failures = flow.face_tries
    assert flow.apply(NoMethodLeft()) is State.FALLBACK
    assert (flow.message, flow.fallback_reason) == (NO_VISUAL_MESSAGE, FallbackReason.NO_METHOD)


def test_the_service_takes_the_two_values_and_no_third() -> None:
    """院内 sends the same two (no third OQSCD017 value is public): mock_oqs echoes 1 / 2
    and refuses anything else."""
    from pydantic import ValidationError

    from mock_oqs.models import ConsentSubmission

    token = "0" * 32
    for value in ("1", "2"):
        assert ConsentSubmission(token=token, prescription_issue=value).prescription_issue == value
    with pytest.raises(ValidationError, match="prescription_issue"):
        ConsentSubmission(token=token, prescription_issue="3")


def test_a_locked_phone_is_not_sent_to_the_desk_for_want_of_visual() -> None:
    """A smartphone never had 目視 on any model: its locked PIN is not this reader's doing."""
    flow = CheckinFlow(visual_check=False)
    flow.apply(CardPlaced(Variant.ANDROID))
    flow.apply(MethodChosen(Method.PIN))
    flow.pin_tries_left = 0
    flow.state = State.PIN_BLOCKED
    assert flow.methods() == []
    with pytest.raises(InvalidTransition):
        flow.apply(NoMethodLeft())
