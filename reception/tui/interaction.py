"""The check-in's questions, answered on screen.

:class:`ScreenInteraction` implements :class:`reception.checkin.Interaction`: each
question shows a view of the reader panel (or, for 目視確認, a prompt on the staff
console) and waits for the answer the widgets give through :meth:`answer`. The
check-in runs in an async worker on the app's loop, so showing a view is a plain call;
card I/O inside the check-in runs in threads and never blocks the screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from reader.errors import CardRemoved
from reception.camera import FaceScenario
from reception.flow import CheckinFlow, ConsentsGiven, Method, Prescription

ShowView = Callable[..., None]


class ScreenInteraction:
    def __init__(self, show: ShowView) -> None:
        self.show = show
        self._pending: asyncio.Future[Any] | None = None
        self.waiting_for: str | None = None
        self._typed_ahead: Method | None = None

    def type_ahead(self, method: Method) -> None:
        """Staff type fast: a method key pressed while the check-in is on its way to the
        method question (reading the card, or the screen just switching) answers that
        question when it opens — if the card allows the method."""
        self._typed_ahead = method

    def forget_typed_ahead(self) -> None:
        self._typed_ahead = None

    async def _ask(self, view: str, flow: CheckinFlow, **context: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending = future
        self.waiting_for = view
        self.show(view, flow, **context)
        try:
            return await future
        finally:
            self._pending = None
            self.waiting_for = None

    def answer(self, value: Any) -> bool:
        """Give the answer to the question on screen; False if none is open."""
        future = self._pending
        if future is None or future.done():
            return False
        future.set_result(value)
        return True

    def card_removed(self) -> None:
        """The card left the reader while a question was open: the check-in ends as
        CARD_REMOVED (and is recorded), as when a command fails for the same reason."""
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(CardRemoved("the card was removed from the reader"))

    async def choose_method(self, flow: CheckinFlow) -> Method | None:
        early, self._typed_ahead = self._typed_ahead, None
        if early is not None and early in flow.methods():
            self.show("method", flow, methods=flow.methods())
            return early
        answer: Method | None = await self._ask("method", flow, methods=flow.methods())
        return answer

    async def enter_pin(self, flow: CheckinFlow, tries_left: int) -> str | None:
        answer: str | None = await self._ask("pin", flow, tries_left=tries_left)
        return answer

    async def capture_face(self, flow: CheckinFlow) -> FaceScenario | None:
        answer: FaceScenario | None = await self._ask("face", flow)
        return answer

    async def confirm_visually(self, flow: CheckinFlow) -> str | None:
        answer: str | None = await self._ask("visual", flow)
        return answer

    async def give_consents(self, flow: CheckinFlow) -> ConsentsGiven | None:
        answer: ConsentsGiven | None = await self._ask("consents", flow)
        return answer

    async def choose_prescription(self, flow: CheckinFlow) -> Prescription | None:
        answer: Prescription | None = await self._ask("prescription", flow)
        return answer

    async def offer_registration(self, flow: CheckinFlow) -> bool | None:
        answer: bool | None = await self._ask("register", flow)
        return answer

    async def use_subsidies(self, flow: CheckinFlow) -> bool | None:
        answer: bool | None = await self._ask("subsidy", flow)
        return answer

    def progress(self, flow: CheckinFlow, doing: str) -> None:
        self.show("working", flow, doing=doing)
