"""Faults and bad input: every case ends in one sentence and a non-zero exit, never a
traceback, never silently wrong data (the regression cases of the fault-injection report).

Each test feeds the CLI in-process (``main``) and checks the exit code and that the
message is one sentence naming the thing, with no ``Traceback`` anywhere.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from tnao_app.cli import main
from tnao_app.config import INT64_MAX, Config
from tnao_app.errors import ConfigError
from tnao_app.storage import Store


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    got = capsys.readouterr()
    assert "Traceback" not in got.out + got.err, got.err
    return code, got.out, got.err


def _one_sentence(err: str) -> str:
    """The error line the CLI printed (exactly one, ending with a full stop)."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ") and lines[0].endswith("."), err
    return lines[0]


def _run_config(tmp_path, capsys, data, *extra: str) -> str:
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(data) if not isinstance(data, str) else data)
    code, _, err = _cli(capsys, "run", "--config", str(cfg), "--db", str(tmp_path / "h.db"), *extra)
    assert code == 2, err
    assert not (tmp_path / "h.db").exists()  # bad input records nothing
    return _one_sentence(err)


# -- 2, 3, 4, 5: config values ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"train": [1, 2]}, ["'train'", "object", "a list"]),
        ({"model": "big"}, ["'model'", "object", "a string"]),
        ({"run": None}, ["'run'", "object", "null"]),
        ({"bogus": {}}, ["'bogus'", "expected one of run"]),
    ],
)
def test_config_section_not_an_object(tnao_home, tmp_path, capsys, data, words):
    line = _run_config(tmp_path, capsys, data)
    assert all(w in line for w in words), line


def test_config_heads_zero(tnao_home, tmp_path, capsys):
    line = _run_config(tmp_path, capsys, {"model": {"n_heads": 0}})
    assert "model.n_heads" in line and ">= 1" in line


def test_config_heads_must_divide_width(tnao_home, tmp_path, capsys):
    line = _run_config(tmp_path, capsys, {"model": {"d_model": 32, "n_heads": 5}})
    assert "divisible by n_heads (5)" in line


@pytest.mark.parametrize("seed", [str(INT64_MAX + 1), str(10**30)])
def test_seed_beyond_64_bits(tnao_home, tmp_path, capsys, seed):
    line = _run_config(tmp_path, capsys, {}, "--seed", seed)
    assert "run.seed" in line and "64-bit" in line and str(INT64_MAX) in line


def test_seed_at_64_bit_limit_is_valid():
    cfg = Config.from_dict({"run": {"seed": INT64_MAX}}).validate()
    assert cfg.run.seed == INT64_MAX


def test_model_width_beyond_memory(tnao_home, tmp_path, capsys):
    line = _run_config(tmp_path, capsys, {"model": {"d_model": 2**20}})
    assert "model.d_model 1048576" in line and "memory" in line and "GB" in line


def test_threads_beyond_cores(tnao_home, tmp_path, capsys):
    line = _run_config(tmp_path, capsys, {"run": {"threads": 10**6}})
    assert "run.threads" in line and "cores" in line and "1000000" in line


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"train": {"lr": NaN}}', "train.lr"),
        ('{"train": {"lr": Infinity}}', "train.lr"),
        ('{"train": {"lr": 1e999}}', "train.lr"),
        ('{"search": {"phi": -Infinity}}', "search.phi"),
        ('{"train": {"epochs": 100000000000000000000}}', "train.epochs"),
        ('{"train": {"lr": 1%s}}' % ("0" * 400), "train.lr"),
        ('{"sample": {"n_unlabelled": 100000000000}}', "sample.n_unlabelled"),
        ('{"search": {"particles": 10000000000}}', "search.particles"),
        ('{"baselines": {"predictor_hidden": 10000000}}', "baselines.predictor_hidden"),
    ],
)
def test_config_numbers_out_of_range(tnao_home, tmp_path, capsys, text, field):
    line = _run_config(tmp_path, capsys, text)
    assert field in line, line


