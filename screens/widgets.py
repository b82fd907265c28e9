"""Widgets shared by the guide screens: stage bar, charts, leaderboard."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Sparkline, Static
from textual_plotext import PlotextPlot

from tnao_app import events as ev
from tnao_app.benchmarks import describe
from tnao_app.objectives import best_first

from .state import GUIDE, ParetoView, RunState, fmt_num, fmt_pct, histogram

TITLES = {
    "benchmark": "Benchmark",
    "sampling": "Sampling",
    "training": "Training",
    "search": "Search",
    "results": "Results",
}
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


def fill_table(
    table: DataTable,
    columns: Sequence[str | tuple[str | Text, str]],
    rows: Iterable[Sequence[str | Text]],
    keys: Iterable[str] | None = None,
    keep_wider: bool = False,
) -> None:
    """Replace ``table``'s columns and rows, each column as wide as its widest cell.

    A DataTable left to size its columns measures new rows only when it next goes idle;
    drawn before that, its cached lines keep the header's widths (cells cut) until a later
    change, so what a user sees depended on timing. Widths given up front draw the same
    from the first frame. A column is a name (its label and key) or (label, key);
    ``keep_wider`` keeps a column at least as wide as it was (a table redrawn often then
    does not jitter).
    """
    rows = [list(r) for r in rows]
    was = {c.key.value: c.width for c in table.columns.values()} if keep_wider else {}
    table.clear(columns=True)
    for j, col in enumerate(columns):
        label, key = (col, col) if isinstance(col, str) else col
        width = max(
            [cell_len(label) if isinstance(label, str) else label.cell_len]
            + [cell_len(c) if isinstance(c, str) else c.cell_len for c in (r[j] for r in rows)]
            + [was.get(key, 0)]
        )
        table.add_column(label, key=key, width=width)
    for row, key in zip(rows, keys if keys is not None else [None] * len(rows), strict=True):
        table.add_row(*row, key=key)


class StageBar(Static):
    """The guide's steps, the current one highlighted, finished ones ticked."""

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def show_state(self, state: RunState) -> None:
        text = Text()
        steps = state.guide_steps()
        n = state.rounds_total()
        for i, step in enumerate(GUIDE):
            # A multi-round run trains and searches again every round: those steps are
            # done once their last round is, not after round 1.
            done = (
                state.status == "finished"  # every step the run went through
                or (step == "benchmark" and bool(state.run_id))
                or (step in DONE_BY and state.step_done(DONE_BY[step]))
                or (step == "results" and state.status == "finished")
            )
            if step not in steps:  # the method has no such stage (no model to train)
                if i:
                    text.append(" › ", style="dim")
                text.append(f" – {TITLES[step]} ", style="dim strike")
                continue
            mark = "✓" if done else str(steps.index(step) + 1)
            style = "bold reverse" if step == self.current else ("green" if done else "dim")
            if i:
                text.append(" › ", style="dim")
            label = TITLES[step]
            if step == self.current and step in ("training", "search") and n > 1 and not done:
                label += f" {state.round + 1}/{n}"
            text.append(f" {mark} {label} ", style=style)
        set_text(self, text)


def status_style(status: str) -> str:
    return {
        "running": "bold yellow",
        "stopping": "yellow",
        "finished": "bold green",
        "failed": "bold red",
        "stopped": "magenta",
        "interrupted": "magenta",
    }.get(status, "dim")


def status_text(status: str) -> Text:
    return Text(status, style=status_style(status))


def readiness_text(row: dict) -> Text:
    """A benchmark's state as the tables show it (a row of ``benchmarks.status()``)."""
    if row.get("ready"):
        return Text("ready", style="green")
    if row.get("error"):
        return Text("error", style="red")
    return Text("not ready", style="yellow")


