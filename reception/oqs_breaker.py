"""The OQS client's circuit breaker: after ``breaker_failures`` consecutive unavailable,
timeout, 5xx or garbage answers, calls fail at once with :class:`OqsCircuitOpen` for
``breaker_cooldown`` seconds (an outage becomes an immediate fallback offer, not one
timeout per patient); then one trial request decides."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

from reception.oqs_errors import OqsCircuitOpen

log = logging.getLogger("reception.oqs_client")  # where its warning has always been logged


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Consecutive-failure breaker with a cool-down and a single trial request."""

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before(self) -> None:
        state = self.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._trial_running):
            assert self.opened_at is not None
            wait = max(0.0, self.cooldown - (self.clock() - self.opened_at))
            raise OqsCircuitOpen(
                f"the service failed {self.failures} times in a row; next try in {wait:.0f} s"
            )
        if state is BreakerState.HALF_OPEN:
            self._trial_running = True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = self.clock()
            log.warning("OQS circuit breaker open after %d failures", self.failures)
