"""What an experiment writes: its table as CSV, JSON, Markdown or LaTeX, every run's
anytime curve as CSV, and the mean anytime curves with their intervals as PNG or SVG
(matplotlib, imported only when a plot is asked for). Every file is written atomically.
The cell texts ('90% [74-97]', '94.34 [94.31-94.36]') are the ones the CLI and the app
show."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .campaign.metrics import RunMetric, run_metric
from .campaign.summary import Experiment, anytime_band
from .errors import ConfigError


def _write(path: Path, data: bytes, what: str) -> None:
    """``data`` to ``path`` atomically (never half a file); one sentence if it cannot."""
    from .benchmarks.cache import atomic_write

    try:
        atomic_write(Path(path), lambda f: f.write(data))
    except OSError as exc:
        raise ConfigError(f"Cannot write the {what} file {path} ({exc.strerror}).") from None


def median_text(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def share_text(found: int, n: int, ci: tuple[float, float]) -> str:
    """'90% [74-97]': the share of seeds that found it and its Wilson 95% interval."""
    if not n:
        return "-"
    return f"{100 * found / n:.0f}% [{100 * ci[0]:.0f}-{100 * ci[1]:.0f}]"


def mean_ci_text(mean: float, ci: tuple[float, float]) -> str:
    """'94.34 [94.31-94.36]': the mean and its bootstrap 95% interval."""
    if math.isnan(mean):
        return "-"
    if any(math.isnan(v) for v in ci):
        return f"{mean:.2f}"
    return f"{mean:.2f} [{ci[0]:.2f}-{ci[1]:.2f}]"


def metric_text(kind: RunMetric, name: str, row: dict) -> str:
    """One per-run metric's cell of a (method, budget) row."""
    mean = row.get("metrics", {}).get(name, math.nan)
    ci = tuple(row.get("metrics_ci", {}).get(name, (math.nan, math.nan)))
    if math.isnan(mean):
        return "-"
    if kind.percent:
        return mean_ci_text(100 * mean, (100 * ci[0], 100 * ci[1]))
    if any(math.isnan(v) for v in ci):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{ci[0]:.4g}-{ci[1]:.4g}]"


def table_cells(exp: Experiment) -> tuple[list[str], list[list[str]]]:
    """The table as text: headers and one row of cells per (method, budget); a per-run
    metric (``campaign.metrics.RUN_METRICS``) adds a column: its share of seeds or its
    mean over seeds, with the 95% interval."""
    names = exp.metric_names()
    kinds = {k: run_metric(k) for k in names}
    top = exp.optimum.get("top_k")
    top_head = [f"top {top['target']} [CI]", "med q"] if top else []
    head = [
        "method",
        "budget",
        "seeds",
        f"{exp.report} [CI]",
        "std",
        "top-test [CI]",
        "med q",
        "top-signal [CI]",
        "med q",
        *top_head,
        "s/run",
        *(kinds[k].label or k for k in names),
    ]
    body = []
    for r in exp.rows:
        body.append(
            [
                r["method"],
                str(r["budget"]),
                str(r["seeds"]),
                mean_ci_text(r["test_mean"], r["test_ci"]),
                f"{r['test_std']:.2f}" if r["seeds"] else "-",
                share_text(r["top_test_found"], r["seeds"], r["top_test_ci"]),
                median_text(r["top_test_median_queries"]),
                share_text(r["top_signal_found"], r["seeds"], r["top_signal_ci"]),
                median_text(r["top_signal_median_queries"]),
                *(
                    [
                        share_text(r["top_k_found"], r["seeds"], r["top_k_ci"]),
                        median_text(r["top_k_median_queries"]),
                    ]
                    if top
                    else []
                ),
                f"{r['seconds_mean']:.1f}" if r["seeds"] else "-",
                *(metric_text(kinds[k], k, r) for k in names),
            ]
        )
    return head, body


def markdown_text(exp: Experiment) -> str:
    head, body = table_cells(exp)
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def latex_text(exp: Experiment) -> str:
    """A booktabs tabular, a rule between methods."""
    head, body = table_cells(exp)
    out = [
        r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}",
        r"\toprule",
        " & ".join(_tex(h) for h in head) + r" \\",
        r"\midrule",
    ]
    last = None
    for row in body:
        if last is not None and row[0] != last:
            out.append(r"\midrule")
        last = row[0]
        out.append(" & ".join(_tex(c) for c in row) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out) + "\n"


TABLE_FORMATS = ("csv", "json", "md", "latex")
_SUFFIX = {".csv": "csv", ".json": "json", ".md": "md", ".tex": "latex", ".latex": "latex"}


def table_text(exp: Experiment, fmt: str) -> str:
    """The table in ``fmt``: csv, json (the whole summary, runs included), md or latex."""
    if fmt == "csv":
        return exp.csv_text()
    if fmt == "json":
        from .export import dumps

        return dumps(exp.to_dict()) + "\n"
    if fmt == "md":
        return markdown_text(exp)
    if fmt == "latex":
        return latex_text(exp)
    raise ConfigError(
        f"Table format '{fmt}' is unknown; expected one of {', '.join(TABLE_FORMATS)}."
    )


def format_of(path: Path) -> str:
    """The table format a file name asks for, by its suffix."""
    fmt = _SUFFIX.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"Cannot tell the table format of {path}; expected a name ending in "
            ".csv, .json, .md or .tex."
        )
    return fmt


def write_table(exp: Experiment, path: Path, fmt: str | None = None) -> None:
    """The table to ``path`` in ``fmt`` (default: by the file's suffix), atomically."""
    fmt = fmt or format_of(path)
    _write(path, table_text(exp, fmt).encode("utf-8"), fmt.upper() if fmt != "md" else "Markdown")


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


PLOT_FORMATS = ("png", "svg")


def plot_png(exp: Experiment) -> bytes:
    return plot_bytes(exp, "png")


def plot_bytes(exp: Experiment, fmt: str = "png") -> bytes:
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
    # two short lines: the signal's name is on the x axis, and a long label is cut off
    ax.set_ylabel(
        f"best {exp.report} so far" if same else f"{exp.report}\nof the best-signal cell so far"
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
    # svg: no date in the file, so the same campaign draws the same bytes
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def write_plot(exp: Experiment, path: Path) -> None:
    """The anytime plot as PNG or SVG (by the file's suffix), written atomically."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ConfigError(f"Cannot draw {path}; expected a name ending in .png or .svg.")
    _write(path, plot_bytes(exp, fmt), "plot")