def _ticks(lo: int, hi: int, most: int = 6) -> list[int]:
    """Whole-number ticks lo..hi (epochs and generations are counts)."""
    hi = max(hi, lo + 1)
    step = max(1, -(-(hi - lo + 1) // most))
    return list(range(lo, hi + 1, step))


def _x_axis(plt, xs: list[int]) -> None:
    lo, hi = min(xs), max(xs)
    plt.xlim(lo, max(hi, lo + 1))
    plt.xticks(_ticks(lo, hi))


def _finite(xs: list[int], ys: list[float]) -> tuple[list[int], list[float]]:
    """The finite points only: one NaN or inf blanks a whole plotext chart."""
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return [p[0] for p in pts], [p[1] for p in pts]


def epoch_x(epochs: list[ev.EpochEnded]) -> list[int]:
    """The x of each epoch on the training charts: epochs trained so far, over every
    round (a retrained round's model counts its own epochs from 1 again; plotted at its
    own epoch numbers its line ran back over round 1's)."""
    return list(range(1, len(epochs) + 1))


class LossChart(PlotextPlot):
    """Training losses per epoch: reconstruction, ranking, total (every round, one after
    the other)."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss per epoch")
        epochs = state.epoch_list()
        if epochs:
            x = epoch_x(epochs)
            for label, ys in (
                ("rec", [e.loss_rec for e in epochs]),
                ("rank", [e.loss_rank for e in epochs]),
                ("total", [e.loss_total for e in epochs]),
            ):
                px, py = _finite(x, ys)
                if px:
                    plt.plot(px, py, label=label, marker="hd")
            _x_axis(plt, x)
        plt.xlabel("epoch (all rounds)" if len({k[0] for k in state.epochs}) > 1 else "epoch")
        self.refresh()


class TauChart(PlotextPlot):
    """Validation Kendall tau of the predictor per epoch. Without a validation split
    (``train.val_fraction`` 0, the default) there is no such tau: the chart says so and
    shows the tau on the training labels at the end of each round instead of a flat 0."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        epochs = state.epoch_list()
        xs = epoch_x(epochs)
        x, taus = _finite(xs, [e.val_tau for e in epochs])
        xs = xs or [1]
        if x or state.has_val_split():
            plt.title("validation Kendall tau")
            if x:
                plt.plot(x, taus, label="val tau", marker="hd", color="green")
        else:
            plt.title("Kendall tau: no validation split")
            # round -> the x of its last epoch
            ends = {e.round: i for i, e in zip(epoch_x(epochs), epochs, strict=True)}
            pts = sorted((ends[r], t) for r, t in state.train_tau.items() if r in ends)
            x, taus = [p[0] for p in pts], [p[1] for p in pts]
            if x:
                plt.plot(x, taus, label="train tau (end of round)", marker="hd", color="green")
            else:
                mid = (min(xs) + max(max(xs), min(xs) + 1)) / 2
                plt.text("no labels held out", mid, 0.6, alignment="center")
                plt.text("(train.val_fraction 0)", mid, 0.3, alignment="center")
                plt.text("train tau: after training", mid, -0.2, alignment="center")
        _x_axis(plt, xs)
        plt.ylim(min([0.0, *taus]) if taus else -0.5, 1.0)
        plt.xlabel("epoch")
        self.refresh()


class ConvergenceChart(PlotextPlot):
    """Best-so-far and swarm-mean predicted score per CSO generation, of one round: each
    round retrains the predictor, so scores of different rounds are not comparable."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        rnd = state.search_round()
        label = state.round_label(rnd)
        # The baselines report the queried signal, not a predictor's score.
        what = "predicted score" if state.in_rounds() else "search signal"
        # short: at 80 columns the chart is 40 wide, and plotext drops a longer title
        plt.title(what + (f", {label}" if label else ""))
        gens = state.generations_of(rnd)
        if gens:
            x = [g.gen for g in gens]
            # A swarm mean is -inf while a particle decodes to an unscorable cell (NAO
            # has none: NaN): plot the finite points only.
            for name, ys in (
                ("best", [g.best_score for g in gens]),
                ("mean", [g.mean_score for g in gens]),
            ):
                px, py = _finite(x, ys)
                if px:
                    plt.plot(px, py, label=name, marker="hd")
            _x_axis(plt, x)
        plt.xlabel("generation")
        self.refresh()


class AnytimeChart(PlotextPlot):
    """The anytime curve: the best search signal queried so far against the queries
    made, over the whole run (every round, the sample included), from the Queried events;
    each query a dot."""

    def show_state(self, state: RunState) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        curve = state.best_curve()
        title = "anytime: best queried"
        if curve:
            title = f"anytime: best {curve[-1][1]:.2f}, {curve[-1][0]} queries"
        plt.title(title)
        pts = sorted((n, v) for n, v in state.queried.items() if math.isfinite(v))
        if pts:
            plt.scatter([p[0] for p in pts], [p[1] for p in pts], marker="dot", color="gray")
        if curve:
            # a step: the best so far holds until a query beats it
            xs, ys = [curve[0][0]], [curve[0][1]]
            for (n, best), prev in zip(curve[1:], curve, strict=False):
                if best != prev[1]:
                    xs += [n, n]
                    ys += [prev[1], best]
            xs.append(curve[-1][0])
            ys.append(curve[-1][1])
            plt.plot(xs, ys, label="best", color="green")
            hi = max(state.budget, curve[-1][0])
            _x_axis(plt, [1, hi])
            # the top of the range matters: from the median query up
            vals = sorted(p[1] for p in pts)
            lo = vals[len(vals) // 2]
            top = curve[-1][1]
            pad = max((top - lo) * 0.1, 0.25)
            plt.ylim(lo - pad, top + pad)
        plt.xlabel("queries")
        self.refresh()


class ParetoChart(PlotextPlot):
    """The queried cells on the run's first two objectives (gray dots), the current
    front of the queried cells (green) and, once the run has ended, the table's true
    front (faint, behind it). x is the second objective, y the first (valid accuracy
    up, the cost along x, as NAS papers draw it)."""

    def show_view(self, view: ParetoView | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if view is None or len(view.names) < 2:
            plt.title("Pareto front: no objectives")
            self.refresh()
            return
        y_name, x_name = view.names[0], view.names[1]
        plt.title(f"front: {len(view.front)} of {len(view.points)} queried")
        if view.true_front:
            tf = sorted(view.true_front, key=lambda p: p[1])
            plt.plot([p[1] for p in tf], [p[0] for p in tf], label="table", color="gray+")
        if view.points:
            plt.scatter(
                [p[1] for p in view.points], [p[0] for p in view.points], marker="dot", color="gray"
            )
        if view.front:
            fr = sorted((view.points[i] for i in view.front), key=lambda p: p[1])
            plt.plot(
                [p[1] for p in fr], [p[0] for p in fr], label="front", color="green", marker="hd"
            )
        arrow = {True: "up", False: "down"}
        plt.xlabel(f"{x_name} ({arrow[view.maximise[1]]})")
        plt.ylabel(f"{y_name} ({arrow[view.maximise[0]]})")
        self.refresh()


class HypervolumeChart(PlotextPlot):
    """The hypervolume share of the table's true front after each query."""

    def show_view(self, view: ParetoView | None, budget: int = 0) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        curve = view.hypervolume if view is not None else []
        if curve:
            n, last = curve[-1]
            plt.title(f"hypervolume {100 * last:.1f}%, {n} queries")
            plt.plot([c[0] for c in curve], [100 * c[1] for c in curve], color="green")
            _x_axis(plt, [1, max(budget, n)])
            plt.ylim(max(0.0, 100 * curve[0][1] - 5), 100)
        else:
            plt.title("hypervolume share")
        plt.xlabel("queries")
        self.refresh()


def pareto_rows(result: dict | None) -> tuple[list[str], list[dict]]:
    """The objective names and the front entries of a run's result (empty: none)."""
    res = result or {}
    objectives = [o for o in res.get("objectives") or [] if isinstance(o, dict)]
    front = [e for e in res.get("front") or [] if isinstance(e, dict)]
    return [str(o.get("name")) for o in objectives], best_first(objectives, front)


class SampleHistogram(Vertical):
    """Distribution of the sampled architectures' search signal: a bar per bin."""

    DEFAULT_CSS = """
    SampleHistogram { height: 1fr; padding: 0 1; }
    SampleHistogram Sparkline { height: 1fr; }
    SampleHistogram .hist-axis { height: auto; color: $text-muted; }
    """

    def compose(self):
        yield Label("sampled accuracy", classes="section")
        yield Sparkline([], summary_function=max)
        yield Static("", classes="hist-axis")

    def show_state(self, state: RunState) -> None:
        spark = self.query_one(Sparkline)
        axis = self.query_one(".hist-axis", Static)
        if not state.sampled:
            # An empty histogram read as "n=0": say why there is nothing to show.
            self.query_one(Label).update("sampled accuracy")
            spark.display = False
            axis.update(Text(no_sample_reason(state), style="dim"))
            return
        spark.display = True
        bins = max(8, min(40, (self.size.width or 40) // 2))
        centres, counts = histogram(state.sampled, bins)
        self.query_one(Label).update(
            f"sampled accuracy  n={len(state.sampled)}  tallest bin {max(counts, default=0)}"
        )
        spark.data = [float(c) for c in counts]
        lo, hi = f"{min(state.sampled):.2f}", f"{max(state.sampled):.2f}"
        width = max(len(lo) + len(hi) + 1, (self.size.width or 40) - 2)
        axis.update(lo + hi.rjust(width - len(lo)))


def no_sample_reason(state: RunState) -> str:
    """One line on why a run has no sampled accuracies to plot."""
    method = state.method or state.config.get("run", {}).get("method", "")
    if state.status == "idle":
        return "The sampled accuracies show here once the run starts."
    none = f"Method {method} has no sample stage: it queries as it searches."
    if state.live and state.stage in ("", "sample") and "sample" not in state.stages_done:
        return none if not state.has_stage("sample") else "Sampling..."
    if not state.has_stage("sample"):
        return none
    return "No sampled values recorded: this run's sample stage was skipped."


OP_SHORT = {
    "none": "--",
    "skip_connect": "sk",
    "nor_conv_1x1": "c1",
    "nor_conv_3x3": "c3",
    "avg_pool_3x3": "ap",
}
ARCH_WIDTH = 24


def short_arch(arch: str) -> str:
    """A table-cell form of an architecture: NB201 cells as ops per node
    (``c3 | c1 c1 | sk c3 sk``), NB101 cells (JSON) in the compact form of
    ``benchmarks.describe`` (``1:c3 2:mp | in>1,2 1>out 2>out``, never cut: at most 69
    characters), anything else cut to ``ARCH_WIDTH`` characters."""
    if arch.startswith("{"):
        compact = describe("nb101", arch)
        if compact != arch:
            return compact
    if arch.startswith("|") and "~" in arch:
        nodes = []
        for part in arch.split("+"):
            ops = [t.split("~")[0] for t in part.strip("|").split("|") if t]
            nodes.append(" ".join(OP_SHORT.get(o, o[:2]) for o in ops))
        if all(nodes):
            return " | ".join(nodes)
    return arch if len(arch) <= ARCH_WIDTH else arch[: ARCH_WIDTH - 1] + "…"


LEADER_COLUMNS = ("rank", "arch", "predicted", "valid", "test", "pct")


class ArchTable(DataTable):
    """A table of architectures whose rows can be copied (``c``) and opened in full
    (enter): the cells hold a short form of each architecture."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.archs: list[dict] = []  # per row: "arch" and the facts the details show

    def current(self) -> dict | None:
        if not self.archs or self.cursor_row is None or not 0 <= self.cursor_row < len(self.archs):
            return None
        return self.archs[self.cursor_row]

    def copy_arch(self) -> None:
        row = self.current()
        if row is None:
            self.notify("No architecture to copy yet.")
            return
        self.app.copy_to_clipboard(row["arch"])
        # (not the string itself: a toast wraps it mid-token)
        self.notify(f"Copied the architecture string of row {self.cursor_row + 1}.")

    def show_details(self) -> None:
        row = self.current()
        if row is None:
            return
        from .dialogs import ArchDialog

        facts = [(k, v) for k, v in row.items() if k not in ("arch", "title")]
        self.app.push_screen(ArchDialog(row.get("title", "Architecture"), row["arch"], facts))


class Leaderboard(ArchTable):
    """The CSO leaderboard: rank, arch, predicted score, queried valid/test, percentile."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        fill_table(self, LEADER_COLUMNS, [])

    def show_rows(self, rows: tuple[ev.LeaderRow, ...], limit: int = 50) -> None:
        # Rebuilt whole: at most `limit` rows once per generation is cheap and keeps the
        # order right when ranks move.
        self.archs = [
            {
                "arch": r.arch,
                "title": f"Leaderboard rank {r.rank}",
                "predicted": fmt_num(r.predicted, 3),
                "valid": fmt_num(r.valid),
                "test": fmt_num(r.test),
                "pct": fmt_pct(r.percentile, 1),
            }
            for r in rows[:limit]
        ]
        fill_table(
            self,
            LEADER_COLUMNS,
            [
                (
                    str(r.rank),
                    short_arch(r.arch),
                    fmt_num(r.predicted, 3),
                    fmt_num(r.valid),
                    fmt_num(r.test),
                    fmt_pct(r.percentile, 1),
                )
                for r in rows[:limit]
            ],
            keep_wider=True,
        )
