"""Bulk by period: ``OQSmuhvq`` (訪問診療), ``OQSmuonq`` (オンライン診療), ``OQSmutic``
(医療扶助). (To be made: issue 23.)"""

from __future__ import annotations

from reception.link.terms import Handler

HANDLERS: dict[str, Handler] = {}
