"""The add-token dialog: a masked token field and an optional label, validated before it closes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Label

from tibber_tui.secrets import token_problem

MAX_LABEL_LENGTH = 60


@dataclass(frozen=True, slots=True)
class NewToken:
    """What the dialog returns: the token (never displayed whole) and its label."""

    token: str
    label: str | None


class TokenValidator(Validator):
    """A Tibber token: the same check as ``tibber-tui tokens add`` (``secrets.token_problem``)."""

    def validate(self, value: str) -> ValidationResult:
        problem = token_problem(value)
        return self.success() if problem is None else self.failure(problem[0].upper() + problem[1:] + ".")


class LabelValidator(Validator):
    def validate(self, value: str) -> ValidationResult:
        if len(value.strip()) > MAX_LABEL_LENGTH:
            return self.failure(f"At most {MAX_LABEL_LENGTH} characters.")
        return self.success()


class AddTokenScreen(ModalScreen[NewToken | None]):
    """Dismisses with a ``NewToken`` once the input is valid, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("Add a Tibber API token", classes="dialog-title")
            yield Input(
                placeholder="token (hidden)",
                password=True,
                id="token",
                validators=[TokenValidator()],
                validate_on=["changed", "submitted"],
            )
            yield Input(placeholder="label (optional)", id="label", validators=[LabelValidator()])
            yield Label("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Add", id="add", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#token", Input).focus()

    @on(Input.Changed, "#token")
    def _token_changed(self, event: Input.Changed) -> None:
        # Only complain while typing once the user has typed something; an empty field is not an error yet.
        result = event.validation_result
        message = "" if not event.value or result is None or result.is_valid else result.failure_descriptions[0]
        self.query_one("#error", Label).update(message)

    @on(Input.Submitted, "#token")
    def _token_submitted(self) -> None:
        self.query_one("#label", Input).focus()

    @on(Input.Submitted, "#label")
    @on(Button.Pressed, "#add")
    def _submit(self) -> None:
        token_input = self.query_one("#token", Input)
        label_input = self.query_one("#label", Input)
        for field in (token_input, label_input):
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                self.query_one("#error", Label).update(result.failure_descriptions[0])
                field.focus()
                return
        label = label_input.value.strip() or None
        self.dismiss(NewToken(token_input.value.strip(), label))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
