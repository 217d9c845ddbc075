"""Filing a 被保険者資格申立書: the printed form first, then one transaction that stores
the declaration with its form and queues it for re-verification.

A kill -9 at any moment leaves either nothing (the staff see the form was not saved) or
a declaration with its PDF — never a declaration whose form was lost on the way. A PDF
that cannot be made (no font, a full disk) does not lose the declaration: it is stored
without one and the reason is returned for the staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reception.declaration import SelfDeclaration
from reception.pdf import FontMissing, render_declaration
from reception.store import Store, new_id


@dataclass(frozen=True)
class FiledDeclaration:
    declaration_id: str
    pdf: Path | None
    pdf_error: str | None  # why there is no PDF (staff-readable), if there is none


def file_declaration(
    store: Store,
    declaration: SelfDeclaration,
    directory: Path,
    *,
    reception_id: str | None = None,
    actor: str = "staff",
    out: Path | None = None,
) -> FiledDeclaration:
    """Print the form into ``directory`` (or to ``out``), then store it in one go."""
    declaration_id = new_id("D")
    pdf: Path | None = None
    error: str | None = None
    try:
        pdf = render_declaration(
            declaration, out or directory / f"{declaration_id}.pdf", reception_id=reception_id
        )
    except (FontMissing, OSError, RuntimeError) as exc:
        error = f"{getattr(exc, 'title', 'PDFを作れませんでした')}: {exc}"
    store.add_declaration(
        declaration, reception_id=reception_id, pdf=pdf, actor=actor, declaration_id=declaration_id
    )
    return FiledDeclaration(declaration_id, pdf, error)
