"""The request kinds of the folder interface, one module each (oqs.md §7). Each module's
docstring says what its request and answer shapes rest on (which public clinic program
writes or reads them, and where the simulator had to choose); each has ``HANDLERS``:
the file-name prefix of a request → its :data:`~reception.link.terms.Handler`.

- :mod:`~reception.link.kinds.qualification`: ``OQSsiquc01`` (one query by number);
- :mod:`~reception.link.kinds.reference`: ``OQSsiimm01``, ``OQSmuimm01/02`` (照会番号);
- :mod:`~reception.link.kinds.records`: ``YZKsiquc01``, ``TKKsiquc01`` (薬剤・特定健診情報);
- :mod:`~reception.link.kinds.bulk`: ``OQSmuquc01/02`` (一括照会), and the answer of every
  bulk kind's phase 02 (``BulkConfirmUnit``);
- :mod:`~reception.link.kinds.period`: ``OQSmuhvq``, ``OQSmuonq``, ``OQSmutic`` (bulk by
  period: 訪問診療, オンライン診療, 医療扶助).
"""

from reception.link.kinds import bulk, period, qualification, records, reference
from reception.link.terms import Handler

HANDLERS: dict[str, Handler] = {
    **qualification.HANDLERS,
    **reference.HANDLERS,
    **records.HANDLERS,
    **bulk.HANDLERS,
    **period.HANDLERS,
}
