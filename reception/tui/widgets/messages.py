"""What the staff console's panes tell the app (past tense: what happened)."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState


class ReceptionSelected(Message):
    """Staff picked a reception in the day's list."""

    def __init__(self, reception_id: str) -> None:
        super().__init__()
        self.reception_id = reception_id


class ReceptionsChanged(Message):
    """The store changed (a rung, a result, a declaration, a re-verification): lists and
    detail are shown anew."""

    def __init__(self, reception_id: str | None = None) -> None:
        super().__init__()
        self.reception_id = reception_id


class CounterRequested(Message):
    """Staff chose the 居宅同意取得型 route for a pending reception."""

    def __init__(self, reception_id: str) -> None:
        super().__init__()
        self.reception_id = reception_id


class DeveloperNote(Message):
    """A line for the developer view (views shown, service requests, failures' detail)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class CardPlaced(Message):
    """Demo: a persona's card is on the reader (or could not be placed: ``error``)."""

    def __init__(self, persona: str, error: str | None = None, medium: str = "card") -> None:
        super().__init__()
        self.persona = persona
        self.error = error
        self.medium = medium  # which reader it went to: "card", or "phone"


class CardTaken(Message):
    """Demo: the card left the reader."""


class WorkerFailed(Message):
    """A worker of a pane crashed (Worker.StateChanged does not bubble: panes pass it up,
    and the app reports every failure in one place)."""

    def __init__(self, worker: Worker[object]) -> None:
        super().__init__()
        self.worker = worker


class ReportsFailedWorkers(Widget):
    """Mixed into every widget that runs workers: their crashes go up as WorkerFailed."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.post_message(WorkerFailed(event.worker))