def test_validate_checks_types_set_in_code():
    cfg = Config()
    cfg.model.n_heads = "4"  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="model.n_heads"):
        cfg.validate()
    cfg = Config()
    cfg.train.lr = float("nan")
    with pytest.raises(ConfigError, match="train.lr.*finite"):
        cfg.validate()


def test_defaults_still_valid():
    assert Config().validate().to_dict() == Config().to_dict()


# -- 1: user text is printed as plain text ---------------------------------------------------
PAYLOADS = ["[/x]", "[bold]", "\x1b[31m", "[red]x[/red]", "tail\\"]


def _shown(payload: str) -> str:
    """How the CLI shows ``payload``: literally, the control character as its escape."""
    return payload.replace("\x1b", "\\x1b")


def _assert_echoed(payload: str, text: str) -> None:
    assert _shown(payload) in text, text
    assert "\x1b" not in text  # no control code reaches the terminal


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_run_id_options_and_paths(tnao_home, tmp_path, capsys, payload):
    db = tmp_path / "h.db"
    Store(db).close()
    cases = [
        (["show", payload, "--db", str(db)], 1),
        (["resume", payload, "--db", str(db)], 1),
        (["delete", payload, "--db", str(db), "--yes"], 1),
        (["export", payload, "--db", str(db)], 1),
        (["history", "--status", payload, "--db", str(db)], 2),
        (["run", "--dataset", payload, "--budget", "30", "--db", str(db)], 2),
        (["run", "--benchmark", payload, "--db", str(db)], 2),
        (["run", "--method", payload, "--db", str(db)], 2),
        (["run", "--device", payload, "--db", str(db)], 2),
        (["run", "--config", str(tmp_path / f"{payload}.json"), "--db", str(db)], 2),
        (["experiment", "--methods", payload], 2),
        (["experiment", "--seeds", payload], 2),
        (["data", "import", str(tmp_path / f"{payload}.csv"), "-b", "nb201"], 2),
        (["data", "import", str(tmp_path), "-b", payload], 2),
    ]
    for argv, want in cases:
        code, out, err = _cli(capsys, *argv)
        assert code == want, (argv, err)
        _one_sentence(err)
        _assert_echoed(payload, err)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_run_name_history_and_show(tnao_home, tmp_path, capsys, payload):
    db = tmp_path / "h.db"
    cfg = Config.from_dict({"run": {"name": payload}})
    store = Store(db)
    rid = store.create_run(cfg)
    store.create_run(Config())  # a second run: the whole history is listed
    for argv in (["history"], ["show", rid]):
        code, out, err = _cli(capsys, *argv, "--db", str(db))
        assert code == 0, err
        _assert_echoed(payload, out)
    code, out, _ = _cli(capsys, "history", "--json", "--db", str(db))
    assert code == 0 and payload in [r["name"] for r in json.loads(out)]
    target = tmp_path / f"out{payload.replace('/', '_')}.json"
    code, _, err = _cli(capsys, "export", rid, "-o", str(target), "--db", str(db))
    assert code == 0, err
    _assert_echoed(payload.replace("/", "_"), err)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_csv_cells_and_file_names(tnao_home, tmp_path, capsys, payload):
    safe = payload.replace("/", "_")  # a file name cannot hold a slash
    folder = tmp_path / safe
    folder.mkdir()
    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    bad_cells = [
        ("arch_str,cifar10_valid_valid_acc_200\n" + f'"{payload}",90\n', "arch_str"),
        ("arch_str,cifar10_valid_valid_acc_200\n" + f'"{arch}","{payload}"\n', "cifar10"),
    ]
    for text, _column in bad_cells:
        csv = folder / f"{safe}.csv"
        csv.write_text(text)
        code, _, err = _cli(capsys, "data", "import", str(csv), "-b", "nb201")
        assert code == 1, err
        line = _one_sentence(err)
        _assert_echoed(payload, line)
        assert _shown(f"{safe}.csv") in line
    code, _, err = _cli(capsys, "data", "import", str(folder / "none.csv"), "-b", "nb101")
    assert code == 2
    _assert_echoed(safe, err)


