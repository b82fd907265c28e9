"""The drift accuracies of AnalogNAS-Bench as metric columns of the analog table: their
names and counts, their values against the package's own records (read by a second,
independent unpickler), NaN for what cannot be read, the cache rebuilt when its columns
change, and a two-objective run on them from the CLI."""

from __future__ import annotations

import json
import math
import pickle
import re
import sys
import types

import numpy as np
import pytest

from tnao_app import benchmarks
from tnao_app.benchmarks import analog, cache
from tnao_app.cli import main

# the package's field (seconds after programming) -> our column
FIELDS = {
    "baseline_drift_60": "baseline_drift_1min",
    "baseline_drift_3600": "baseline_drift_1h",
    "baseline_drift_86400": "baseline_drift_1d",
    "baseline_drift_2592000": "baseline_drift_1mo",
    "analog_drift_60": "analog_drift_1min",
    "analog_drift_3600": "analog_drift_1h",
    "analog_drift_86400": "analog_drift_1d",
    "analog_drift_2592000": "analog_drift_1mo",
}
ACCURACIES = {"baseline", "ptq", "qat", "noisy", "analog"}
# every record of the installed analog-nasbench holds all eight drift values
FINITE = 15_625


class _Arch:
    """A bare attribute holder for the independent reader below."""


class _Measurement:
    """A bare attribute holder for the independent reader below."""


class _IndependentUnpickler(pickle.Unpickler):
    """Reads data.anb without anything of tnao_app: the two record classes, nothing else."""

    classes = {"Architecture": _Arch, "DriftMeasurement": _Measurement}

    def find_class(self, module, name):
        if module == "analognasbench.data" and name in self.classes:
            return self.classes[name]
        raise pickle.UnpicklingError(f"refused {module}.{name}")


_VALUE_PM = re.compile(
    r"^\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*±\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$"
)


def _parse_pm(text: str) -> tuple[float, float]:
    m = _VALUE_PM.match(text)
    assert m is not None, text
    return float(m.group(1)), float(m.group(2))


def test_drift_columns_exist_with_finite_values(analog_table):
    t = analog_table
    assert set(FIELDS.values()) <= set(t.metrics)
    assert set(t.metrics) == ACCURACIES | set(FIELDS.values())
    for name in FIELDS.values():
        col = t.metric(name)
        assert col.shape == (15_625,) and col.dtype == np.float64
        assert int(np.isfinite(col).sum()) == FINITE, name
        assert 0 < np.nanmin(col) < np.nanmax(col) <= 100, name
    # drift only loses accuracy over a month, on average
    for kind in ("baseline", "analog"):
        means = [float(np.mean(t.metric(f"{kind}_drift_{w}"))) for w in ("1min", "1h", "1d", "1mo")]
        assert means == sorted(means, reverse=True), (kind, means)
    # the datasets are those of before: the drift columns are metrics, not datasets
    assert set(t.datasets) == {"cifar10", *(f"cifar10-{m}" for m in ACCURACIES - {"baseline"})}


@pytest.mark.parametrize("key", [(0, 0, 0, 0, 0, 0), (2, 3, 2, 0, 3, 2), (4, 4, 4, 4, 4, 4)])
def test_values_equal_the_package_records(key):
    path = analog.data_file()
    tokens, metrics, _meta = analog.read(path)
    with open(path, "rb") as f:
        raw = _IndependentUnpickler(f).load()
    rec = raw[key]
    rows = np.flatnonzero((tokens == np.asarray(analog.to_nb201(key))).all(axis=1))
    assert rows.size == 1
    row = int(rows[0])
    assert metrics["baseline"][row] == rec.baseline_accuracy  # the same record
    for field, column in FIELDS.items():
        drift = getattr(rec, field)
        # the package prints a measurement as "value ± uncertainty"; parse that text
        text = f"{drift.value} ± {drift.uncertainty}"
        value, uncertainty = _parse_pm(text)
        assert uncertainty >= 0
        assert metrics[column][row] == value == drift.value, (key, field, text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("71.25 ± 1.5", 71.25),
        ("  71.25±1.5 ", 71.25),
        ("71.25", 71.25),
        (71, 71.0),
        (71.25, 71.25),
        ("n/a", math.nan),
        ("± 1.5", math.nan),
        ("", math.nan),
        (None, math.nan),
        (True, math.nan),
        (float("inf"), math.nan),
        ([71.25], math.nan),
        (10**400, math.nan),
    ],
)
def test_drift_value_of_plain_fields(raw, expected):
    got = analog.drift_value(raw)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


