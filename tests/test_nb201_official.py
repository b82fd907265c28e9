"""Readers of the official NAS-Bench-201 / NATS-Bench files (nb201_official.py).

Fixtures are the genuine NATS-tss records of architectures 0, 11 and 284 in
../shared/data/raw (official "simple" archive files). The .pth and full .pbz2 files are
built here in the official layouts from those genuine records (the real files are
2-5 GB): the same ArchResults / ResultsCount state dicts, numpy scalars included.
Expected values come from the independent shared CSV (other sources, see PROVENANCE.md).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import NATS_SIMPLE, NB201_CSV, need

from tnao_app import benchmarks
from tnao_app.benchmarks import cache, nb201, nb201_official
from tnao_app.cli import main
from tnao_app.errors import DataError

GENUINE = (0, 11, 284)


@pytest.fixture(scope="module")
def genuine() -> dict:
    """meta_archs and the records {index: {'12': state, '200': state}} of the genuine files."""
    folder = need(NATS_SIMPLE)
    meta, _ = nb201_official._read_pbz2(folder / "meta.pickle.pbz2")
    recs = {}
    for i in GENUINE:
        rec, _ = nb201_official._read_pbz2(folder / f"{i:06d}.pickle.pbz2")
        recs[i] = rec
    return {"meta_archs": meta["meta_archs"], "records": recs}


@pytest.fixture(scope="module")
def csv_rows() -> dict[int, dict[str, str]]:
    need(NB201_CSV)
    with gzip.open(NB201_CSV, "rt", newline="") as f:
        rows = {int(r["arch_index"]): r for r in csv.DictReader(f) if int(r["arch_index"])
                in GENUINE}
    return rows


def check_against_csv(table, csv_rows) -> None:
    """Every metric of the shared CSV equals the one read from the official records."""
    assert len(table) == len(GENUINE)
    for row, index in enumerate(GENUINE):
        ref = csv_rows[index]
        assert table.native(row) == ref["arch_str"]
        for col, metric in nb201.CSV_ALIASES.items():
            if col in ref:
                assert table.metrics[metric][row] == pytest.approx(float(ref[col]), abs=1e-6), (
                    index, metric)


def pth_layout(genuine, indexes=GENUINE) -> dict:
    """The dict the official NAS-Bench-201 .pth holds: 'less' = 12 epochs, 'full' = 200."""
    return {
        "meta_archs": list(genuine["meta_archs"]),
        "arch2infos": {
            i: {"less": dict(genuine["records"][i]["12"]),
                "full": dict(genuine["records"][i]["200"])}
            for i in indexes
        },
        "evaluated_indexes": set(indexes),
    }


def nats_full_layout(genuine) -> dict:
    return {
        "meta_archs": list(genuine["meta_archs"]),
        "total_archs": len(genuine["meta_archs"]),
        "arch2infos": {i: dict(genuine["records"][i]) for i in GENUINE},
        "evaluated_indexes": set(GENUINE),
    }


def no_cache_left() -> bool:
    d = cache.cache_path("nb201").parent
    return not cache.cache_path("nb201").exists() and not any(d.glob("*.tmp"))


# ------------------------------------------------------------------ simple folder (genuine)


def test_simple_folder_genuine_records_match_shared_csv(tnao_home, csv_rows):
    out = benchmarks.import_file(need(NATS_SIMPLE), "nb201")
    assert out == cache.cache_path("nb201")
    table = benchmarks.load("nb201")
    check_against_csv(table, csv_rows)
    # PROVENANCE's arch-0 numbers, spelled out.
    m = {k: float(v[0]) for k, v in table.metrics.items()}
    assert m["cifar10/ori-test@200"] == pytest.approx(85.863333, abs=1e-5)
    assert m["cifar100/x-test@200"] == pytest.approx(52.913333, abs=1e-5)
    assert m["ImageNet16-120/x-test@200"] == pytest.approx(26.633333, abs=1e-5)
    assert m["cifar10-valid/x-valid@200"] == pytest.approx(81.982667, abs=1e-5)
    assert m["cifar10-valid/ori-test@200"] == pytest.approx(81.52, abs=1e-5)
    assert m["cifar10/ori-test@12"] == pytest.approx(69.55, abs=1e-5)
    # A partial table: only the 3 archs, and 200-epoch x-valid is complete for them.
    assert table.source["partial"] is True and table.source["format"] == "nats-tss-simple"
    assert table.dataset("cifar100").signal == "cifar100/x-valid@200"
    assert table.dataset("imagenet16").signal == "ImageNet16-120/x-valid@200"


def test_ori_test_is_mean_of_halves_in_genuine_records(genuine):
    # The fact the reader relies on to rebuild a missing half.
    for rec in genuine["records"].values():
        for (ds, _seed), rc in rec["200"]["all_results"].items():
            if ds in ("cifar100", "ImageNet16-120"):
                acc = rc["eval_acc1es"]
                assert acc["ori-test@199"] == pytest.approx(
                    (acc["x-valid@199"] + acc["x-test@199"]) / 2, abs=1e-6)


def test_missing_half_is_rebuilt_from_ori_test(genuine):
    rec = pickle.loads(pickle.dumps(genuine["records"][0]))
    full = nb201_official.arch_metrics(rec, "x")
    for rc in rec["200"]["all_results"].values():
        for k in [k for k in rc["eval_acc1es"] if k.startswith("x-valid@")]:
            if rc["name"] in ("cifar100", "ImageNet16-120"):
                del rc["eval_acc1es"][k]
    rebuilt = nb201_official.arch_metrics(rec, "x")
    assert rebuilt["cifar100/x-valid@200"] == pytest.approx(full["cifar100/x-valid@200"])
    assert rebuilt["ImageNet16-120/x-valid@200"] == pytest.approx(
        full["ImageNet16-120/x-valid@200"])


# ------------------------------------------------------------------ .pth


@pytest.mark.parametrize("zipfmt", [True, False], ids=["zip", "legacy"])
def test_pth_official_layout(tnao_home, tmp_path, genuine, csv_rows, zipfmt):
    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save(pth_layout(genuine), path, _use_new_zipfile_serialization=zipfmt)
    benchmarks.import_file(path, "nb201")
    table = benchmarks.load("nb201")
    check_against_csv(table, csv_rows)
    assert table.source["format"] == "nb201-pth"
    assert table.source["source_sha256"] == cache.sha256_of(path)


def test_pth_written_under_numpy1_names(tnao_home, tmp_path, genuine, csv_rows):
    # The 2020 files were pickled under numpy 1, which names numpy.core.multiarray.scalar;
    # the legacy (non-zip) format keeps the pickle text, so rename it as numpy 1 wrote it.
    buf = io.BytesIO()
    torch.save(pth_layout(genuine), buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    new = b"numpy._core.multiarray\nscalar"
    if new in raw:
        raw = raw.replace(new, b"numpy.core.multiarray\nscalar")
    assert b"numpy.core.multiarray\nscalar" in raw
    path = tmp_path / "v1_0.pth"
    path.write_bytes(raw)
    benchmarks.import_file(path, "nb201")
    check_against_csv(benchmarks.load("nb201"), csv_rows)


def test_pth_rows_follow_official_index_not_file_order(tnao_home, tmp_path, genuine):
    layout = pth_layout(genuine, indexes=(284, 0, 11))
    path = tmp_path / "a.pth"
    torch.save(layout, path)
    benchmarks.import_file(path, "nb201")
    table = benchmarks.load("nb201")
    assert [table.native(i) for i in range(3)] == [genuine["meta_archs"][i] for i in GENUINE]


@pytest.mark.parametrize("zipfmt", [True, False], ids=["zip", "legacy"])
def test_pth_truncated(tnao_home, tmp_path, genuine, zipfmt):
    path = tmp_path / "cut.pth"
    torch.save(pth_layout(genuine), path, _use_new_zipfile_serialization=zipfmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.pth could not be read as a PyTorch file"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pth_garbage(tnao_home, tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(DataError, match="junk.pth could not be read"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


class _RunsCode:
    """Pickles as a call to os.system: what a malicious download could hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pth_with_disallowed_global_is_refused(tnao_home, tmp_path, genuine):
    marker = tmp_path / "code_ran"
    layout = pth_layout(genuine)
    layout["arch2infos"][0]["full"]["extra"] = _RunsCode(marker)
    path = tmp_path / "evil.pth"
    torch.save(layout, path)
    with pytest.raises(DataError) as err:
        benchmarks.import_file(path, "nb201")
    assert f"type {os.system.__module__}.system" in str(err.value)
    assert "evil.pth" in str(err.value)
    assert not marker.exists()
    assert no_cache_left()


