"""`tnao run` end to end (tiny config on the real NB201 table) and its bad input."""

from __future__ import annotations

import json
import re

import pytest

from tnao_app.cli import main

TINY = {
    "sample": {"n_labelled": 10, "n_unlabelled": 200},
    "model": {"d_model": 16, "n_heads": 2, "d_latent": 8, "n_predictors": 1},
    "train": {"epochs": 1, "finetune_epochs": 1, "finetune_batches": 1, "batch_size": 128},
    "search": {"particles": 4, "generations": 2, "rounds": 2},
}


def _run(argv, capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tiny_cfg(tmp_path):
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(TINY))
    return p


def test_run_json(nb201_table, tiny_cfg, tmp_path, capsys):
    code, out, err = _run(
        [
            "run",
            "--benchmark",
            "nb201",
            "--dataset",
            "cifar10",
            "--method",
            "tnao",
            "--budget",
            "20",
            "--seed",
            "1",
            "--device",
            "cpu",
            "--config",
            str(tiny_cfg),
            "--db",
            str(tmp_path / "h.db"),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["queries"] == 20 and res["method"] == "tnao" and res["seed"] == 1
    assert set(res["best"]) == {"arch", "valid", "test", "rank", "table_rank", "percentile"}
    assert res["optimum"]["test"] > res["best"]["test"] - 1e-9
    assert res["device"] == "cpu" and res["leaderboard"]
    assert [r["position"] for r in res["leaderboard"]] == list(
        range(1, len(res["leaderboard"]) + 1)
    )
    assert all("rank" not in r for r in res["leaderboard"])


def test_run_human_output(nb201_table, tiny_cfg, tmp_path, capsys):
    code, out, err = _run(
        [
            "run",
            "-b",
            "nb201",
            "--budget",
            "14",
            "--samples",
            "10",
            "--particles",
            "4",
            "--generations",
            "1",
            "--epochs",
            "1",
            "--config",
            str(tiny_cfg),
            "--db",
            str(tmp_path / "h.db"),
        ],
        capsys,
    )
    assert code == 0, err
    assert "Found" in out and "rank" in out and "queries used: 14 of 14" in out
    assert "|" in out.split("Found", 1)[1].splitlines()[0]  # the native arch string
    # the same formats as `tnao show`: accuracies with 2 decimals, percentile in percent
    assert re.search(r"\(reported\): +\d+\.\d\d\n", out), out
    assert re.search(r"percentile \d+\.\d\d%\); table optimum \d+\.\d\d\n", out), out


def test_dataset_names_are_case_insensitive_with_official_aliases(tnao_home, tmp_path, capsys):
    db = str(tmp_path / "h.db")
    for given, meant in (("CIFAR10-Valid", "cifar10"), ("Cifar10-PTQ", "cifar10-ptq")):
        code, out, err = _run(
            [
                "run",
                "-b",
                "analog",
                "-d",
                given,
                "-m",
                "random",
                "--budget",
                "5",
                "--db",
                db,
                "--json",
            ],
            capsys,
        )
        assert code == 0, err
        assert json.loads(out)["dataset"] == meant
    code, out, err = _run(
        [
            "experiment",
            "-b",
            "analog",
            "-d",
            "CIFAR10-valid",
            "-m",
            "random",
            "-s",
            "0",
            "--budgets",
            "5",
            "-w",
            "1",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["dataset"] == "cifar10"


def test_imagenet16_120_is_imagenet16(nb201_table, tmp_path, capsys):
    code, out, err = _run(
        [
            "run",
            "-b",
            "nb201",
            "-d",
            "ImageNet16-120",
            "-m",
            "random",
            "--budget",
            "5",
            "--db",
            str(tmp_path / "h.db"),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["dataset"] == "imagenet16"
    code, out, err = _run(
        [
            "experiment",
            "-b",
            "nb201",
            "-d",
            "imagenet16-120",
            "-m",
            "random",
            "-s",
            "0",
            "--budgets",
            "5",
            "-w",
            "1",
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["dataset"] == "imagenet16"


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--budget", "5"], "below the sample size"),
        (["--dataset", "mnist"], "no dataset 'mnist'"),
        (
            ["--dataset", "ImageNet"],
            "no dataset 'imagenet'; it has: cifar10, cifar100, imagenet16.",
        ),
        (["--particles", "3"], "particles must be an even number"),
        (["--method", "magic"], "method 'magic' is unknown"),
        (["--device", "tpu"], "device 'tpu' is unknown"),
    ],
)
def test_bad_input_one_sentence_nonzero(nb201_table, tmp_path, capsys, argv, msg):
    code, out, err = _run(["run", "-b", "nb201", "--db", str(tmp_path / "h.db"), *argv], capsys)
    assert code != 0
    text = " ".join(err.split())
    assert msg in text and "Traceback" not in text


def test_benchmark_not_ready(tnao_home, tmp_path, capsys):
    code, _, err = _run(["run", "-b", "nb201", "--db", str(tmp_path / "h.db")], capsys)
    assert code != 0 and "tnao data import" in " ".join(err.split())


def test_bad_config_file(tmp_path, capsys):
    p = tmp_path / "bad.json"
    p.write_text('{"train": {"epochs": "many"}}')
    code, _, err = _run(["run", "--config", str(p)], capsys)
    assert code != 0 and "train.epochs" in err


# -- the help a new user reads first (#19): each failed before its fix ------------------------
def _help(capsys, monkeypatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = _run([*argv, "--help"], capsys)
    assert code == 0, err
    return out


def test_help_flags_take_no_value(capsys, monkeypatch):
    for argv in ((), ("run",), ("history",), ("export",)):
        out = _help(capsys, monkeypatch, *argv)
        assert "<bool>" not in out, out
        assert re.search(r"--help\s+Show this message", out), out
    assert re.search(r"--json\s+Print the result as JSON only", _help(capsys, monkeypatch, "run"))


def test_help_summaries_are_whole_sentences(capsys, monkeypatch):
    out = _help(capsys, monkeypatch)
    line = next(x for x in out.splitlines() if "experiment" in x)
    # the command list holds the summary whole, on one line, a sentence to its end
    assert re.search(
        r"experiment\s+Compare search methods over seeds and budgets, as a table\.", line
    )


def test_run_help_shows_the_defaults(capsys, monkeypatch):
    from tnao_app.config import Config

    d = Config()
    flat = " ".join(_help(capsys, monkeypatch, "run").replace("│", " ").split())
    for text in (
        f"(default: {d.run.budget})",
        f"(default: {d.run.benchmark})",
        f"(default: {d.run.method})",
        f"(default: {d.search.particles})",
        f"(default: {d.search.rounds})",
    ):
        assert text in flat, text


def test_version(capsys):
    from tnao_app import __version__

    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.strip() == f"tnao {__version__}"


def test_the_cli_package_loads_without_torch():
    # `tnao --help`, `tnao history` and the app's run process (python -m
    # tnao_app.cli.child, which loads this package first) paid ~4 s for torch before a
    # word was said; the commands that need it import it themselves.
    import subprocess
    import sys

    code = "import sys, tnao_app.cli, tnao_app.cli.child; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
