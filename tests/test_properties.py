"""Property-based tests (hypothesis) of config parsing, of each importer, and of the text
and JSON the CLI prints: whatever the input, the answer is a valid result or one
``TnaoError`` sentence, never another exception, and what is stored is never wrong (no
non-finite or out-of-range metric, no partial cache).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from rich.text import Text
from test_nb101_import import cells, hand_frame, record

from tnao_app.benchmarks import cache, nb101, nb201
from tnao_app.cli.plain import esc, plain, visible
from tnao_app.config import SECTIONS, Config
from tnao_app.errors import ConfigError, DataError
from tnao_app.export import dumps

PROPS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _sentence(exc: Exception) -> None:
    text = str(exc)
    assert text and "\n" not in text and text.endswith((".", ")", "'")), text
    assert "Traceback" not in text


# -- config ----------------------------------------------------------------------------------
FIELDS = {s: [f for f in Config().to_dict()[s]] for s in SECTIONS}
_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["tnao", "random", "cpu", "bpr", "pool", "joint", "cached", "balanced"])
)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def configs(draw) -> object:
    """Mostly config-shaped dicts (known sections and fields, any values), sometimes not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    out: dict = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "bogus"]), max_size=4, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            out[section] = draw(_json)
            continue
        names = FIELDS.get(section, ["x"]) + ["unknown_field"]
        keys = draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
        out[section] = {k: draw(_scalar) for k in keys}
    return out


@PROPS
@given(data=configs())
def test_config_is_valid_or_one_sentence(data):
    try:
        cfg = Config.from_dict(data).validate()  # type: ignore[arg-type]
    except ConfigError as exc:
        _sentence(exc)
        return
    # a valid config: every number finite, it saves and reads back as itself
    saved = json.loads(json.dumps(cfg.to_dict(), allow_nan=False))
    assert Config.from_dict(saved).validate().to_dict() == cfg.to_dict()


@PROPS
@given(
    seed=st.integers(min_value=-(2**80), max_value=2**80),
    threads=st.integers(min_value=-5, max_value=10**7),
    d_model=st.integers(min_value=-5, max_value=2**24),
    n_heads=st.integers(min_value=-3, max_value=64),
)
def test_config_ranges(seed, threads, d_model, n_heads):
    data = {
        "run": {"seed": seed, "threads": threads},
        "model": {"d_model": d_model, "n_heads": n_heads},
    }
    try:
        cfg = Config.from_dict(data).validate()
    except ConfigError as exc:
        _sentence(exc)
        return
    assert 0 <= cfg.run.seed < 2**63 and cfg.model.n_heads >= 1
    assert cfg.model.d_model % cfg.model.n_heads == 0


# -- importers -------------------------------------------------------------------------------
def _no_partial(benchmark: str) -> None:
    folder = cache.cache_path(benchmark).parent
    assert not folder.exists() or not list(folder.glob("*.tmp"))


def _stored_ok(benchmark: str) -> None:
    """Every stored metric is NaN (missing) or within its bounds."""
    got = cache.load(benchmark)
    assert got is not None
    _, metrics, _ = got
    metrics, _ = cache.split_ids(metrics)
    assert cache.first_bad_value(metrics) is None
    for values in metrics.values():
        assert not np.isinf(values).any()


_cells = st.one_of(
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e400", "-1", "0", "50", "100", "100.5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-10, max_value=110).map(lambda v: f"{v:.3f}"),
    st.text(alphabet="[]/ab,01.\x1b", max_size=6),
)
NB201_COLUMNS = [
    "arch_str",
    "arch_index",
    "cifar10_valid_valid_acc_200",
    "cifar10_test_acc_200",
    "cifar10/ori-test@200",
    "cifar10-valid/x-valid@200",
    "flops_M_cifar10",
    "cifar10_valid_train_time_200",
    "other",
]
ARCHS = [nb201.SPACE.to_native(a) for a in [(i, j, 0, 1, 2, 3) for i in range(5) for j in range(5)]]


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    quote = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
    return "\n".join(",".join(quote(c) for c in r) for r in [header, *rows]) + "\n"


_good = st.floats(min_value=0, max_value=100).map(lambda v: f"{v:.3f}")


def _cell(draw, good=_good) -> str:
    """Mostly a good value; now and then an empty cell (missing) or anything (a bad
    number, text, brackets)."""
    pick = draw(st.integers(0, 15))
    return draw(_cells) if pick == 0 else "" if pick == 1 else draw(good)


@st.composite
def nb201_tables(draw) -> str:
    """Tables that are mostly importable (the columns of the shared layout, distinct
    architectures, numbers in range), each with a chance of every kind of damage."""
    header = ["arch_str", "cifar10_valid_valid_acc_200", "cifar10_test_acc_200"]
    header += draw(st.lists(st.sampled_from(NB201_COLUMNS), max_size=2))  # may repeat one
    if draw(st.integers(0, 9)) == 0:
        header.remove(draw(st.sampled_from(header[:3])))
    header = draw(st.permutations(header))
    archs = draw(st.lists(st.sampled_from(ARCHS), min_size=1, max_size=5, unique=True))
    rows = []
    for i, arch in enumerate(archs):
        row = []
        for h in header:
            if h == "arch_str":
                row.append(arch if draw(st.integers(0, 19)) else "|x~0|")
            elif h == "arch_index":
                row.append(str(len(archs) - i) if draw(st.integers(0, 19)) else "a")
            else:
                row.append(_cell(draw))
        if draw(st.integers(0, 19)) == 0:
            row = row[:-1]  # a short row
        rows.append(row)
    return _csv_text(header, rows)