def test_markup_in_error_dialog_of_the_app(tnao_home):
    """The app's error dialog shows the sentence as written (it quotes user text)."""
    import asyncio

    pytest.importorskip("textual")
    from tnao_app.screens.app import TnaoApp
    from tnao_app.screens.dialogs import ErrorDialog

    message = "There is no run '[/x]' nor '[bold]' in h.db; 'tnao history' lists them."

    async def main_() -> str:
        app = TnaoApp(db=tnao_home / "history.db")
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.show_error(message)
            await pilot.pause(0.3)
            assert isinstance(app.screen, ErrorDialog)
            return str(app.screen.query_one("#message").render())

    assert "'[/x]' nor '[bold]'" in asyncio.run(main_())


# -- 8: a CSV column named twice -------------------------------------------------------------
ARCHS = [
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
]


def _nb201_csv(path, header: list[str], rows: list[list[object]]) -> None:
    lines = [",".join(header)] + [",".join(f'"{c}"' for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def _import_fails(capsys, path, benchmark: str = "nb201") -> str:
    from tnao_app.benchmarks import cache

    code, _, err = _cli(capsys, "data", "import", str(path), "-b", benchmark)
    assert code == 1, err
    assert not cache.cache_path(benchmark).exists()  # nothing half-written
    assert not list(cache.cache_path(benchmark).parent.glob("*.tmp"))
    return _one_sentence(err)


@pytest.mark.parametrize("with_index", [True, False], ids=["arch_index", "no_index"])
def test_csv_metric_column_named_twice(tnao_home, tmp_path, capsys, with_index):
    valid, test = "cifar10_valid_valid_acc_200", "cifar10_test_acc_200"
    header = ["arch_str", valid, test, valid]
    rows = [[a, 80 + i, 81 + i, 70 + i] for i, a in enumerate(ARCHS)]
    if with_index:
        header = ["arch_index", *header]
        rows = [[2 - i, *r] for i, r in enumerate(rows)]
    path = tmp_path / "twice.csv"
    _nb201_csv(path, header, rows)
    line = _import_fails(capsys, path)
    col = 3 if with_index else 2
    assert f"the column '{valid}' twice (columns {col} and {col + 2})" in line
    assert "twice.csv" in line


def test_csv_two_names_of_one_metric(tnao_home, tmp_path, capsys):
    path = tmp_path / "alias.csv"
    header = [
        "arch_str",
        "cifar10_valid_valid_acc_200",
        "cifar10/ori-test@200",
        "cifar10_test_acc_200",
    ]
    _nb201_csv(path, header, [[a, 80, 81, 82] for a in ARCHS])
    line = _import_fails(capsys, path)
    assert "'cifar10/ori-test@200' and 'cifar10_test_acc_200'" in line and "one column" in line


def test_nb101_csv_column_named_twice(tnao_home, tmp_path, capsys):
    path = tmp_path / "nb101.csv"
    h = "0" * 32
    path.write_text(f"module_hash,val_acc_108,val_acc_108\n{h},0.9,0.8\n")
    line = _import_fails(capsys, path, "nb101")
    assert "the column 'val_acc_108' twice (columns 2 and 3)" in line


# -- 9: NaN, inf, negative and > 100 % accuracies ----------------------------------------------
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("nan", "finite number"),
        ("inf", "finite number"),
        ("-Infinity", "finite number"),
        ("-0.5", "from 0 to 100"),
        ("100.5", "from 0 to 100"),
    ],
)
def test_nb201_csv_metric_out_of_range(tnao_home, tmp_path, capsys, cell, expected):
    path = tmp_path / "bad.csv"
    rows = [[a, 80, 81] for a in ARCHS]
    rows[1][1] = cell
    _nb201_csv(path, ["arch_str", "cifar10_valid_valid_acc_200", "cifar10_test_acc_200"], rows)
    line = _import_fails(capsys, path)
    assert f"bad.csv line 3 column 'cifar10_valid_valid_acc_200' is '{cell}'" in line
    assert expected in line


