"""Guide step 3: live training charts (losses, validation Kendall tau), epoch progress.

A multi-round run trains once per round (round 0 from scratch, later rounds fine-tune
the model or retrain a new one): the label and the bar follow the round on show, as the
events count its epochs; the charts keep every round.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from .guide import GuideScreen
from .state import RunState, fmt_num
from .widgets import LossChart, TauChart, set_text


class TrainingScreen(GuideScreen):
    STEP = "training"
    STAGES = ("train",)

    def body(self) -> ComposeResult:
        with Horizontal(id="train-top"):
            yield Static("", id="epoch-label")
            yield ProgressBar(id="epoch-progress", show_eta=False)
        with Horizontal(id="train-charts"):
            yield LossChart(id="loss-chart")
            yield TauChart(id="tau-chart")
        yield Static("", id="epoch-line")

    def chart_data(self, state: RunState) -> tuple[int, object]:
        # The charts plot every round; "fresh" once the first epoch is in.
        return state.epoch_version, bool(state.epochs)

    def show_state(self, state: RunState, force: bool) -> None:
        rnd = state.train_round()
        finished, total = state.round_epochs(rnd)
        done, batches, _msg = state.progress.get("train", (0, 0, ""))
        training = state.live and state.stage == "train" and state.round == rnd
        # The bar moves per batch: epochs done + the fraction of the current one.
        frac = done / batches if training and batches and done < batches else 0.0
        bar = self.query_one("#epoch-progress", ProgressBar)
        if state.train_over(rnd):
            bar.update(total=max(total, 1), progress=max(total, 1))
        elif total:
            bar.update(total=total, progress=min(finished + frac, total))
        elif training:
            bar.update(total=None)  # not told how many: an indeterminate bar, no 0 %
        else:
            bar.update(total=1, progress=0)
        label = Text()
        rounds = state.round_label(rnd)
        if rounds:
            label.append(f"{rounds}  ", style="bold")
        kind = state.train_kind(rnd)
        label.append(f"{kind} " if kind else "")
        label.append(f"epoch {finished}/{total or '?'}")
        if training and batches:
            label.append(f"  batch {done}/{batches}", style="dim")
        set_text(self.query_one("#epoch-label", Static), label)
        if self.chart_due(state, force):
            self.query_one(LossChart).show_state(state)
            self.query_one(TauChart).show_state(state)
        set_text(self.query_one("#epoch-line", Static), self._epoch_line(state, rnd), layout=True)

    def _epoch_line(self, state: RunState, rnd: int) -> Text:
        line = Text()
        epochs = state.epochs_of(rnd) or state.epoch_list()
        if not epochs:
            if state.status == "idle":
                line.append("The run has not started: start it on the Sampling step.", style="dim")
            else:
                line.append("Waiting for the first epoch...", style="dim")
            return line
        e = epochs[-1]
        line.append(
            f"epoch {e.epoch}  rec {fmt_num(e.loss_rec, 4)}  rank "
            f"{fmt_num(e.loss_rank, 4)}  total {fmt_num(e.loss_total, 4)}  "
        )
        taus = [x.val_tau for x in state.epoch_list() if math.isfinite(x.val_tau)]
        if math.isfinite(e.val_tau):
            line.append(f"val tau {fmt_num(e.val_tau, 3)}  spearman {fmt_num(e.val_spearman, 3)}")
        elif not taus and not state.has_val_split():
            # The default: every label trains the predictor, none is held out.
            line.append("no validation split", style="dim")
        else:
            line.append("val tau -")
        if taus:
            line.append(f"  best tau {max(taus):.3f}", style="green")
        if rnd in state.train_tau:
            line.append(f"  train tau {state.train_tau[rnd]:.3f}", style="dim")
        return line
