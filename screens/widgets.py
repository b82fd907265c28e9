"""Widgets shared by the guide screens: stage bar, charts, leaderboard."""

from __future__ import annotations

import math

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Sparkline, Static
from textual_plotext import PlotextPlot

from tnao_app import events as ev

from .state import GUIDE, RunState, fmt_num, histogram

TITLES = {"benchmark": "Benchmark", "sampling": "Sampling", "training": "Training",
          "search": "Search", "results": "Results"}
#: which pipeline stage must be done for a guide step to count as done
DONE_BY = {"sampling": "sample", "training": "train", "search": "evaluate"}


def set_text(widget: Static, text: Text | str, layout: bool = False) -> None:
    """Update ``widget`` only when its text changed, and without a layout pass by default
    (one-line labels keep their size): a redraw that changes nothing costs nothing."""
    key = text.markup if isinstance(text, Text) else text
    if getattr(widget, "_tnao_text", None) == key:
        return
    widget._tnao_text = key  # type: ignore[attr-defined]
    widget.update(text, layout=layout)


class StageBar(Static):
    """The guide's steps, the current one highlighted, finished ones ticked."""

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def show_state(self, state: RunState) -> None:
        text = Text()
        for i, step in enumerate(GUIDE):
            done = (step == "benchmark" and bool(state.run_id)) or (
                DONE_BY.get(step) in state.stages_done
            ) or (step == "results" and state.status == "finished")
            mark = "✓" if done else str(i + 1)
            style = "bold reverse" if step == self.current else ("green" if done else "dim")
            if i:
                text.append(" › ", style="dim")
            text.append(f" {mark} {TITLES[step]} ", style=style)
        set_text(self, text)


def status_style(status: str) -> str:
    return {"running": "bold yellow", "stopping": "yellow", "finished": "bold green",
            "failed": "bold red", "stopped": "magenta", "interrupted": "magenta"}.get(
        status, "dim")


def status_text(status: str) -> Text:
    return Text(status, style=status_style(status))


def _ticks(n: int, most: int = 6) -> list[int]:
    """Whole-number ticks 1..n (epochs and generations are counts)."""
    step = max(1, -(-n // most))
    return list(range(1, max(n, 2) + 1, step))


class LossChart(PlotextPlot):
    """Training losses per epoch: reconstruction, ranking, total."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss per epoch")
        epochs = state.epoch_list()
        if epochs:
            x = list(range(1, len(epochs) + 1))
            plt.plot(x, [e.loss_rec for e in epochs], label="rec", marker="hd")
            plt.plot(x, [e.loss_rank for e in epochs], label="rank", marker="hd")
            plt.plot(x, [e.loss_total for e in epochs], label="total", marker="hd")
            plt.xlim(1, max(2, len(epochs)))
            plt.xticks(_ticks(len(epochs)))
        plt.xlabel("epoch")
        self.refresh()


class TauChart(PlotextPlot):
    """Validation Kendall tau of the predictor per epoch."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("validation Kendall tau")
        epochs = state.epoch_list()
        taus = [e.val_tau for e in epochs]
        if epochs:
            x = list(range(1, len(epochs) + 1))
            y = [0.0 if math.isnan(t) else t for t in taus]
            plt.plot(x, y, label="tau", marker="hd", color="green")
            plt.xlim(1, max(2, len(epochs)))
            plt.xticks(_ticks(len(epochs)))
            plt.ylim(min(0.0, min(y)), 1.0)
        plt.xlabel("epoch")
        self.refresh()


class ConvergenceChart(PlotextPlot):
    """Best-so-far and swarm-mean predicted score per CSO generation."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("convergence (predicted score)")
        gens = state.generation_list()
        if gens:
            x = list(range(1, len(gens) + 1))
            # A swarm mean is -inf while a particle decodes to an unscorable cell, and one
            # non-finite value blanks a whole plotext chart: plot the finite points only.
            for label, ys in (("best", [g.best_score for g in gens]),
                              ("mean", [g.mean_score for g in gens])):
                pts = [(i, y) for i, y in zip(x, ys, strict=True) if math.isfinite(y)]
                if pts:
                    plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label,
                             marker="hd")
            plt.xlim(1, max(2, len(gens)))
            plt.xticks(_ticks(len(gens)))
        plt.xlabel("generation")
        self.refresh()


class SampleHistogram(Vertical):
    """Distribution of the sampled architectures' search signal: a bar per bin."""

    DEFAULT_CSS = """
    SampleHistogram { height: 1fr; padding: 0 1; }
    SampleHistogram Sparkline { height: 1fr; }
    SampleHistogram .hist-axis { height: 1; color: $text-muted; }
    """

    def compose(self):
        yield Label("sampled accuracy", classes="section")
        yield Sparkline([], summary_function=max)
        yield Static("", classes="hist-axis")

    def show_state(self, state: RunState) -> None:
        bins = max(8, min(40, (self.size.width or 40) // 2))
        centres, counts = histogram(state.sampled, bins)
        self.query_one(Label).update(f"sampled accuracy (n={len(state.sampled)}, "
                                     f"{len(counts)} bins, tallest {max(counts, default=0)})")
        self.query_one(Sparkline).data = [float(c) for c in counts]
        axis = self.query_one(".hist-axis", Static)
        if centres:
            lo, hi = f"{min(state.sampled):.2f}", f"{max(state.sampled):.2f}"
            width = max(len(lo) + len(hi) + 1, (self.size.width or 40) - 2)
            axis.update(lo + hi.rjust(width - len(lo)))
        else:
            axis.update("")


OP_SHORT = {"none": "--", "skip_connect": "sk", "nor_conv_1x1": "c1", "nor_conv_3x3": "c3",
            "avg_pool_3x3": "ap"}
ARCH_WIDTH = 24


def short_arch(arch: str) -> str:
    """A table-cell form of an architecture: NB201 cells as ops per node
    (``c3 | c1 c1 | sk c3 sk``), anything else cut to ``ARCH_WIDTH`` characters."""
    if arch.startswith("|") and "~" in arch:
        nodes = []
        for part in arch.split("+"):
            ops = [t.split("~")[0] for t in part.strip("|").split("|") if t]
            nodes.append(" ".join(OP_SHORT.get(o, o[:2]) for o in ops))
        if all(nodes):
            return " | ".join(nodes)
    return arch if len(arch) <= ARCH_WIDTH else arch[: ARCH_WIDTH - 1] + "…"


LEADER_COLUMNS = ("rank", "arch", "predicted", "valid", "test", "pct")


class Leaderboard(DataTable):
    """The CSO leaderboard: rank, arch, predicted score, queried valid/test, percentile."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for col in LEADER_COLUMNS:
            self.add_column(col, key=col)

    def show_rows(self, rows: tuple[ev.LeaderRow, ...], limit: int = 50) -> None:
        # Rebuilt whole: at most `limit` rows once per generation is cheap and keeps the
        # order right when ranks move.
        self.clear()
        for r in rows[:limit]:
            self.add_row(
                str(r.rank), short_arch(r.arch), fmt_num(r.predicted, 3),
                fmt_num(r.valid), fmt_num(r.test), fmt_num(r.percentile, 1),
            )
