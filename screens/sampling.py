"""Guide step 2: sample size, budget, seed (and the run's other sizes); start the run.

While the sample stage runs: its progress and the distribution of the sampled accuracies.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Input, Label, ProgressBar, Select, Static

from tnao_app import catalogue
from tnao_app.config import DEVICES, Config
from tnao_app.errors import ConfigError

from .dialogs import FORM_BINDINGS, FormInput, after_typing
from .guide import GuideScreen
from .state import RunState, budget_note
from .widgets import SampleHistogram, set_text

#: the form's whole-number fields: id -> (label, config section, config field)
FIELDS = {
    "budget": ("Budget", "run", "budget"),
    "n_labelled": ("Sample size", "sample", "n_labelled"),
    "seed": ("Seed", "run", "seed"),
    "epochs": ("Epochs", "train", "epochs"),
    "particles": ("Particles", "search", "particles"),
    "generations": ("Generations", "search", "generations"),
}
#: the whole-number fields only a method with a model and rounds (TNAO, NAO) uses
MODEL_FIELDS = ("n_labelled", "epochs", "particles", "generations")

#: fields left blank for an automatic value (0 in the config), with the placeholder
AUTO_FIELDS = {"n_labelled": "auto"}

#: one line per field, shown under the form for the focused one
HINTS = {
    "method": "",  # the method's own summary (the catalogue's)
    "budget": "Distinct benchmark queries the run may make, the sampled ones included.",
    "n_labelled": "Architectures sampled and queried to train the model; blank: automatic "
    "(20, or 30 on a 12-epoch signal).",
    "seed": "Same seed, same config, same benchmark: the same result.",
    "epochs": "Training epochs of the first round's model (later rounds fine-tune a few "
    "more); with the pretrained body (train.stage1 cached) those of its head.",
    "particles": "Swarm size of the competitive swarm search (even).",
    "generations": "Swarm generations per round.",
    "objectives": "Several objectives, '-' to minimise: valid,-flops (valid = the search "
    "signal; params, flops or a metric column); blank: the search signal alone.",
    "constraints": "Limits on cost columns, known without a query: params<=0.5,flops<=100; "
    "a cell over a limit is never queried. Blank: none.",
    "device": "auto: CUDA when there is a GPU, else the CPU.",
    "name": "A name to find the run by, on Home and in 'tnao history' (optional).",
    "config": "A JSON config file (sections, as 'tnao run --config'); it fills this form.",
}


class FormError(ConfigError):
    """A bad form value: one sentence, and the field to put the cursor back in."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def whole_number(label: str, text: str, field: str) -> int:
    """``text`` as an int; a sentence naming the field otherwise (never dropping the
    letters of '1a2' and running with 12)."""
    if not re.fullmatch(r"[+-]?\d+", text):
        raise FormError(f"{label} must be a whole number, got '{text}'.", field)
    return int(text)


def config_name(key: str, name: str, stage1: object) -> str:
    """The config field form field ``key`` edits: Epochs is the first model's training,
    which on a pretrained body ("cached" stage 1, the default) is ``head_epochs``."""
    return "head_epochs" if key == "epochs" and stage1 == "cached" else name


def field_of(message: str) -> str | None:
    """The form field a config error names (the first one mentioned), if any."""
    low = message.lower()
    hits = [
        (low.find(word), key)
        for key, (label, _section, name) in FIELDS.items()
        for word in (name, label.lower())
        if word in low
    ]
    return min(hits)[1] if hits else None


