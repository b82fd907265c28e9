"""Typed modal dialogs: each dismisses with the value its caller's callback receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

EXPORT_FORMATS = (
    ("JSON (run + leaderboard)", "json"),
    ("CSV (leaderboard)", "csv"),
    ("Architecture strings", "arch"),
    ("PyTorch module (.py)", "torch"),
)
EXTENSIONS = {"json": "json", "csv": "csv", "arch": "txt", "torch": "py"}


class FormInput(Input):
    """An Input that applies its own editing keys (backspace, end, enter...) in the order
    they were typed.

    Textual inserts a typed character in the Input's own handler, but runs a bound key
    only once the key has bubbled up to the App, against whatever is focused by then. In
    a burst of keys (a fast typist, a macro, tmux send-keys) characters overtook the
    edits: ``End BSpace BSpace 10`` left the field empty. Running the binding here keeps
    the order. Tab must move focus in order too: forms bind it with ``FORM_BINDINGS``.
    """

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()  # handled: neither Input's handler nor the App's
                return


#: A form screen's focus keys, run by the App as each key arrives (priority), so keys
#: typed after a Tab go to the next field and not, still queued, to the one it left.
FORM_BINDINGS = [
    Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
    Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
]


def after_typing(screen: Screen, callback: Callable[[], object]) -> None:
    """Call ``callback`` once every form field of ``screen`` has handled the keys already
    sent to it. A priority binding (ctrl+r, ctrl+s) runs as soon as its key arrives,
    while the characters typed just before it may still wait in a field's queue; reading
    the form at once read the old values."""
    fields = list(screen.query(FormInput))
    left = [len(fields)]

    def one_done() -> None:
        left[0] -= 1
        if left[0] == 0:
            callback()

    if not fields:
        callback()
    for box in fields:
        # call_later queues behind the field's pending keys; a closed field has none.
        if not box.call_later(one_done):
            one_done()


@dataclass(frozen=True)
class ExportChoice:
    fmt: str
    path: Path
    top: int | None = None


@dataclass(frozen=True)
class ImportChoice:
    path: Path
    benchmark: str


class ErrorDialog(ModalScreen[None]):
    """One sentence that went wrong; never a traceback."""

    BINDINGS = [Binding("escape,enter", "close", "Close", id="close")]

    def __init__(self, message: str, title: str = "Error") -> None:
        super().__init__(classes="dialog error")
        self.message, self.title_text = message, title

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label(self.title_text, id="title")
            yield Static(self.message, id="message", markup=False)  # quotes user text
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="error", id="ok")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ok").focus()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape,n", "answer(False)", "No", id="no"),
        Binding("y", "answer(True)", "Yes", id="yes"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__(classes="dialog")
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Static(self.question, id="message")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ExportDialog(ModalScreen["ExportChoice | None"]):
    """Choose a format and a path for exporting one run."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+s", "export", "Export", id="export", priority=True),
        *FORM_BINDINGS,
    ]

    def __init__(self, run_id: str, folder: Path | None = None) -> None:
        super().__init__(classes="dialog")
        self.run_id = run_id
        self.folder = Path(folder) if folder else Path.cwd()
        self._answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label(f"Export run {self.run_id}", id="title")
            with Grid(classes="form"):
                yield Label("Format")
                yield Select(EXPORT_FORMATS, value="json", allow_blank=False, id="fmt")
                yield Label("Path")
                yield FormInput(str(self._default_path("json")), id="path")
                yield Label("Top")
                yield FormInput("", placeholder="all", type="integer", id="top")
            yield Static("", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Export", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def _default_path(self, fmt: str) -> Path:
        return self.folder / f"tnao-{self.run_id}.{EXTENSIONS[fmt]}"

    @on(Select.Changed, "#fmt")
    def _fmt_changed(self, event: Select.Changed) -> None:
        # Follow the format in the default name, but keep a name the user typed.
        path = self.query_one("#path", Input)
        if Path(path.value).stem == f"tnao-{self.run_id}":
            path.value = str(self._default_path(str(event.value)))

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def action_export(self) -> None:
        after_typing(self, self._export)

    def _export(self) -> None:
        if self._answered:
            return  # ctrl+s and enter in one burst: one export
        path = self.query_one("#path", Input).value.strip()
        top_text = self.query_one("#top", Input).value.strip()
        if not path:
            self.query_one("#problem", Static).update("Enter a path to write to.")
            return
        top = int(top_text) if top_text.isdigit() and int(top_text) > 0 else None
        fmt = str(self.query_one("#fmt", Select).value)
        self._answered = True
        self.dismiss(ExportChoice(fmt, Path(path).expanduser(), top))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ImportDialog(ModalScreen["ImportChoice | None"]):
    """A path to an official benchmark file (or CSV table) to convert into the cache."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel"), *FORM_BINDINGS]

    def __init__(self, benchmark: str = "nb201", choices: tuple[str, ...] = ("nb201", "nb101")):
        super().__init__(classes="dialog")
        self.benchmark, self.choices = benchmark, choices
        self._answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label("Import benchmark data", id="title")
            with Grid(classes="form"):
                yield Label("Benchmark")
                yield Select(
                    [(c, c) for c in self.choices],
                    allow_blank=False,
                    value=self.benchmark if self.benchmark in self.choices else self.choices[0],
                    id="benchmark",
                )
                yield Label("Path")
                yield FormInput("", placeholder="official file, folder or CSV table", id="path")
            yield Static("", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Import", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path").focus()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def _ok(self) -> None:
        after_typing(self, self._import)

    def _import(self) -> None:
        if self._answered:
            return
        path = self.query_one("#path", Input).value.strip()
        if not path:
            self.query_one("#problem", Static).update("Enter the path of the file to import.")
            return
        bench = str(self.query_one("#benchmark", Select).value)
        self._answered = True
        self.dismiss(ImportChoice(Path(path).expanduser(), bench))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
