"""``tnao data fetch`` against a real HTTP server on 127.0.0.1 (http.server in a thread).

The served files are made by the tests (random bytes: synthetic data for the download
mechanics only), except the end-to-end cases that serve the shared NB201 table and a tar
of the genuine NATS records, which are then imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from conftest import NATS_SIMPLE, NB201_CSV, need
from rich.console import Console

from tnao_app.benchmarks import fetch as fetch_mod
from tnao_app.cli import main
from tnao_app.errors import DataError

DATA = os.urandom(300_000)
SHA = hashlib.sha256(DATA).hexdigest()


class Server:
    """Serves ``files`` (path -> bytes) with Range support and scripted failures."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.pages: dict[str, str] = {}  # path -> HTML body
        self.log: list[tuple[str, str | None]] = []  # (path with query, Range header)
        self.cut_after = 0  # bytes of body sent before the connection is dropped ...
        self.cut_times = 0  # ... for this many responses
        self.ignore_range = False
        self.no_length = False  # send no Content-Length: the body ends when the socket closes
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                rng = self.headers.get("Range")
                server.log.append((self.path, rng))
                if path in server.pages:
                    body = server.pages[path].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                data = server.files.get(path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and not server.ignore_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Type", "application/octet-stream")
                if not server.no_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_times > 0:
                    server.cut_times -= 1
                    self.wfile.write(body[: server.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # drop it mid-file
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def ranges(self) -> list[str | None]:
        return [r for _, r in self.log]


@pytest.fixture
def server():
    s = Server()
    s.files["/f.bin"] = DATA
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def text(console: Console) -> str:
    return console.file.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        main(argv)
    cap = capsys.readouterr()
    # Rich wraps and folds long lines: compare with all whitespace removed (see has()).
    return ex.value.code, "".join(cap.out.split()), "".join(cap.err.split())


def has(squashed: str, phrase: str) -> bool:
    return "".join(phrase.split()) in squashed


# ------------------------------------------------------------------ download()


def test_download_with_verified_sha(server, tmp_path):
    con = quiet()
    out = fetch_mod.download(f"{server.base}/f.bin", tmp_path / "f.bin", sha256=SHA, console=con)
    assert out.read_bytes() == DATA
    assert not (tmp_path / "f.bin.part").exists()
    assert "sha256 verified" in text(con)


def test_download_without_known_sha_reports_it(server, tmp_path):
    con = quiet()
    fetch_mod.download(f"{server.base}/f.bin", tmp_path / "f.bin", console=con)
    assert "not verified" in text(con) and SHA in text(con)


def test_progress_callback_reports_bytes_and_total(server, tmp_path):
    calls: list[tuple[int, int | None]] = []
    fetch_mod.download(
        f"{server.base}/f.bin",
        tmp_path / "f.bin",
        sha256=SHA,
        console=quiet(),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (0, len(DATA)) and calls[-1] == (len(DATA), len(DATA))
    assert {t for _, t in calls} == {len(DATA)}
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) >= len(DATA) // fetch_mod.CHUNK


def test_progress_callback_on_resume_counts_the_kept_bytes(server, tmp_path):
    server.cut_after, server.cut_times = 120_000, 1
    calls: list[tuple[int, int | None]] = []
    fetch_mod.download(
        f"{server.base}/f.bin",
        tmp_path / "f.bin",
        sha256=SHA,
        console=quiet(),
        progress=lambda done, total: calls.append((done, total)),
    )
    kept = (120_000 // fetch_mod.CHUNK) * fetch_mod.CHUNK
    assert (kept, len(DATA)) in calls  # the second request starts at the kept bytes ...
    assert calls[-1] == (len(DATA), len(DATA))  # ... and the total is the whole file's


def test_progress_callback_without_length(server, tmp_path):
    server.no_length = True
    calls: list[tuple[int, int | None]] = []
    fetch_mod.download(
        f"{server.base}/f.bin",
        tmp_path / "f.bin",
        sha256=SHA,
        console=quiet(),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert calls[0] == (0, None) and calls[-1] == (len(DATA), None)
    assert all(t is None for _, t in calls)


def test_fetch_passes_progress_through(server, tmp_path, monkeypatch):
    src = fetch_mod.SOURCES["nb101"]["only108"]
    monkeypatch.setitem(fetch_mod.SOURCES["nb101"], "only108", dataclasses.replace(src, sha256=SHA))
    server.files["/nasbench_only108.tfrecord"] = DATA
    monkeypatch.setenv("TNAO_FETCH_BASE_URL", server.base)
    calls: list[tuple[int, int | None]] = []
    fetch_mod.fetch(
        "nb101",
        dest=tmp_path,
        console=quiet(),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (len(DATA), len(DATA))


def test_checksum_mismatch_removes_the_file(server, tmp_path):
    with pytest.raises(DataError, match=f"has sha256 {SHA}, expected 0+; the bad file was removed"):
        fetch_mod.download(
            f"{server.base}/f.bin", tmp_path / "f.bin", sha256="0" * 64, console=quiet()
        )
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_resumes_with_range(server, tmp_path):
    server.cut_after, server.cut_times = 120_000, 1
    con = quiet()
    fetch_mod.download(f"{server.base}/f.bin", tmp_path / "f.bin", sha256=SHA, console=con)
    assert (tmp_path / "f.bin").read_bytes() == DATA
    kept = (120_000 // fetch_mod.CHUNK) * fetch_mod.CHUNK  # whole blocks written before the cut
    assert kept > 0
    assert server.ranges() == [None, f"bytes={kept}-"]  # resumed, not restarted
    assert "resuming" in text(con)


def test_interrupted_run_resumes_in_the_next_run(server, tmp_path):
    # Every response is cut after 70 kB: each of the 3 tries keeps one more block.
    server.cut_after, server.cut_times = 70_000, 10**6
    with pytest.raises(
        DataError,
        match=r"interrupted after 0\.2 MB .*run the same command "
        "again to resume",
    ):
        fetch_mod.download(
            f"{server.base}/f.bin", tmp_path / "f.bin", sha256=SHA, console=quiet(), retries=3
        )
    part = tmp_path / "f.bin.part"
    kept = 3 * fetch_mod.CHUNK
    assert part.stat().st_size == kept and not (tmp_path / "f.bin").exists()
    assert server.ranges() == [None, f"bytes={fetch_mod.CHUNK}-", f"bytes={2 * fetch_mod.CHUNK}-"]
    server.cut_times = 0
    server.log.clear()
    fetch_mod.download(f"{server.base}/f.bin", tmp_path / "f.bin", sha256=SHA, console=quiet())
    assert server.ranges() == [f"bytes={kept}-"]
    assert (tmp_path / "f.bin").read_bytes() == DATA and not part.exists()


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes from another file" * 100)
    server.ignore_range = True
    con = quiet()
    fetch_mod.download(f"{server.base}/f.bin", tmp_path / "f.bin", sha256=SHA, console=con)
    assert (tmp_path / "f.bin").read_bytes() == DATA
    assert "starting from the beginning" in text(con)


def test_partial_file_longer_than_the_file_restarts(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(b"x" * (len(DATA) + 10))  # server answers 416
    fetch_mod.download(f"{server.base}/f.bin", tmp_path / "f.bin", sha256=SHA, console=quiet())
    assert (tmp_path / "f.bin").read_bytes() == DATA


def test_404_names_url_and_status(server, tmp_path):
    url = f"{server.base}/missing.tfrecord"
    with pytest.raises(DataError, match=re.escape(url) + r" answered HTTP 404 \(Not Found\)"):
        fetch_mod.download(url, tmp_path / "m", console=quiet())
    assert list(tmp_path.iterdir()) == []


def test_connection_refused_is_one_sentence(tmp_path):
    port = free_port()
    with pytest.raises(DataError) as err:
        fetch_mod.download(f"http://127.0.0.1:{port}/f.bin", tmp_path / "f.bin", console=quiet())
    msg = str(err.value)
    assert msg.startswith(f"Could not reach 127.0.0.1:{port} to download f.bin (no connection)")
    assert "\n" not in msg
    assert list(tmp_path.iterdir()) == []


def test_google_drive_confirm_page_is_followed(server, tmp_path):
    # The shape of Drive's "can't scan this file for viruses" page: a GET form with
    # hidden fields that leads to the file.
    server.pages["/uc"] = (
        "<html><body><p>Google Drive can't scan this file for viruses.</p>"
        '<form id="download-form" action="/download" method="get">'
        '<input type="submit" value="Download anyway"/>'
        '<input type="hidden" name="id" value="abc"><input type="hidden" name="export" '
        'value="download"><input type="hidden" name="confirm" value="t">'
        '<input type="hidden" name="uuid" value="u-1&amp;2"></form></body></html>'
    )
    server.files["/download"] = DATA
    fetch_mod.download(f"{server.base}/uc?id=abc", tmp_path / "x.pth", console=quiet())
    assert (tmp_path / "x.pth").read_bytes() == DATA
    assert server.log[1][0] == "/download?id=abc&export=download&confirm=t&uuid=u-1%262"


def test_web_page_without_form_is_a_clear_error(server, tmp_path):
    server.pages["/quota"] = "<html><body>Too many users have viewed this file.</body></html>"
    with pytest.raises(DataError, match="answered a web page instead of x.pth"):
        fetch_mod.download(
            f"{server.base}/quota",
            tmp_path / "x.pth",
            console=quiet(),
            page="https://github.com/D-X-Y/NATS-Bench",
        )
    assert not (tmp_path / "x.pth").exists()


# ------------------------------------------------------------------ fetch() and the CLI


def test_cli_fetch_nb101_checksum_mismatch(server, tmp_path, tnao_home, monkeypatch, capsys):
    server.files["/nasbench_only108.tfrecord"] = DATA  # not the official file
    monkeypatch.setenv("TNAO_FETCH_BASE_URL", server.base + "/")
    code, out, err = run_cli(
        ["data", "fetch", "nb101", "--no-import", "--dest", str(tmp_path / "dl")], capsys
    )
    assert code != 0
    assert has(err, "nasbench_only108.tfrecord downloaded from")
    assert has(err, "expected 4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1")
    assert not has(err + out, "Traceback")
    assert list((tmp_path / "dl").iterdir()) == []


def test_cli_fetch_nb101_verified(server, tmp_path, tnao_home, monkeypatch, capsys):
    # The official checksum swapped for the served file's: checks the wiring CLI -> verify.
    src = fetch_mod.SOURCES["nb101"]["only108"]
    monkeypatch.setitem(fetch_mod.SOURCES["nb101"], "only108", dataclasses.replace(src, sha256=SHA))
    server.files["/nasbench_only108.tfrecord"] = DATA
    monkeypatch.setenv("TNAO_FETCH_BASE_URL", server.base)
    dest = tmp_path / "dl"
    code, out, _ = run_cli(["data", "fetch", "nb101", "--no-import", "--dest", str(dest)], capsys)
    assert code == 0
    assert has(out, "sha256 verified")
    assert has(out, "100%")  # the bar shows the percent: the server sent a length
    assert (dest / "nasbench_only108.tfrecord").read_bytes() == DATA
    # A second fetch finds the verified file and downloads nothing.
    server.log.clear()
    code, out, _ = run_cli(["data", "fetch", "nb101", "--no-import", "--dest", str(dest)], capsys)
    assert code == 0 and has(out, "Already downloaded and verified") and server.log == []


def test_cli_fetch_offline(tmp_path, tnao_home, monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv("TNAO_FETCH_BASE_URL", f"http://127.0.0.1:{port}")
    code, out, err = run_cli(["data", "fetch", "nb101", "--dest", str(tmp_path)], capsys)
    assert code != 0
    assert has(
        err,
        f"Error: Could not reach 127.0.0.1:{port} to download "
        "nasbench_only108.tfrecord (no connection)",
    )
    assert not has(err + out, "Traceback")


def test_cli_fetch_404(server, tmp_path, tnao_home, capsys):
    code, _, err = run_cli(
        ["data", "fetch", "nb201", "--url", f"{server.base}/nope.pth", "--dest", str(tmp_path)],
        capsys,
    )
    assert code != 0 and has(err, "/nope.pth answered HTTP 404")


def test_cli_fetch_and_import_csv_from_url(server, tmp_path, tnao_home, capsys):
    server.files["/tables/nb201.csv.gz"] = need(NB201_CSV).read_bytes()
    code, out, _ = run_cli(
        [
            "data",
            "fetch",
            "nb201",
            "--url",
            f"{server.base}/tables/nb201.csv.gz",
            "--dest",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0
    assert has(out, "No official checksum is published for nb201.csv.gz")
    assert has(out, "nb201 ready: 15,625 architectures")


def nats_tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_cli_fetch_nb201_default_tar_unpacks_and_imports(
    server, tmp_path, tnao_home, monkeypatch, capsys
):
    folder = need(NATS_SIMPLE)
    top = "NATS-tss-v1_0-3ffb9-simple"
    server.files[f"/{top}.tar"] = nats_tar(
        {f"{top}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}
    )
    monkeypatch.setenv("TNAO_FETCH_BASE_URL", server.base)
    code, out, _ = run_cli(["data", "fetch", "nb201", "--dest", str(tmp_path)], capsys)
    assert code == 0
    assert has(out, f"Unpacked to {tmp_path / top}")
    assert has(out, "nb201 ready: 3 architectures")
    assert sorted(p.name for p in (tmp_path / top).iterdir()) == sorted(
        p.name for p in folder.iterdir()
    )


def test_tar_with_escaping_member_is_refused(server, tmp_path, tnao_home, monkeypatch):
    server.files["/NATS-tss-v1_0-3ffb9-simple.tar"] = nats_tar({"../escape.txt": b"x"})
    monkeypatch.setenv("TNAO_FETCH_BASE_URL", server.base)
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match="refusing to unpack"):
        fetch_mod.fetch("nb201", dest=dest, console=quiet())
    assert not (tmp_path / "escape.txt").exists()
    assert not (dest / "NATS-tss-v1_0-3ffb9-simple").exists()


def test_unknown_benchmark_and_source():
    from tnao_app.errors import ConfigError

    with pytest.raises(ConfigError, match="Nothing to fetch for benchmark 'analog'"):
        fetch_mod.fetch("analog", console=quiet())
    with pytest.raises(ConfigError, match="Unknown source 'x' for nb101"):
        fetch_mod.fetch("nb101", source="x", console=quiet())