def test_nb201_csv_negative_cost_and_empty_cell(tnao_home, tmp_path, capsys):
    path = tmp_path / "cost.csv"
    header = ["arch_str", "cifar10_valid_valid_acc_200", "cifar10_test_acc_200", "flops_M_cifar10"]
    _nb201_csv(path, header, [[a, 80, 81, -3 if i == 2 else 5] for i, a in enumerate(ARCHS)])
    line = _import_fails(capsys, path)
    assert "line 4 column 'flops_M_cifar10' is '-3', expected a finite number >= 0" in line
    # an empty cell is a missing value, as before
    _nb201_csv(path, header, [[a, 80, 81, "" if i == 2 else 5] for i, a in enumerate(ARCHS)])
    code, _, err = _cli(capsys, "data", "import", str(path), "-b", "nb201")
    assert code == 0, err


@pytest.mark.parametrize(("cell", "expected"), [("nan", "finite"), ("1.5", "from 0 to 1")])
def test_nb101_csv_metric_out_of_range(tnao_home, tmp_path, capsys, cell, expected):
    path = tmp_path / "nb101.csv"
    h1, h2 = "0" * 32, "1" * 32
    path.write_text(f"module_hash,val_acc_108\n{h1},0.9\n{h2},{cell}\n")
    line = _import_fails(capsys, path, "nb101")
    assert f"line 3 column 'val_acc_108' is '{cell}'" in line and expected in line


def _pth(path, accs: list[float]) -> None:
    """A minimal official-layout .pth: one 200-epoch cifar10-valid/cifar10 run per arch."""
    torch = pytest.importorskip("torch")
    infos = {}
    for i, acc in enumerate(accs):
        run = {
            "epochs": 200,
            "eval_acc1es": {"x-valid@199": acc, "ori-test@199": 80.0},
            "params": 1.5,
            "flop": 20.0,
        }
        state = {
            "arch_index": i,
            "arch_str": ARCHS[i],
            "all_results": {("cifar10-valid", 777): run, ("cifar10", 777): dict(run)},
            "dataset_seed": {"cifar10-valid": [777], "cifar10": [777]},
        }
        infos[i] = {"full": state}
    torch.save({"meta_archs": ARCHS[: len(accs)], "arch2infos": infos}, path)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (float("nan"), ["architecture 1", "nan", "cifar10-valid/x-valid@200", "finite"]),
        (float("inf"), ["architecture 1", "inf", "finite"]),
        (-1.0, [ARCHS[1], "-1", "cifar10-valid/x-valid@200", "from 0 to 100"]),
        (101.0, [ARCHS[1], "101", "from 0 to 100"]),
    ],
)
def test_nb201_pth_metric_out_of_range(tnao_home, tmp_path, capsys, value, words):
    path = tmp_path / "NAS-Bench-201-v1_0-e61699.pth"
    _pth(path, [90.0, 90.0, 90.0])
    code, _, err = _cli(capsys, "data", "import", str(path), "-b", "nb201")
    assert code == 0, err  # the layout is right
    from tnao_app.benchmarks import cache

    cache.remove("nb201")
    _pth(path, [90.0, value, 90.0])
    line = _import_fails(capsys, path)
    assert all(w in line for w in words), line


@pytest.mark.parametrize(
    ("valid", "test", "ttime", "words"),
    [
        (float("nan"), 0.9, 10.0, ["validation_accuracy nan", "fraction from 0 to 1"]),
        (0.9, float("inf"), 10.0, ["test_accuracy inf", "fraction from 0 to 1"]),
        (1.5, 0.9, 10.0, ["validation_accuracy 1.5"]),
        (-0.1, 0.9, 10.0, ["validation_accuracy -0.1"]),
        (0.9, 0.9, float("inf"), ["training_time inf", "seconds"]),
    ],
)
def test_nb101_tfrecord_metric_out_of_range(tnao_home, tmp_path, capsys, valid, test, ttime, words):
    from test_nb101_import import cells, hand_frame, record

    archs = cells(3, seed=4)
    recs = [record(a, 108, 0.9, 0.89, 100.0, 1000) for a in archs]
    recs[1] = record(archs[1], 108, valid, test, ttime, 1000)
    path = tmp_path / "nasbench_only108.tfrecord"
    path.write_bytes(b"".join(hand_frame(r) for r in recs))
    offset = len(hand_frame(recs[0]))
    line = _import_fails(capsys, path, "nb101")
    assert f"the record at byte offset {offset} has final" in line
    assert all(w in line for w in words), line


