"""Readers of the official NAS-Bench-201 / NATS-Bench files (nb201/official.py and its modules).

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
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from conftest import NATS_SIMPLE, NB201_CSV, need

from tnao_app import benchmarks
from tnao_app.benchmarks import cache, nb201
from tnao_app.benchmarks.nb201 import official, records, unpickle
from tnao_app.cli import main
from tnao_app.errors import DataError

GENUINE = (0, 11, 284)


@pytest.fixture(scope="module")
def genuine() -> dict:
    """meta_archs and the records {index: {'12': state, '200': state}} of the genuine files."""
    folder = need(NATS_SIMPLE)
    meta, _ = unpickle.read_pbz2(folder / "meta.pickle.pbz2")
    recs = {}
    for i in GENUINE:
        rec, _ = unpickle.read_pbz2(folder / f"{i:06d}.pickle.pbz2")
        recs[i] = rec
    return {"meta_archs": meta["meta_archs"], "records": recs}


@pytest.fixture(scope="module")
def csv_rows() -> dict[int, dict[str, str]]:
    need(NB201_CSV)
    with gzip.open(NB201_CSV, "rt", newline="") as f:
        rows = {
            int(r["arch_index"]): r for r in csv.DictReader(f) if int(r["arch_index"]) in GENUINE
        }
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
                    index,
                    metric,
                )


def pth_layout(genuine, indexes=GENUINE) -> dict:
    """The dict the official NAS-Bench-201 .pth holds: 'less' = 12 epochs, 'full' = 200."""
    return {
        "meta_archs": list(genuine["meta_archs"]),
        "arch2infos": {
            i: {
                "less": dict(genuine["records"][i]["12"]),
                "full": dict(genuine["records"][i]["200"]),
            }
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
                    (acc["x-valid@199"] + acc["x-test@199"]) / 2, abs=1e-6
                )


def test_missing_half_is_rebuilt_from_ori_test(genuine):
    rec = pickle.loads(pickle.dumps(genuine["records"][0]))
    full = records.arch_metrics(rec, "x")
    for rc in rec["200"]["all_results"].values():
        for k in [k for k in rc["eval_acc1es"] if k.startswith("x-valid@")]:
            if rc["name"] in ("cifar100", "ImageNet16-120"):
                del rc["eval_acc1es"][k]
    rebuilt = records.arch_metrics(rec, "x")
    assert rebuilt["cifar100/x-valid@200"] == pytest.approx(full["cifar100/x-valid@200"])
    assert rebuilt["ImageNet16-120/x-valid@200"] == pytest.approx(
        full["ImageNet16-120/x-valid@200"]
    )


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


@pytest.mark.parametrize("zipfmt", [True, False], ids=["zip", "legacy"])
def test_pth_with_disallowed_global_is_refused(tnao_home, tmp_path, genuine, zipfmt):
    marker = tmp_path / "code_ran"
    layout = pth_layout(genuine)
    layout["arch2infos"][0]["full"]["extra"] = _RunsCode(marker)
    path = tmp_path / "evil.pth"
    torch.save(layout, path, _use_new_zipfile_serialization=zipfmt)
    with pytest.raises(DataError) as err:
        benchmarks.import_file(path, "nb201")
    assert f"type {os.system.__module__}.system" in str(err.value)
    assert "evil.pth" in str(err.value)
    assert not marker.exists()
    assert no_cache_left()


def test_pth_holding_a_whole_model_is_refused(tnao_home, tmp_path, genuine):
    # A legacy file with an nn.Module pickles its class (and source code) by name.
    layout = pth_layout(genuine)
    layout["arch2infos"][0]["full"]["net"] = torch.nn.Linear(2, 2)
    path = tmp_path / "model_inside.pth"
    torch.save(layout, path, _use_new_zipfile_serialization=False)
    with pytest.raises(
        DataError,
        match=r"model_inside\.pth holds a value of type "
        r"torch\.nn\.modules\.linear\.Linear",
    ):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def write_zip_pth(path, data_pkl: bytes, extra: dict[str, bytes] | None = None) -> None:
    """A zip in torch's layout around a hand-made data.pkl (synthetic, for mechanics)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/version", b"3\n")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)


def test_pth_persistent_record_other_than_storage_is_refused(tnao_home, tmp_path):
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return ("module", "os", "x.py", "import os") if obj == "here" else None

    buf = io.BytesIO()
    WithPid(buf, protocol=2).dump({"meta_archs": ["here"], "arch2infos": {}})
    path = tmp_path / "pid.pth"
    write_zip_pth(path, buf.getvalue())
    with pytest.raises(
        DataError, match="pid.pth holds a value of type torch persistent record 'module'"
    ):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pth_zip_without_data_pkl(tnao_home, tmp_path):
    path = tmp_path / "other.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not torch")
    with pytest.raises(
        DataError,
        match=r"other\.pth could not be read as a PyTorch file "
        r"\(a zip without exactly one <archive>/data\.pkl\)",
    ):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pth_legacy_without_magic_number(tnao_home, tmp_path):
    path = tmp_path / "plain.pth"
    path.write_bytes(pickle.dumps(42, protocol=2) + pickle.dumps({"meta_archs": []}))
    with pytest.raises(
        DataError,
        match=r"plain\.pth could not be read as a PyTorch file "
        r"\(no torch magic number",
    ):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def end_of_main_pickle(raw: bytes) -> int:
    """Offset just past the 4th pickle of a legacy torch file (test-only, trusted data)."""

    class Trusting(pickle.Unpickler):
        def persistent_load(self, pid):
            return None

        def find_class(self, module, name):
            if module.startswith("torch"):  # tensors: only their extent matters here
                return lambda *args: None
            return super().find_class(module, name)

    f = io.BytesIO(raw)
    for _ in range(4):
        Trusting(f).load()
    return f.tell()


