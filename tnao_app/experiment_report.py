"""What an experiment writes besides its table: the summary as CSV, every run's anytime
curve as CSV, and the mean anytime curves with their intervals as a PNG (matplotlib,
imported only when a plot is asked for). Every file is written atomically."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .experiment import Experiment, anytime_band


def _write(path: Path, data: bytes, what: str) -> None:
    """``data`` to ``path`` atomically (never half a file); one sentence if it cannot."""
    from .benchmarks.cache import atomic_write

    try:
        atomic_write(Path(path), lambda f: f.write(data))
    except OSError as exc:
        raise ConfigError(f"Cannot write the {what} file {path} ({exc.strerror}).") from None


def write_csv(exp: Experiment, path: Path) -> None:
    """The summary table as CSV, written atomically (never half a file)."""
    _write(path, exp.csv_text().encode("utf-8"), "CSV")


def write_anytime(exp: Experiment, path: Path) -> None:
    """Each run's anytime curve as CSV (method,seed,query,best_signal,best_test)."""
    _write(path, exp.anytime_csv_text().encode("utf-8"), "CSV")


def _seed_text(seeds: Sequence[int]) -> str:
    """'seed 3', 'seeds 0-29' or 'seeds 0,2,7'."""
    s = sorted(seeds)
    if len(s) == 1:
        return f"seed {s[0]}"
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"seeds {s[0]}-{s[-1]}"
    return "seeds " + ",".join(map(str, s))


def plot_png(exp: Experiment) -> bytes:
    """Mean best-so-far reported metric vs queries per method, with bootstrap 95% bands
    over seeds and the table optimum dashed (matplotlib's Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(8.0, 5.0), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(exp.budgets)
    opt = exp.optimum["top_test"]["value"]
    floor = []
    for i, m in enumerate(exp.methods):
        q, mean, lo, hi = anytime_band(exp, m)
        if not len(q):
            continue
        color = f"C{i % 10}"
        # an anytime method's budgets all read one run; another's curve is its largest run
        shared = all(r["shared_run_budget"] == top for r in exp.runs if r["method"] == m)
        label = m if shared else f"{m} (its run at budget {top})"
        ax.plot(q, mean, color=color, lw=1.6, label=label, drawstyle="steps-post")
        ax.fill_between(q, lo, hi, color=color, alpha=0.2, lw=0, step="post")
        floor.append(float(np.nanmin(lo[min(len(lo) - 1, max(0, len(lo) // 10)) :])))
    ax.axhline(opt, color="0.3", ls="--", lw=1.0, label=f"table optimum ({opt:.4g})")
    for b in exp.budgets:
        ax.axvline(b, color="0.85", lw=0.8, zorder=0)
    if floor and math.isfinite(min(floor)):
        # from a tenth of the budget on: the first few queries would flatten the rest
        low = min(floor)
        ax.set_ylim(low - 0.08 * (opt - low + 1e-9), opt + 0.08 * (opt - low + 1e-9))
    ax.set_xlim(1, top)
    ax.set_xlabel(f"queries (architectures evaluated; search signal: {exp.signal})")
    same = exp.signal == exp.report
    ax.set_ylabel(
        f"best {exp.report} so far"
        if same
        else f"{exp.report} of the best-{exp.signal} architecture so far"
    )
    n = len(exp.seeds)
    ax.set_title(
        f"{exp.benchmark} {exp.dataset}: mean best-so-far {exp.report}, "
        f"{n} {'seed' if n == 1 else 'seeds'} ({_seed_text(exp.seeds)})"
    )
    handles, _ = ax.get_legend_handles_labels()
    band = Patch(color="0.5", alpha=0.3, label="95% bootstrap CI of the mean over seeds")
    ax.legend(handles=[*handles, band], loc="lower right", fontsize="small")
    ax.grid(True, color="0.92", lw=0.6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_plot(exp: Experiment, path: Path) -> None:
    """The anytime plot as PNG, written atomically."""
    _write(path, plot_png(exp), "plot")
