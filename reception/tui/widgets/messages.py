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
    """A card arrived on one of the terminal's readers, as pcscd reports it (the desk's
    :class:`~reception.cards.ReaderWatch`) or as the demo put it there. ``medium``:
    which reader — ``"card"``, ``"phone"`` (the clinic's NFC reader for smartphones) or
    ``"counter"`` (the staff-held one); ``persona``: whose card the demo placed (a
    trainer's placement starts the check-in at once)."""

    def __init__(self, medium: str = "card", *, persona: str | None = None) -> None:
        super().__init__()
        self.medium = medium
        self.persona = persona


class CardTaken(Message):
    """The card left ``medium``'s reader; None: every reader (the demo takes all its
    cards away at once)."""

    def __init__(self, medium: str | None = None) -> None:
        super().__init__()
        self.medium = medium


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