def test_pth_wrong_layout(tnao_home, tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(DataError, match="not in the official layout"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pth_record_disagreeing_with_meta_archs(tnao_home, tmp_path, genuine):
    layout = pth_layout(genuine)
    layout["meta_archs"][11], layout["meta_archs"][284] = (
        layout["meta_archs"][284], layout["meta_archs"][11])
    path = tmp_path / "swapped.pth"
    torch.save(layout, path)
    with pytest.raises(DataError, match="inconsistent"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


# ------------------------------------------------------------------ NATS full .pbz2


def write_pbz2(path, obj, protocol=4) -> None:
    with bz2.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 4])
def test_nats_full_pbz2(tnao_home, tmp_path, genuine, csv_rows, protocol):
    path = tmp_path / "NATS-tss-v1_0-3ffb9-full.pickle.pbz2"
    write_pbz2(path, nats_full_layout(genuine), protocol)
    benchmarks.import_file(path, "nb201")
    table = benchmarks.load("nb201")
    check_against_csv(table, csv_rows)
    assert table.source["format"] == "nats-tss-pbz2"
    assert table.source["source_sha256"] == cache.sha256_of(path)  # hashed while reading


def test_pbz2_truncated(tnao_home, tmp_path, genuine):
    path = tmp_path / "cut.pickle.pbz2"
    write_pbz2(path, nats_full_layout(genuine))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"cut\.pickle\.pbz2 could not be read as a bz2"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pbz2_not_bz2(tnao_home, tmp_path):
    path = tmp_path / "junk.pickle.pbz2"
    path.write_bytes(b"this is not bz2 at all" * 100)
    with pytest.raises(DataError, match="junk.pickle.pbz2 could not be read"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pbz2_with_disallowed_global_is_refused(tnao_home, tmp_path, genuine):
    marker = tmp_path / "code_ran"
    obj = nats_full_layout(genuine)
    obj["arch2infos"][0]["200"] = dict(obj["arch2infos"][0]["200"], extra=_RunsCode(marker))
    path = tmp_path / "evil.pickle.pbz2"
    write_pbz2(path, obj)
    with pytest.raises(DataError) as err:
        benchmarks.import_file(path, "nb201")
    assert f"type {os.system.__module__}.system" in str(err.value)
    assert not marker.exists()
    assert no_cache_left()


def test_restricted_unpickler_refuses_numpy_array_reconstruct():
    # Only numpy *scalars* are allowed; arrays (and their reconstructor) are not needed.
    data = pickle.dumps({"a": np.arange(3)})
    with pytest.raises(DataError, match="_reconstruct"):
        nb201_official.safe_unpickle(io.BytesIO(data), "x.pbz2")


# ------------------------------------------------------------------ simple folder: bad input


def make_simple(tmp_path, genuine, indexes=GENUINE):
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    write_pbz2(folder / "meta.pickle.pbz2", {
        "meta_archs": list(genuine["meta_archs"]), "total_archs": 15625,
        "arch2infos": None, "evaluated_indexes": set()})
    for i in indexes:
        write_pbz2(folder / f"{i:06d}.pickle.pbz2", genuine["records"][i])
    return folder


def test_simple_folder_subset(tnao_home, tmp_path, genuine, csv_rows):
    folder = make_simple(tmp_path, genuine, indexes=(11,))
    benchmarks.import_file(folder, "nb201")
    table = benchmarks.load("nb201")
    assert len(table) == 1
    assert table.native(0) == csv_rows[11]["arch_str"]
    assert table.index_of(nb201.SPACE.from_native(csv_rows[0]["arch_str"])) is None


def test_simple_folder_without_meta(tnao_home, tmp_path, genuine):
    folder = make_simple(tmp_path, genuine)
    (folder / "meta.pickle.pbz2").unlink()
    with pytest.raises(DataError, match="has no meta.pickle.pbz2"):
        benchmarks.import_file(folder, "nb201")
    assert no_cache_left()


def test_simple_folder_with_corrupt_record(tnao_home, tmp_path, genuine):
    folder = make_simple(tmp_path, genuine)
    rec = folder / "000011.pickle.pbz2"
    rec.write_bytes(rec.read_bytes()[:5000])
    with pytest.raises(DataError, match="000011.pickle.pbz2 could not be read"):
        benchmarks.import_file(folder, "nb201")
    assert no_cache_left()


def test_simple_folder_index_out_of_range(tnao_home, tmp_path, genuine):
    folder = make_simple(tmp_path, genuine)
    write_pbz2(folder / "999999.pickle.pbz2", genuine["records"][0])
    with pytest.raises(DataError, match="index 999999"):
        benchmarks.import_file(folder, "nb201")
    assert no_cache_left()


# ------------------------------------------------------------------ through the CLI


def test_cli_import_simple_folder(tnao_home, capsys):
    with pytest.raises(SystemExit) as ex:
        main(["data", "import", str(need(NATS_SIMPLE)), "--benchmark", "nb201"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    assert "nb201 ready" in out and "3 architectures" in out


def test_cli_import_refused_pickle(tnao_home, tmp_path, genuine, capsys):
    layout = pth_layout(genuine)
    layout["evaluated_indexes"] = _RunsCode(tmp_path / "code_ran")
    path = tmp_path / "evil.pth"
    torch.save(layout, path)
    with pytest.raises(SystemExit) as ex:
        main(["data", "import", str(path), "--benchmark", "nb201"])
    assert ex.value.code != 0
    err = capsys.readouterr().err
    assert "Error:" in err and "system" in err and "Traceback" not in err
    assert not (tmp_path / "code_ran").exists()
    assert no_cache_left()


# ------------------------------------------------------------------ simple folder: process pool


@pytest.fixture
def pool_of_two(monkeypatch):
    """Read even a 3-file folder with the process pool a full folder uses."""
    monkeypatch.setattr(nb201_official, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(nb201_official, "WORKERS", 2)


def test_simple_folder_in_worker_processes(tnao_home, csv_rows, pool_of_two):
    benchmarks.import_file(need(NATS_SIMPLE), "nb201")
    table = benchmarks.load("nb201")
    check_against_csv(table, csv_rows)


def test_worker_error_reaches_the_user(tnao_home, tmp_path, genuine, pool_of_two):
    folder = make_simple(tmp_path, genuine)
    write_pbz2(folder / "000284.pickle.pbz2", {"12": {"all_results": {}}, "200": []})
    with pytest.raises(DataError, match="000284.pickle.pbz2 schedule '200' is not an "
                       "ArchResults state dict"):
        benchmarks.import_file(folder, "nb201")
    assert no_cache_left()
