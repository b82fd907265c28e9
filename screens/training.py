"""Guide step 3: live training charts (losses, validation Kendall tau), epoch progress."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from .guide import GuideScreen
from .state import RunState, fmt_num
from .widgets import LossChart, TauChart, set_text


class TrainingScreen(GuideScreen):
    STEP = "training"

    def __init__(self) -> None:
        super().__init__()

    def body(self) -> ComposeResult:
        with Horizontal(id="train-top"):
            yield Static("", id="epoch-label")
            yield ProgressBar(id="epoch-progress", show_eta=False)
        with Horizontal(id="train-charts"):
            yield LossChart(id="loss-chart")
            yield TauChart(id="tau-chart")
        yield Static("", id="epoch-line")

    def show_state(self, state: RunState, force: bool) -> None:
        epochs = state.epoch_list()
        total = int(epochs[-1].epochs) if epochs else int(
            state.config.get("train", {}).get("epochs", 0) or 0)
        done, batches, _msg = state.progress.get("train", (0, 0, ""))
        # Epoch bar moves per batch: epochs done + the fraction of the current one.
        frac = done / batches if batches and state.stage == "train" and state.live else 0.0
        finished = len([e for e in epochs if e.round == (epochs[-1].round if epochs else 0)])
        bar = self.query_one("#epoch-progress", ProgressBar)
        if "train" in state.stages_done and not state.live:
            bar.update(total=max(total, 1), progress=max(total, 1))
        else:
            bar.update(total=total or 1, progress=min(finished + frac, total or 0))
        label = Text(f"epoch {finished}/{total or '?'}")
        if batches and state.stage == "train" and state.live:
            label.append(f"  batch {done}/{batches}", style="dim")
        set_text(self.query_one("#epoch-label", Static), label)
        if self.chart_due(state, force):
            self.query_one(LossChart).show_state(state)
            self.query_one(TauChart).show_state(state)
        line = Text()
        if epochs:
            e = epochs[-1]
            line.append(f"last epoch: rec {fmt_num(e.loss_rec, 4)}  rank "
                        f"{fmt_num(e.loss_rank, 4)}  total {fmt_num(e.loss_total, 4)}  "
                        f"tau {fmt_num(e.val_tau, 3)}  spearman {fmt_num(e.val_spearman, 3)}")
            best = max((x.val_tau for x in epochs if x.val_tau == x.val_tau), default=None)
            if best is not None:
                line.append(f"  best tau {best:.3f}", style="green")
        elif state.status == "idle":
            line.append("The run has not started: start it on the Sampling step.", style="dim")
        else:
            line.append("Waiting for the first epoch...", style="dim")
        set_text(self.query_one("#epoch-line", Static), line, layout=True)
