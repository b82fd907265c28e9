"""Typed modal dialogs: each dismisses with the value its caller's callback receives."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.suggester import Suggester
from textual.widgets import Button, Footer, Input, Label, Select, Static

EXPORT_FORMATS = (
    ("JSON (run + leaderboard)", "json"),
    ("CSV (leaderboard)", "csv"),
    ("Architecture strings", "arch"),
    ("PyTorch module (.py)", "torch"),
)
EXTENSIONS = {"json": "json", "csv": "csv", "arch": "txt", "torch": "py"}


def with_extension(path: str, fmt: str) -> str:
    """``path`` with the extension of export format ``fmt``: an export extension (or
    none) is replaced, any other kept and the format's added."""
    if not path.strip():
        return path
    p = Path(path)
    if p.suffix.lstrip(".") in EXTENSIONS.values() or not p.suffix:
        return str(p.with_suffix(f".{EXTENSIONS[fmt]}"))
    return f"{path}.{EXTENSIONS[fmt]}"


class PathSuggester(Suggester):
    """Completes a typed path with the first file or folder that starts so (folders end
    with a slash, so the next part can be typed right away)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        typed = Path(value).expanduser()
        folder, stem = (typed, "") if value.endswith("/") else (typed.parent, typed.name)
        try:
            names = sorted(
                p.name + ("/" if p.is_dir() else "")
                for p in folder.iterdir()
                if p.name.startswith(stem) and (stem.startswith(".") or not p.name.startswith("."))
            )
        except OSError:
            return None
        names = [n for n in names if n.rstrip("/") != stem or n.endswith("/")]
        if not names:
            return None
        return value + names[0][len(stem) :]


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
        # an underscore, not a hyphen: the torch export is a module to import
        return self.folder / f"tnao_{self.run_id}.{EXTENSIONS[fmt]}"

    @on(Select.Changed, "#fmt")
    def _fmt_changed(self, event: Select.Changed) -> None:
        # The file's extension follows the format (a torch module in a .json file, it
        # was), the name the user typed stays.
        path = self.query_one("#path", Input)
        path.value = with_extension(path.value, str(event.value))

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def action_export(self) -> None:
        after_typing(self, self._export)

    def _export(self) -> None:
        if self._answered:
            return  # ctrl+s and enter in one burst: one export
        path = self.query_one("#path", Input).value.strip()
        top_text = self.query_one("#top", Input).value.strip()
        problem = self.query_one("#problem", Static)
        if not path:
            problem.update("Enter a path to write to.")
            self.query_one("#path").focus()
            return
        if top_text and not (top_text.isdigit() and int(top_text) > 0):
            problem.update(
                f"Top must be a whole number of at least 1, or blank for all; got '{top_text}'."
            )
            self.query_one("#top").focus()
            return
        top = int(top_text) if top_text else None
        fmt = str(self.query_one("#fmt", Select).value)
        choice = ExportChoice(fmt, Path(path).expanduser(), top)
        self._answered = True
        if choice.path.is_file():

            def answer(yes: bool | None) -> None:
                if yes:
                    self.dismiss(choice)
                else:
                    self._answered = False
                    self.query_one("#path").focus()

            self.app.push_screen(
                ConfirmDialog(f"{choice.path} exists. Overwrite it?", yes="Overwrite"), answer
            )
            return
        self.dismiss(choice)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ImportDialog(ModalScreen["ImportChoice | None"]):
    """A path to an official benchmark file (or CSV table) to convert into the cache."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel"), *FORM_BINDINGS]

    def __init__(
        self,
        benchmark: str = "nb201",
        choices: tuple[str, ...] = ("nb201", "nb101"),
        path: str = "",
    ):
        super().__init__(classes="dialog")
        self.benchmark, self.choices, self.path = benchmark, choices, path
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
                yield FormInput(
                    self.path,
                    placeholder="official file, folder or CSV table",
                    suggester=PathSuggester(),
                    id="path",
                )
            yield Static(
                Text("→ at the end of the path completes it (files and folders)", style="dim"),
                id="path-hint",
            )
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
        if not Path(path).expanduser().exists():
            # said here, with the path kept to correct it
            self.query_one("#problem", Static).update(f"{path} does not exist.")
            return
        bench = str(self.query_one("#benchmark", Select).value)
        self._answered = True
        self.dismiss(ImportChoice(Path(path).expanduser(), bench))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def arch_lines(arch: str, width: int) -> list[str]:
    """``arch`` cut into lines of at most ``width`` characters between its tokens (an
    NB201 cell's edges ``|op~i|``, a node ending in ``+``; else after a space or comma),
    never inside one (a token longer than a line is cut where it must)."""
    if width <= 0 or len(arch) <= width:
        return [arch]
    tokens = re.findall(r"\|?[^|+]+\|\+?", arch)
    if "".join(tokens) != arch:
        tokens = re.findall(r"[^ ,]*[ ,]*", arch)
    lines = [""]
    for tok in tokens:
        if lines[-1] and len(lines[-1]) + len(tok) > width:
            lines.append("")
        lines[-1] += tok
    return [cut[i : i + width] for cut in lines for i in range(0, max(len(cut), 1), width)]


class ArchDialog(ModalScreen[None]):
    """One row of a leaderboard in full: the whole architecture string (``c`` copies it)
    and every number the row has."""

    BINDINGS = [
        Binding("escape,enter", "close", "Close", id="close"),
        Binding("c", "copy", "Copy", id="copy"),
    ]

    def __init__(self, title: str, arch: str, facts: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog")
        self.title_text, self.arch, self.facts = title, arch, facts

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            yield Label(self.title_text, id="title")
            yield Static("\n".join(arch_lines(self.arch, 62)), id="arch-full")
            yield Static(Text("\n".join(f"{k:<12} {v}" for k, v in self.facts)), id="arch-facts")
            with Horizontal(classes="buttons"):
                yield Button("Copy (c)", id="copy")
                yield Button("Close", variant="primary", id="ok")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ok").focus()

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.arch)
        self.notify("Copied the architecture string.")

    @on(Button.Pressed, "#ok")
    def action_close(self) -> None:
        self.dismiss(None)
