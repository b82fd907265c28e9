"""Guide step 2: sample size, budget, seed (and the run's other sizes); start the run.

While the sample stage runs: its progress and the distribution of the sampled accuracies.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Input, Label, ProgressBar, Static

from tnao_app.config import Config

from .dialogs import FORM_BINDINGS, FormInput, after_typing
from .guide import GuideScreen
from .state import RunState
from .widgets import SampleHistogram, set_text

#: form field id -> (label, config section, config field)
FIELDS = {
    "n_labelled": ("Sample size", "sample", "n_labelled"),
    "budget": ("Budget", "run", "budget"),
    "seed": ("Seed", "run", "seed"),
    "epochs": ("Epochs", "train", "epochs"),
    "particles": ("Particles", "search", "particles"),
    "generations": ("Generations", "search", "generations"),
}


#: fields left blank for an automatic value (0 in the config), with the placeholder
AUTO_FIELDS = {"n_labelled": "auto"}


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
                    for key, (label, section, name) in FIELDS.items():
                        yield Label(label)
                        value = getattr(getattr(cfg, section), name)
                        if key in AUTO_FIELDS and value == 0:  # blank: the run picks
                            yield FormInput(
                                "", placeholder=AUTO_FIELDS[key], type="integer", id=f"f-{key}"
                            )
                        else:
                            yield FormInput(str(value), type="integer", id=f"f-{key}")
                yield Static("", id="sample-summary")
            with Vertical(id="sample-right"):
                yield ProgressBar(id="sample-progress", show_eta=False)
                yield SampleHistogram(id="sample-hist")

    def read_config(self) -> Config:
        """The guide's config: base preset + benchmark step + this form (validated)."""
        cfg = self.tnao.base_config()
        bench = self.tnao.guide_screen("benchmark")
        cfg.run.benchmark = getattr(bench, "benchmark", "") or cfg.run.benchmark
        cfg.run.dataset = getattr(bench, "dataset", "") or cfg.run.dataset
        for key, (label, section, name) in FIELDS.items():
            text = self.query_one(f"#f-{key}", Input).value.strip()
            if key in AUTO_FIELDS and not text:
                text = "0"  # automatic (Config.resolve)
            try:
                value = int(text)
            except ValueError:
                from tnao_app.errors import ConfigError

                raise ConfigError(f"{label} must be a whole number, got '{text}'.") from None
            setattr(getattr(cfg, section), name, value)
        return cfg.validate()

    def show_state(self, state: RunState, force: bool) -> None:
        locked = state.status != "idle"
        for key, (_label, section, name) in FIELDS.items():
            box = self.query_one(f"#f-{key}", Input)
            box.disabled = locked
            if locked and state.config.get(section, {}).get(name) is not None:
                box.value = str(state.config[section][name])
        done, total, _ = state.progress.get("sample", (0, 0, ""))
        if "sample" in state.stages_done and not total:
            done = total = max(1, len(state.sampled))
        bar = self.query_one("#sample-progress", ProgressBar)
        bar.update(total=total or 1, progress=done)
        # A baseline has no sample stage: no bar stuck at 0% (the histogram says why).
        bar.display = state.has_stage("sample")
        summary = Text()
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
            self.tnao.show_error(str(exc))
            return
        self.tnao.start_run(cfg)