def test_json_output_has_no_nan_or_infinity(tnao_home, tmp_path, capsys, monkeypatch):
    """An infinite or NaN value anywhere in a result prints as null: strict JSON."""
    from tnao_app.cli import run as run_cli
    from tnao_app.export import dumps

    def strict(text: str):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))

    assert strict(dumps({"a": float("inf"), "b": [float("nan"), 1.5], "c": {1: -float("inf")}}))
    res = {
        "best": {"arch": ARCHS[0], "valid": float("inf"), "test": float("nan"), "rank": 1},
        "leaderboard": [{"rank": 1, "arch": ARCHS[0], "valid": float("inf")}],
        "queries": 1,
    }
    monkeypatch.setattr(run_cli, "execute", lambda cfg, db, listeners, **kw: res)
    code, out, err = _cli(capsys, "run", "--json", "--db", str(tmp_path / "h.db"))
    assert code == 0, err
    doc = strict(out)
    assert doc["best"]["valid"] is None and doc["leaderboard"][0]["valid"] is None


# -- 6, 7: a read-only TNAO_HOME, a full disk --------------------------------------------------
@pytest.fixture(params=["simulated", "chmod"])
def readonly_home(request, tmp_path, monkeypatch):
    """A TNAO_HOME that cannot be created: a read-only file system (EROFS on every write
    under it), or, where the user is not root, a parent folder without write permission."""
    import errno
    import os

    parent = tmp_path / "ro"
    parent.mkdir()
    home = parent / "home"
    monkeypatch.setenv("TNAO_HOME", str(home))
    if request.param == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        parent.chmod(0o555)
        yield home, "permission denied"
        parent.chmod(0o755)
        return
    real_mkdir, real_open = os.mkdir, os.open

    def under(path) -> bool:
        return str(os.fspath(path)).startswith(str(parent))

    def mkdir(path, *a, **k):
        if under(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_mkdir(path, *a, **k)

    def open_(path, flags, *a, **k):
        if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)
    yield home, "the file system is read-only"


def test_readonly_home(readonly_home, tmp_path, capsys):
    home, why = readonly_home
    # reading needs no folder: the embedded benchmark is read from its package
    code, out, err = _cli(capsys, "data", "status")
    assert code == 0, err
    assert "analog" in out and "ready" in out
    code, out, _ = _cli(capsys, "data", "status", "--json")
    assert code == 0 and json.loads(out)[0]["ready"]
    csv = tmp_path / "one.csv"
    _nb201_csv(
        csv,
        ["arch_str", "cifar10_valid_valid_acc_200", "cifar10_test_acc_200"],
        [[ARCHS[0], 80, 81]],
    )
    for argv in (
        ["history"],
        ["show", "abc"],
        ["run", "--budget", "30"],
        ["data", "import", str(csv), "-b", "nb201"],
    ):
        code, _, err = _cli(capsys, *argv)
        assert code == 1, (argv, err)
        line = _one_sentence(err)
        assert str(home) in line and why in line, line
        assert "make it writable or set TNAO_HOME" in line, line
    assert not home.exists()


def test_full_disk_on_import_leaves_no_partial_file(tnao_home, tmp_path, capsys, monkeypatch):
    import errno

    import numpy as np

    from tnao_app.benchmarks import cache

    def savez(f, **arrays):
        f.write(b"\0" * 4096)  # part of the file made it, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    csv = tmp_path / "one.csv"
    _nb201_csv(
        csv,
        ["arch_str", "cifar10_valid_valid_acc_200", "cifar10_test_acc_200"],
        [[ARCHS[0], 80, 81]],
    )
    with monkeypatch.context() as m:
        m.setattr(np, "savez", savez)
        line = _import_fails(capsys, csv)
    assert f"The cache {cache.cache_path('nb201')} could not be written: the disk is full" in line
    assert "free some space there or set TNAO_HOME" in line
    assert [p.name for p in cache.cache_path("nb201").parent.iterdir()] == []
    code, _, err = _cli(capsys, "data", "import", str(csv), "-b", "nb201")  # space again
    assert code == 0, err