@pytest.mark.parametrize("zipfmt", [True, False], ids=["zip", "legacy"])
def test_pth_tensors_become_stubs_and_storages_are_never_read(
    tnao_home, tmp_path, genuine, csv_rows, zipfmt
):
    # Files with trained weights in net_state_dict (float and int64 BN buffers): the
    # records are read while the storage bytes are absent from the file altogether.
    layout = pickle.loads(pickle.dumps(pth_layout(genuine)))  # leave the fixture as is
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    for info in layout["arch2infos"].values():
        for state in info.values():
            for rc in state["all_results"].values():
                rc["net_state_dict"] = net.state_dict()
    layout["probe"] = {"w": torch.zeros(2, 3), "p": torch.nn.Parameter(torch.ones(5))}
    path = tmp_path / "weights.pth"
    torch.save(layout, path, _use_new_zipfile_serialization=zipfmt)
    if zipfmt:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            kept = {n: zf.read(n) for n in names if "/data/" not in n}
        assert len(kept) < len(names)
        path.unlink()
        with zipfile.ZipFile(path, "w") as zf:
            for n, data in kept.items():
                zf.writestr(n, data)
    else:
        raw = path.read_bytes()
        # A file saved from a GPU names torch.cuda storages: no CUDA is needed to read it.
        raw = raw.replace(b"torch\nFloatStorage", b"torch.cuda\nFloatStorage")
        path.write_bytes(raw[: end_of_main_pickle(raw)])
    obj, sha = unpickle.read_pth(path)
    assert sha == cache.sha256_of(path)
    assert isinstance(obj["probe"]["w"], unpickle.TensorStub)
    assert obj["probe"]["w"].shape == (2, 3) and obj["probe"]["p"].shape == (5,)
    benchmarks.import_file(path, "nb201")
    check_against_csv(benchmarks.load("nb201"), csv_rows)


def test_pth_import_needs_no_torch(tnao_home, tmp_path, genuine):
    # torch.load is not used (nor torch imported): the import runs where torch is absent.
    paths = []
    for zipfmt in (True, False):
        paths.append(tmp_path / f"{'zip' if zipfmt else 'legacy'}.pth")
        torch.save(pth_layout(genuine), paths[-1], _use_new_zipfile_serialization=zipfmt)
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from tnao_app import benchmarks\n"
        "for p in sys.argv[1:]:\n"
        "    benchmarks.import_file(p, 'nb201'); print(len(benchmarks.load('nb201')))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        capture_output=True,
        text=True,
        env=dict(os.environ, TNAO_HOME=str(tnao_home)),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["3", "3"]


def test_pth_wrong_layout(tnao_home, tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    with pytest.raises(DataError, match="not in the official layout"):
        benchmarks.import_file(path, "nb201")
    assert no_cache_left()


def test_pth_record_disagreeing_with_meta_archs(tnao_home, tmp_path, genuine):
    layout = pth_layout(genuine)
    layout["meta_archs"][11], layout["meta_archs"][284] = (
        layout["meta_archs"][284],
        layout["meta_archs"][11],
    )
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
        unpickle.safe_unpickle(io.BytesIO(data), "x.pbz2")


# ------------------------------------------------------------------ simple folder: bad input


def make_simple(tmp_path, genuine, indexes=GENUINE):
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    write_pbz2(
        folder / "meta.pickle.pbz2",
        {
            "meta_archs": list(genuine["meta_archs"]),
            "total_archs": 15625,
            "arch2infos": None,
            "evaluated_indexes": set(),
        },
    )
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
    monkeypatch.setattr(official, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(official, "WORKERS", 2)


def test_simple_folder_in_worker_processes(tnao_home, csv_rows, pool_of_two):
    benchmarks.import_file(need(NATS_SIMPLE), "nb201")
    table = benchmarks.load("nb201")
    check_against_csv(table, csv_rows)


def test_worker_error_reaches_the_user(tnao_home, tmp_path, genuine, pool_of_two):
    folder = make_simple(tmp_path, genuine)
    write_pbz2(folder / "000284.pickle.pbz2", {"12": {"all_results": {}}, "200": []})
    with pytest.raises(
        DataError, match="000284.pickle.pbz2 schedule '200' is not an ArchResults state dict"
    ):
        benchmarks.import_file(folder, "nb201")
    assert no_cache_left()
