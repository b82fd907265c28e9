"""Faults and bad input: every case ends in one sentence and a non-zero exit, never a
traceback, never silently wrong data (the regression cases of the fault-injection report).

Each test feeds the CLI in-process (``main``) and checks the exit code and that the
message is one sentence naming the thing, with no ``Traceback`` anywhere.
"""

from __future__ import annotations

import json

import pytest

from tnao_app.cli import main
from tnao_app.config import INT64_MAX, Config
from tnao_app.errors import ConfigError


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