def test_full_disk_on_the_history(tnao_home, tmp_path, capsys):
    import sqlite3

    from tnao_app.storage.base import translate

    msg = str(translate(tmp_path / "h.db", sqlite3.OperationalError("database or disk is full")))
    assert "h.db" in msg and "free some space" in msg and msg.endswith(".")


def test_an_os_error_no_command_translated_is_one_sentence(tnao_home, capsys, monkeypatch):
    import errno

    from tnao_app import benchmarks

    def status():
        raise OSError(errno.ENOSPC, "No space left on device", "/somewhere/file.bin")

    monkeypatch.setattr(benchmarks, "status", status)
    code, _, err = _cli(capsys, "data", "status")
    assert code == 1
    line = _one_sentence(err)
    assert "The file /somewhere/file.bin could not be written: the disk is full" in line


# -- 11: the stage timeline after a resume -----------------------------------------------------
TIMELINE = {
    "run": {"budget": 30, "seed": 4, "device": "cpu", "threads": 1, "checkpoint_every": 0.0},
    "sample": {"n_labelled": 20, "n_unlabelled": 800},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_latent": 8},
    "train": {"stage1": "joint", "epochs": 6, "finetune_epochs": 1},
    "search": {"particles": 8, "generations": 6, "rounds": 1},
}


class _Crash(BaseException):
    """The process dies here (as with kill -9): nothing more is recorded."""


def _run_until_crash(db, when, config: dict = TIMELINE) -> str:
    """Start a run whose process dies at ``when(kind, what)``: 'checkpoint' (stage, step)
    once the file and its row are written, or 'event' once the event is recorded."""
    from tnao_app.runs.session import start_run
    from tnao_app.storage.recorder import Recorder

    class Dying(Recorder):
        def checkpoint(self, stage, step, state):
            out = super().checkpoint(stage, step, state)
            if when("checkpoint", (stage, step)):
                raise _Crash
            return out

        def __call__(self, event):
            super().__call__(event)
            if when("event", event):
                raise _Crash

        def end_with_exception(self, exc):
            if not isinstance(exc, _Crash):
                super().end_with_exception(exc)
            self.close()

    class DyingStore(Store):
        def recorder(self, run_id, notify=()):
            return Dying(self, self.resolve(run_id), notify=notify)

    ids = []
    with pytest.raises(_Crash):
        start_run(Config.from_dict(config), DyingStore(db), listeners=[_ids(ids)])
    # the dead process: its pid is gone
    dead = subprocess.Popen(["true"])
    dead.wait()
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET pid = ? WHERE id = ?", [dead.pid, ids[0]])
    con.commit()
    con.close()
    return ids[0]


def _ids(out: list):
    from tnao_app import events as ev

    def listen(e):
        if isinstance(e, ev.RunStarted):
            out.append(e.run_id)

    return listen


def _train_row(store, rid) -> dict:
    return next(s for s in store.stages(rid) if s["stage"] == "train" and s["round"] == 0)


@pytest.fixture(scope="module")
def timeline_reference(tmp_path_factory):
    from tnao_app.runs.session import start_run

    home = tmp_path_factory.mktemp("timeline_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TNAO_HOME", str(home))
    try:
        db = home / "ref.db"
        res = start_run(Config.from_dict(TIMELINE), Store(db))
        store = Store(db)
        return res, _train_row(store, res["run_id"]), store.epochs(res["run_id"])
    finally:
        mp.undo()