class SamplingScreen(GuideScreen):
    STEP = "sampling"
    STAGES = ("sample",)
    BINDINGS = [Binding("ctrl+r", "start", "Start run", id="start", priority=True), *FORM_BINDINGS]

    def __init__(self) -> None:
        super().__init__()
        self._starting = False  # a start waits for the fields' pending keys

    def body(self) -> ComposeResult:
        cfg = self.tnao.base_config()
        with Horizontal(id="sampling-body"):
            with Vertical(id="run-form"):
                yield Label("Run settings", classes="section")
                with Grid(classes="form"):
                    yield Label("Method")
                    # every method of the catalogue (a new one shows without a change here)
                    yield Select(
                        [(m, m) for m in catalogue.METHODS],
                        value=cfg.run.method if cfg.run.method in catalogue.CATALOGUE else "tnao",
                        allow_blank=False,
                        id="f-method",
                    )
                    for key, (label, section, name) in FIELDS.items():
                        yield Label(label)
                        name = config_name(key, name, cfg.train.stage1)
                        value = getattr(getattr(cfg, section), name)
                        if key in AUTO_FIELDS and value == 0:  # blank: the run picks
                            yield FormInput("", placeholder=AUTO_FIELDS[key], id=f"f-{key}")
                        else:
                            yield FormInput(str(value), id=f"f-{key}")
                    yield Label("Objectives")
                    yield FormInput(
                        cfg.goal.objectives, placeholder="the search signal", id="f-objectives"
                    )
                    yield Label("Constraints")
                    yield FormInput(
                        cfg.goal.constraints, placeholder="none (params<=0.5)", id="f-constraints"
                    )
                    yield Label("Device")
                    yield Select(
                        [(d, d) for d in DEVICES],
                        value=cfg.run.device if cfg.run.device in DEVICES else "auto",
                        allow_blank=False,
                        id="f-device",
                    )
                    yield Label("Name")
                    yield FormInput(cfg.run.name, placeholder="optional", id="f-name")
                    yield Label("Config file")
                    yield FormInput("", placeholder="optional JSON", id="f-config")
                yield Static("", id="field-hint")
                yield Static("", id="sample-summary")
            with Vertical(id="sample-right"):
                yield ProgressBar(id="sample-progress", show_eta=False)
                yield SampleHistogram(id="sample-hist")

    @property
    def method(self) -> str:
        return str(self.query_one("#f-method", Select).value)

    def config_file(self) -> dict:
        """The sections of the form's config file ({} when none is given)."""
        text = self.query_one("#f-config", Input).value.strip()
        if not text:
            return {}
        path = Path(text).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FormError(f"Config file {text} does not exist.", "config") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise FormError(f"Config file {text} is not valid JSON ({exc}).", "config") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise FormError(
                f"Config file {text} must hold a JSON object of sections (run, sample, ...).",
                "config",
            )
        return data

    def base(self) -> Config:
        """The preset, then the config file's sections."""
        cfg = self.tnao.base_config()
        data = self.config_file()
        if data:
            merged = cfg.to_dict()
            for section, values in data.items():
                merged.setdefault(section, {}).update(values)
            try:
                cfg = Config.from_dict(merged)
            except ConfigError as exc:
                raise FormError(str(exc), "config") from None
        return cfg

    def read_config(self) -> Config:
        """The guide's config: base preset + config file + benchmark step + this form
        (validated); a bad value raises a ``FormError`` naming its field."""
        cfg = self.base()
        bench = self.tnao.guide_screen("benchmark")
        cfg.run.benchmark = getattr(bench, "benchmark", "") or cfg.run.benchmark
        cfg.run.dataset = getattr(bench, "dataset", "") or cfg.run.dataset
        cfg.run.method = self.method
        cfg.run.device = str(self.query_one("#f-device", Select).value)
        cfg.run.name = self.query_one("#f-name", Input).value.strip()
        for key, (label, section, name) in FIELDS.items():
            name = config_name(key, name, cfg.train.stage1)
            text = self.query_one(f"#f-{key}", Input).value.strip()
            if key in AUTO_FIELDS and not text:
                text = "0"  # automatic (Config.resolve)
            setattr(getattr(cfg, section), name, whole_number(label, text, key))
        self._read_goal(cfg)
        archs = self._archs(cfg.run.benchmark)
        if archs and cfg.run.budget > archs:
            raise FormError(
                f"Budget {cfg.run.budget:,} is more than the {archs:,} architectures of "
                f"{cfg.run.benchmark}: each query is a distinct one.",
                "budget",
            )
        try:
            return cfg.validate()
        except ConfigError as exc:
            raise FormError(str(exc), field_of(str(exc)) or "budget") from None

    def _read_goal(self, cfg: Config) -> None:
        """Objectives and constraints from the form, checked as the run will check them
        (their spelling, then their names against the benchmark's table when it loads)."""
        from tnao_app.objectives import Goal, parse_constraints, parse_objectives

        cfg.goal.objectives = self.query_one("#f-objectives", Input).value.strip()
        cfg.goal.constraints = self.query_one("#f-constraints", Input).value.strip()
        table = self.tnao._table(cfg.run.benchmark)
        if table is not None and cfg.run.dataset not in table.datasets:
            table = None  # the run says so itself
        try:
            parse_constraints(cfg.goal.constraints)
            if table is not None and cfg.goal.constraints:
                only = copy.deepcopy(cfg)
                only.goal.objectives = ""
                Goal(table, only)  # the limits alone: a bad one is the constraints' fault
        except ConfigError as exc:
            raise FormError(str(exc), "constraints") from None
        try:
            if cfg.goal.objectives:
                parse_objectives(cfg.goal.objectives)
                if table is not None:
                    Goal(table, cfg)
        except ConfigError as exc:
            raise FormError(str(exc), "objectives") from None

    def _archs(self, benchmark: str) -> int:
        for r in self.tnao.data_rows or []:
            if r["benchmark"] == benchmark and r.get("ready"):
                return int(r.get("archs") or 0)
        return 0

    def fill_from(self, cfg: Config) -> None:
        """Show ``cfg``'s values in the form (a config file was given)."""
        for key, (_label, section, name) in FIELDS.items():
            value = getattr(getattr(cfg, section), config_name(key, name, cfg.train.stage1))
            self.query_one(f"#f-{key}", Input).value = (
                "" if key in AUTO_FIELDS and value == 0 else str(value)
            )
        if cfg.run.method in catalogue.CATALOGUE:
            self.query_one("#f-method", Select).value = cfg.run.method
        if cfg.run.device in DEVICES:
            self.query_one("#f-device", Select).value = cfg.run.device
        if cfg.run.name:
            self.query_one("#f-name", Input).value = cfg.run.name
        self.query_one("#f-objectives", Input).value = cfg.goal.objectives
        self.query_one("#f-constraints", Input).value = cfg.goal.constraints

    @on(Input.Submitted, "#f-config")
    def _config_given(self) -> None:
        try:
            cfg = self.base()
        except ConfigError as exc:
            self.tnao.show_error(str(exc), then=self.query_one("#f-config").focus)
            return
        self.fill_from(cfg)
        self.notify(f"Filled the form from {self.query_one('#f-config', Input).value.strip()}.")

    @on(Select.Changed, "#f-method")
    def _method_changed(self) -> None:
        st = self.state
        if st.status == "idle":
            st.method = self.method  # the guide's steps and stage bar follow the choice
            st.version += 1
        self._enable_fields()
        self._show_hint()

    def _enable_fields(self) -> None:
        locked = self.state.status != "idle"
        modelled = (
            catalogue.info(self.method).rounds if self.method in catalogue.CATALOGUE else True
        )
        for box in self.query(".form Input, .form Select"):
            key = (box.id or "").removeprefix("f-")
            box.disabled = locked or (key in MODEL_FIELDS and not modelled)

    def on_descendant_focus(self) -> None:
        self._show_hint()

    def _show_hint(self) -> None:
        focused = self.focused
        key = (focused.id or "").removeprefix("f-") if focused is not None else ""
        if key == "method" or key not in HINTS:
            m = catalogue.CATALOGUE.get(self.method)
            hint = m.summary if m else ""
            if m and not m.rounds:
                hint += ". No model: sample size, epochs and swarm do not apply."
        else:
            hint = HINTS[key]
        set_text(self.query_one("#field-hint", Static), Text(hint, style="dim"), layout=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._enable_fields()
        self._show_hint()

    def on_resize(self) -> None:
        # twelve fields with a line between them need 38 rows; fewer: no gaps
        self.query_one("#run-form").set_class(self.size.height < 38, "compact")

    def show_state(self, state: RunState, force: bool) -> None:
        locked = state.status != "idle"
        self._enable_fields()
        if locked:
            self._show_run(state)
        done, total, _ = state.progress.get("sample", (0, 0, ""))
        if "sample" in state.stages_done and not total:
            done = total = max(1, len(state.sampled))
        bar = self.query_one("#sample-progress", ProgressBar)
        bar.update(total=total or 1, progress=done)
        # A baseline has no sample stage: no bar stuck at 0% (the histogram says why).
        bar.display = state.has_stage("sample")
        summary = Text()
        note = budget_note(state.plan)
        if note:
            summary.append(note + "\n", style="yellow")
        if state.sampled:
            vals = sorted(state.sampled)
            summary.append(
                f"{len(vals)} sampled: min {vals[0]:.2f}  "
                f"median {vals[len(vals) // 2]:.2f}  max {vals[-1]:.2f}"
            )
        elif state.status == "idle":
            summary.append("Press ctrl+r to start the run.", style="dim")
        set_text(self.query_one("#sample-summary", Static), summary, layout=True)
        # Without values the histogram explains why, and that depends on the run's state.
        key = (len(state.sampled), state.status, state.stage, state.method)
        if force or key != getattr(self, "_hist_key", None):
            self._hist_key = key
            self.query_one(SampleHistogram).show_state(state)

    def _show_run(self, state: RunState) -> None:
        """The form shows the run's own settings once it exists."""
        stage1 = state.config.get("train", {}).get("stage1")
        for key, (_label, section, name) in FIELDS.items():
            box = self.query_one(f"#f-{key}", Input)
            value = state.config.get(section, {}).get(config_name(key, name, stage1))
            if key in AUTO_FIELDS and value == 0:
                # automatic: blank as it was typed, the size the run took beside it
                box.value = ""
                sample = state.plan.sample if state.plan is not None else 0
                box.placeholder = f"auto ({sample})" if sample else AUTO_FIELDS[key]
            elif value is not None:
                box.value = str(value)
        run = state.config.get("run", {})
        method = state.method or run.get("method")
        if method in catalogue.CATALOGUE:
            self.query_one("#f-method", Select).value = method
        if run.get("device") in DEVICES:
            self.query_one("#f-device", Select).value = run["device"]
        self.query_one("#f-name", Input).value = str(run.get("name") or "")
        goal = state.goal()
        self.query_one("#f-objectives", Input).value = goal["objectives"]
        self.query_one("#f-constraints", Input).value = goal["constraints"]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return self.state.status == "idle"
        return super().check_action(action, parameters)

    def can_leave(self) -> bool:
        if self.state.status == "idle":
            self.notify("Start the run first (ctrl+r).", severity="warning")
            return False
        return True

    def action_start(self) -> None:
        # ctrl+r runs as soon as it arrives: read the form once the keys typed before it
        # are in the fields.
        if not self._starting:
            self._starting = True
            after_typing(self, self._start)

    def _start(self) -> None:
        from tnao_app.errors import TnaoError

        self._starting = False
        if self.state.status != "idle":
            return
        try:
            cfg = self.read_config()
        except TnaoError as exc:
            # back in the field that was wrong, not the last one typed in
            box = self.query_one(f"#f-{getattr(exc, 'field', None) or 'budget'}")
            self.tnao.show_error(str(exc), then=box.focus)
            return
        self.tnao.start_run(cfg)