def _crafted_file(tmp_path, monkeypatch):
    """A data.anb in the package's layout whose records hold drift fields of every kind."""
    mod = types.ModuleType("analognasbench.data")
    for name in ("Architecture", "DriftMeasurement"):
        cls = type(name, (), {"__module__": "analognasbench.data"})
        setattr(mod, name, cls)
    monkeypatch.setitem(sys.modules, "analognasbench", types.ModuleType("analognasbench"))
    monkeypatch.setitem(sys.modules, "analognasbench.data", mod)

    def drift(value, uncertainty):
        d = mod.DriftMeasurement()
        d.value, d.uncertainty = value, uncertainty
        return d

    def record(key, **drifts):
        r = mod.Architecture()
        r.architecture = key
        for attr in analog.METRICS:
            setattr(r, attr, 50.0)
        for attr, v in drifts.items():
            setattr(r, attr, v)
        return r

    full = {f: drift(40.0, 2.0) for f in FIELDS}
    odd = {
        "baseline_drift_60": "41.5 ± 0.5",  # a string, as the package's input holds
        "baseline_drift_3600": 39,  # a plain number
        "baseline_drift_86400": "garbled",  # unparsable
        "baseline_drift_2592000": drift(0.0, 0.0),  # the package's unparsable stand-in
        "analog_drift_60": None,
        "analog_drift_3600": drift("n/a", 1.0),
        "analog_drift_86400": drift(float("nan"), 0.0),
        # analog_drift_2592000 missing altogether
    }
    data = {
        (0, 0, 0, 0, 0, 0): record((0,) * 6, **full),
        (1, 0, 0, 0, 0, 0): record((1,) + (0,) * 5, **odd),
    }
    path = tmp_path / "data.anb"
    path.write_bytes(pickle.dumps(data))
    return path


def test_missing_or_unparsable_drift_is_nan(tnao_home, tmp_path, monkeypatch):
    path = _crafted_file(tmp_path, monkeypatch)
    tokens, metrics, _meta = analog.read(path)
    assert len(tokens) == 2
    assert all(metrics[c][0] == 40.0 for c in FIELDS.values())
    got = {c: metrics[c][1] for c in FIELDS.values()}
    assert got["baseline_drift_1min"] == 41.5
    assert got["baseline_drift_1h"] == 39.0
    nan = [c for c, v in got.items() if math.isnan(v)]
    assert sorted(nan) == sorted(
        [
            "baseline_drift_1d",
            "baseline_drift_1mo",
            "analog_drift_1min",
            "analog_drift_1h",
            "analog_drift_1d",
            "analog_drift_1mo",
        ]
    )
    assert analog.convert(path).exists()  # NaN columns cache like any other


def test_cache_of_the_five_accuracies_is_converted_again(tnao_home):
    tokens, metrics, meta = analog.read()
    old_meta = {k: v for k, v in meta.items() if k != "table_version"}
    cache.save("analog", tokens, {m: metrics[m] for m in ACCURACIES}, old_meta)
    assert set(cache.load("analog")[1]) == ACCURACIES
    table = benchmarks.load("analog")
    assert set(FIELDS.values()) <= set(table.metrics)
    cached = cache.load("analog")
    assert cached is not None and set(FIELDS.values()) <= set(cached[1])
    assert cached[2]["table_version"] == analog.TABLE_VERSION


def test_cli_searches_accuracy_against_drift(analog_table, tmp_path, capsys):
    argv = ["run", "-b", "analog", "-m", "random", "--budget", "30"]
    argv += ["--objectives", "baseline,baseline_drift_1mo", "--db", str(tmp_path / "h.db")]
    for extra in ([], ["--json"]):
        with pytest.raises(SystemExit) as exc:
            main(argv + extra)
        assert exc.value.code in (0, None)
        out = capsys.readouterr().out
        if not extra:
            assert "Pareto front of the queried cells" in out and "baseline_drift_1mo" in out
            assert "hypervolume share" in out
            continue
        res = json.loads(out)
        assert res["front"] and set(res["front"][0]) == {"arch", "baseline", "baseline_drift_1mo"}
        assert 0 < res["hypervolume_share"] <= 1
        for cell in res["front"]:
            row = analog_table.index_of(analog_table.space.from_native(cell["arch"]))
            assert row is not None
            assert cell["baseline_drift_1mo"] == pytest.approx(
                analog_table.metric("baseline_drift_1mo")[row]
            )


def test_importing_into_the_embedded_table_is_one_sentence(tnao_home, tmp_path, capsys):
    f = tmp_path / "x.csv"
    f.write_text("arch_str\n")
    with pytest.raises(SystemExit) as exc:
        main(["data", "import", str(f), "-b", "analog"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "Benchmark 'analog' is embedded" in err and "Traceback" not in err