@pytest.mark.parametrize("where", ["last_train_checkpoint", "after_train_finished"])
def test_stage_timeline_after_resume_counts_both_parts(
    tnao_home, tmp_path, timeline_reference, where
):
    from tnao_app import events as ev
    from tnao_app.runs.session import resume_run

    base, ref_train, ref_epochs = timeline_reference
    epochs = TIMELINE["train"]["epochs"]

    def when(kind, what) -> bool:
        if where == "last_train_checkpoint":
            return kind == "checkpoint" and what == ("train", epochs)
        return kind == "event" and isinstance(what, ev.StageFinished) and what.stage == "train"

    db = tmp_path / "h.db"
    rid = _run_until_crash(db, when)
    store = Store(db)
    first = _train_row(store, rid)
    assert store.get_run(rid)["status"] == "interrupted"
    assert first["seconds"] is not None and first["seconds"] > 0  # counted up to the crash
    res = resume_run(rid, Store(db))
    assert res["leaderboard"] == base["leaderboard"]
    train = _train_row(store, rid)
    assert train["status"] == "finished"
    # the time of both parts: at least the training epochs done before the resume
    assert train["seconds"] >= 0.9 * sum(e["seconds"] for e in store.epochs(rid) if e["round"] == 0)
    assert train["seconds"] >= first["seconds"]
    assert train["started_at"] == first["started_at"]  # the stage began before the resume
    summary, want = train["summary"], ref_train["summary"]
    assert summary["loss"] == want["loss"] and summary["epochs"] == want["epochs"]
    assert "val_tau" in summary
    if where == "after_train_finished":
        assert summary == want  # the finished stage's summary is kept whole


def test_a_stage_redone_after_a_resume_is_counted_once(tnao_home, tmp_path):
    """Checkpoints come by time, not at every stage: the latest can lie a stage or more
    before the crash. What came after it is done again, and counted once."""
    from tnao_app import events as ev
    from tnao_app.runs.session import resume_run

    config = {**TIMELINE, "run": {**TIMELINE["run"], "checkpoint_every": 3600.0}}

    def when(kind, what) -> bool:
        return kind == "event" and isinstance(what, ev.StageFinished) and what.stage == "train"

    db = tmp_path / "h.db"
    rid = _run_until_crash(db, when, config)  # only the run's first step is saved
    store = Store(db)
    first = _train_row(store, rid)
    assert first["status"] == "finished"  # the crash came after it
    assert [a["stage"] for a in store.artifacts(rid)] == ["sample"]
    resume_run(rid, Store(db))
    train = _train_row(store, rid)
    # the training was done again from the sample's checkpoint: one part, counted once
    assert train["status"] == "finished" and train["started_at"] > first["finished_at"]
    assert train["seconds"] <= train["finished_at"] - train["started_at"] + 0.05
    assert [q["n"] for q in store.queries(rid)] == list(range(1, 31))


def test_markup_in_run_name_on_the_app_home(tnao_home):
    """Home lists a run named '[/x]' (with every other run) instead of crashing."""
    import asyncio

    pytest.importorskip("textual")
    from textual.widgets import DataTable

    from tnao_app.screens.app import TnaoApp
    from tnao_app.screens.home import HomeScreen

    db = tnao_home / "history.db"
    store = Store(db)
    for payload in ("[/x]", "[bold]", "\x1b[31m"):
        store.create_run(Config.from_dict({"run": {"name": payload}}))

    async def main_() -> str:
        app = TnaoApp(db=db)
        async with app.run_test(size=(160, 30)) as pilot:
            for _ in range(50):
                await pilot.pause(0.1)
                if isinstance(app.screen, HomeScreen) and app.screen.runs:
                    break
            await pilot.pause(0.3)
            assert isinstance(app.screen, HomeScreen) and len(app.screen.runs) == 3
            table = app.screen.query_one("#runs", DataTable)
            return app.export_screenshot(), [str(k.value) for k in table.columns]

    shown, columns = asyncio.run(main_())
    if "name" in columns:  # the names as written (none read as markup)
        assert "[/x]" in shown and "[bold]" in shown


def test_experiment_seed_range_is_bounded(tnao_home, capsys):
    """'0-100000000000' was a set of 10^11 seeds built before anything ran: memory ran out."""
    code, _, err = _cli(capsys, "experiment", "--seeds", "0-100000000000", "-m", "random")
    assert code == 2
    line = _one_sentence(err)
    assert "100,000,000,001 seeds" in line and "at most 100,000" in line
