"""The 被保険者資格申立書 form, validated field by field before it is filed.

The form says at its top whose reception it acts on (issue 22 §1: a 申立書 for one
patient was saved on another's confirmed reception without a word) and refuses to save
when :func:`reception.target.refusal` says so. Each problem sits beside its field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Label, Select, Static

from reception.declaration import DeclarationError, SelfDeclaration
from reception.errors import InputError, NotFound
from reception.store import Store
from reception.target import ladder_target, refusal
from reception.tui.screens.declaration_fields import (
    CARD_SHOWN,
    CARD_SHOWN_HINT,
    FORM_FIELDS,
    ChoiceSet,
    FormField,
    TypedInput,
)
from reception.tui.text import safe
from reception.tui.widgets.ticks import TickBox

# what the form says when no reception is selected: file_declaration stores it with
# no reception (it waits in 再確認待ち like any other)
NO_RECEPTION = "受付なし: どの受付にも結び付けずに保存します（再確認待ちに入ります）"
SAVE = {"ja": "保存して印刷用PDFを作る", "en": "保存して印刷用PDFを作る Save and print"}
CLOSE = {"ja": "閉じる", "en": "閉じる Close"}
PROMPT = {"ja": "選んでください", "en": "選んでください Choose"}
TITLE = {"ja": "被保険者資格申立書", "en": "被保険者資格申立書 Declaration of insurance"}


class DeclarationScreen(ModalScreen[SelfDeclaration | None]):
    """The 被保険者資格申立書, prefilled from what is known; validated before saving.

    ``store`` and ``reception_id`` name the reception the form acts on (its heading, and
    the refusal on save); ``language`` is the patient's ("en" glosses every label; by
    default the reader panel's); ``save``, when given, files the declaration from a
    thread before the form closes, and an :class:`InputError` it raises is shown at the
    top of the form instead (nothing was saved)."""

    BINDINGS = [
        Binding("escape", "cancel", "閉じる", id="declaration-cancel"),
        # Tab moves the focus as the key arrives. Without priority, the App resolves a
        # binding only after the key has travelled to the focused field and bubbled back
        # through every container's message queue; the keys typed behind it (a scanner,
        # a paste, a fast typist) were meanwhile forwarded to the field it was leaving:
        # 番号 and 枝番 ended in 記号 (issue 22 §4)
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
        Binding("f2", "toggle_language", "日本語/English", id="declaration-language"),
    ]

    def __init__(
        self,
        prefill: dict[str, str],
        *,
        store: Store | None = None,
        reception_id: str | None = None,
        language: str | None = None,
        save: Callable[[SelfDeclaration], object] | None = None,
    ) -> None:
        super().__init__()
        self.prefill = prefill
        self.store = store
        self.reception_id = reception_id
        self.language = language
        self.save = save

    def _language(self) -> str:
        if self.language is None:
            panel = getattr(self.app, "panel", None)
            self.language = "en" if getattr(panel, "language", "ja") == "en" else "ja"
        return self.language

    def heading(self) -> str:
        """The reception and the patient the form acts on, as it stands now."""
        if self.store is None or self.reception_id is None:
            return NO_RECEPTION
        try:
            return ladder_target(self.store, self.reception_id).heading()
        except NotFound:
            return f"受付 {self.reception_id} は見つかりません"

    def compose(self) -> ComposeResult:
        language = self._language()
        form = VerticalScroll(id="declaration-form", classes="dialog")
        form.can_focus = False  # Tab goes field to field; the focused one is scrolled to
        with form:
            yield Static(TITLE[language], id="form-title", classes="title")
            yield Static(safe(self.heading()), id="form-target")
            yield Static("", id="form-refusal", classes="errors form-error")
            yield Static("", id="form-errors", classes="errors form-error")
            yield TickBox(CARD_SHOWN.label(language), id="form-card_shown")
            yield Static(CARD_SHOWN_HINT.label(language), id="form-card_shown-hint")
            yield Static("", id="error-card_shown", classes="errors form-error")
            for field in FORM_FIELDS:
                yield from self._row(field, language)
            with Horizontal(id="form-buttons"):
                yield Button(SAVE[language], id="form-ok", variant="primary")
                yield Button(CLOSE[language], id="form-no")

    def _row(self, field: FormField, language: str) -> ComposeResult:
        with Horizontal(classes="form-row", id=f"row-{field.key}"):
            yield Label(field.label(language), id=f"label-{field.key}", classes="form-label")
            with Vertical(classes="form-value"):
                yield self._widget(field, language)
                yield Static("", id=f"error-{field.key}", classes="errors form-error")

    def _widget(self, field: FormField, language: str) -> Widget:
        value = self.prefill.get(field.key, "")
        ident = f"form-{field.key}"
        if field.kind == "select":
            options = [(c.label(language), c.value) for c in field.choices]
            known = value in {c.value for c in field.choices}
            start = value if known else Select.NULL
            return Select(options, value=start, prompt=PROMPT[language], id=ident)
        if field.kind == "radio":
            return ChoiceSet(field.choices, value=value, language=language, ident=ident)
        return TypedInput(value=value, placeholder=field.placeholder, id=ident)

    def values(self) -> dict[str, str]:
        """What each field holds, as typed (the model strips the blanks around it)."""
        found: dict[str, str] = {}
        for field in FORM_FIELDS:
            widget: Any = self.query_one(f"#form-{field.key}")
            value = widget.value
            found[field.key] = "" if value is Select.NULL or value is None else str(value)
        return found

    def declaration(self) -> SelfDeclaration:
        """The form as a declaration; DeclarationError lists what is wrong, by field."""
        data: dict[str, object] = {k: v for k, v in self.values().items() if v.strip()}
        data["card_shown"] = self.query_one("#form-card_shown", TickBox).value
        return SelfDeclaration.parse(data)

    @on(Button.Pressed, "#form-no")
    def _close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#form-ok")
    def _save(self) -> None:
        self._clear_errors()
        try:
            declaration = self.declaration()
        except DeclarationError as exc:
            self._show_problems(exc)
            return
        why = self._refusal(declaration)
        if why is not None:
            self._refuse(why)
            return
        if self.save is None:
            self.dismiss(declaration)
        else:
            self.query_one("#form-ok", Button).disabled = True
            self._file(declaration)

    def _refusal(self, declaration: SelfDeclaration) -> str | None:
        if self.store is None or self.reception_id is None:
            return None
        try:
            target = ladder_target(self.store, self.reception_id)
        except NotFound:
            return f"受付 {self.reception_id} は見つかりません: 一覧から選び直してください"
        # the heading follows the reception as it is now (another desk may have settled it)
        self.query_one("#form-target", Static).update(safe(target.heading()))
        return refusal(target, name=declaration.name)

    @work(thread=True, exclusive=True, group="declaration", exit_on_error=False)
    def _file(self, declaration: SelfDeclaration) -> None:
        assert self.save is not None
        try:
            self.save(declaration)
        except InputError as exc:  # refused by the domain: nothing was saved
            generic = exc.title == InputError.title
            message = str(exc) if generic else f"{exc.title}: {exc}"
            self.app.call_from_thread(self._refuse, message)
            return
        except Exception as exc:  # the store failed: said on the form, which stays open
            self.app.call_from_thread(self._refuse, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self.dismiss, declaration)

    def _refuse(self, why: str) -> None:
        self.query_one("#form-ok", Button).disabled = False
        box = self.query_one("#form-refusal", Static)
        box.update(safe(f"保存できません: {why}"))
        box.add_class("shown")
        self.query_one(VerticalScroll).scroll_home(animate=False)

    def _clear_errors(self) -> None:
        for box in self.query(".form-error").results(Static):
            box.update("")
            box.remove_class("shown")
        self.query(".form-row").remove_class("has-error")

    def _show_problems(self, exc: DeclarationError) -> None:
        """Each message beside its field; what no field of the form holds, at the top."""
        on_form = {f.key for f in FORM_FIELDS} | {"card_shown"}
        first: Widget | None = None
        for field, messages in exc.by_field().items():
            if field in on_form:
                box = self.query_one(f"#error-{field}", Static)
                first = first or self.query_one(f"#form-{field}")
                self.query(f"#row-{field}").add_class("has-error")
            else:
                box = self.query_one("#form-errors", Static)
                messages = [str(p) for p in exc.found if p.field == field]
            text = "\n".join(f"⚠ {m}" for m in messages)
            previous = str(box.render()) if box.has_class("shown") else ""
            box.update(safe("\n".join(filter(None, [previous, text]))))
            box.add_class("shown")
        if first is not None:
            first.focus()
            self.call_after_refresh(first.scroll_visible, animate=False, top=False)

    def action_toggle_language(self) -> None:
        """F2: the form follows the reader panel's language (the patient's side)."""
        self.language = "ja" if self._language() == "en" else "en"
        toggle = getattr(self.app, "action_toggle_language", None)
        if callable(toggle):
            toggle()
        self._relabel(self.language)

    def _relabel(self, language: str) -> None:
        self.query_one("#form-title", Static).update(TITLE[language])
        self.query_one("#form-card_shown", TickBox).label = CARD_SHOWN.label(language)
        self.query_one("#form-card_shown-hint", Static).update(CARD_SHOWN_HINT.label(language))
        self.query_one("#form-ok", Button).label = SAVE[language]
        self.query_one("#form-no", Button).label = CLOSE[language]
        for field in FORM_FIELDS:
            self.query_one(f"#label-{field.key}", Label).update(field.label(language))
            widget = self.query_one(f"#form-{field.key}")
            if isinstance(widget, ChoiceSet):
                widget.relabel(language)
            elif isinstance(widget, Select):
                value = widget.value
                widget.prompt = PROMPT[language]
                widget.set_options([(c.label(language), c.value) for c in field.choices])
                widget.value = value

    def action_cancel(self) -> None:
        self.dismiss(None)