@PROPS
@given(text=nb201_tables())
def test_nb201_csv_import_is_right_or_one_sentence(tnao_home, text):
    cache.remove("nb201")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "t.csv"
        f.write_text(text)
        try:
            nb201.import_csv(f)
        except DataError as exc:
            _sentence(exc)
            assert not cache.cache_path("nb201").exists()
        else:
            _stored_ok("nb201")
    _no_partial("nb201")


NB101_COLUMNS = ["module_hash", "val_acc_108", "test_acc_108", "valid@108", "train_time_108_s", "x"]


@st.composite
def nb101_tables(draw) -> str:
    header = ["module_hash", "val_acc_108"]
    header += draw(st.lists(st.sampled_from(NB101_COLUMNS), max_size=2))
    header = draw(st.permutations(header))
    fraction = st.floats(min_value=0, max_value=1).map(lambda v: f"{v:.4f}")
    rows = []
    for i in range(draw(st.integers(1, 4))):
        row = []
        for h in header:
            if h == "module_hash":
                row.append(f"{i:032x}" if draw(st.integers(0, 19)) else draw(st.text(max_size=3)))
            elif h in ("val_acc_108", "test_acc_108"):
                row.append(_cell(draw, fraction))
            else:
                row.append(_cell(draw))
        rows.append(row)
    return _csv_text(header, rows)


@PROPS
@given(text=nb101_tables())
def test_nb101_csv_import_is_right_or_one_sentence(tnao_home, text):
    cache.remove("nb101")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "t.csv"
        f.write_text(text)
        try:
            nb101.import_csv(f)
        except DataError as exc:
            _sentence(exc)
            assert not cache.cache_path("nb101").exists()
        else:
            _stored_ok("nb101")
    _no_partial("nb101")


_metric = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1),
)


@PROPS
@given(values=st.lists(st.tuples(_metric, _metric, _metric), min_size=1, max_size=3))
def test_nb101_tfrecord_import_is_right_or_one_sentence(tnao_home, values):
    cache.remove("nb101")
    archs = cells(len(values), seed=8)
    blob = b"".join(
        hand_frame(record(a, 108, v, t, abs(tt) * 100, 1000))
        for a, (v, t, tt) in zip(archs, values, strict=True)
    )
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "nasbench_only108.tfrecord"
        f.write_bytes(blob)
        try:
            nb101.import_file(f)
        except DataError as exc:
            _sentence(exc)
            assert not cache.cache_path("nb101").exists()
        else:
            _stored_ok("nb101")
            assert all(0 <= v <= 1 and 0 <= t <= 1 for v, t, _ in values)
    _no_partial("nb101")


_pth_value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=100),
    st.none(),
    st.text(max_size=3),
)


@PROPS
@given(
    accs=st.lists(st.tuples(_pth_value, _pth_value, _pth_value), min_size=1, max_size=3),
    epochs=st.sampled_from([200, 0, None, "200"]),
)
def test_nb201_pth_import_is_right_or_one_sentence(tnao_home, accs, epochs):
    torch = pytest.importorskip("torch")
    cache.remove("nb201")
    infos = {}
    for i, (valid, test, flop) in enumerate(accs):
        run = {
            "epochs": epochs,
            "eval_acc1es": {"x-valid@199": valid, "ori-test@199": test},
            "params": 1.0,
            "flop": flop,
        }
        infos[i] = {
            "full": {
                "arch_str": ARCHS[i],
                "all_results": {("cifar10-valid", 777): run, ("cifar10", 777): dict(run)},
                "dataset_seed": {"cifar10-valid": [777], "cifar10": [777]},
            }
        }
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "NAS-Bench-201-v1_0-e61699.pth"
        torch.save({"meta_archs": ARCHS[: len(accs)], "arch2infos": infos}, f)
        try:
            nb201.import_file(f)
        except DataError as exc:
            _sentence(exc)
            assert not cache.cache_path("nb201").exists()
        else:
            _stored_ok("nb201")
    _no_partial("nb201")


# -- what the CLI prints ---------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.text())
@example("\\[")  # Rich 15 reads a backslash before any bracket as its escape
@example("a\\\\[b]\\")
def test_user_text_is_shown_as_written(s):
    shown = visible(s)
    assert all(c in "\n\t" or not (ord(c) < 32 or 127 <= ord(c) < 160) for c in shown)
    if s.isprintable():
        assert shown == s
    assert plain(s).plain == shown
    # inside our own markup, between our own tags, whatever brackets or backslashes it has
    assert Text.from_markup(f"[b]<[/b]{esc(s)}[i]>[/i]").plain == f"<{shown}>"
    assert Text.from_markup(f"{esc(s)}").plain == shown


_jsonish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None)
@given(_jsonish)
def test_json_output_is_strict_json(value):
    text = dumps(value)
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))

    def same(a, b) -> bool:  # non-finite floats became null
        if isinstance(a, float) and not math.isfinite(a):
            return b is None
        if isinstance(a, dict):
            return list(map(str, a)) == list(b) and all(same(v, b[str(k)]) for k, v in a.items())
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    assume(len({str(k) for k in value}) == len(value) if isinstance(value, dict) else True)
    assert same(value, back)
