"""``tnao data fetch``: download an official benchmark file, resumably, and check it.

Downloads stream to ``<file>.part`` and resume with an HTTP ``Range`` request, also
across runs (a server that ignores ``Range`` makes us restart the file cleanly). A dropped
connection is retried a few times from where it stopped. The sha256 is verified where the
authors published one (NAS-Bench-101); the NAS-Bench-201 / NATS-Bench Google Drive files
have no published checksum, so their sha256 is only reported. Google Drive answers big
files with a "can't scan for viruses" page holding a confirm form: we follow that form.
``TNAO_FETCH_BASE_URL`` replaces the base address (a mirror, or a local server in tests).

Progress goes to an optional callback ``progress(done, total)``: bytes in the file so far
(a resumed download starts above 0) and its full size, or ``None`` when the server sends
no length. The caller renders it (the CLI as a rich bar with percent, the TUI its own); the
messages (resuming, verified) go to ``console``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import requests
from rich.console import Console

from .. import paths
from ..errors import ConfigError, DataError
from . import cache

BASE_URL_ENV = "TNAO_FETCH_BASE_URL"
CHUNK = 1 << 16  # what arrived before a dropped connection is kept up to this
TIMEOUT_S = 30
RETRIES = 3

ProgressCallback = Callable[[int, int | None], None]  # (bytes done, total or None)


@dataclass(frozen=True)
class Source:
    """One downloadable official file."""

    file: str
    url: str
    sha256: str | None  # None: the authors publish no checksum
    size: str  # for messages only
    page: str  # where a person can get it by hand


def _say(console: Console, text: str) -> None:
    """One line of progress; paths and server messages in it are never read as markup."""
    console.print(text, markup=False, highlight=False)


def _drive(file_id: str) -> str:
    # The direct endpoint; confirm=t skips the virus-scan page for most big files.
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


NB101_BASE = "https://storage.googleapis.com/nasbench/"
SOURCES: dict[str, dict[str, Source]] = {
    "nb101": {
        "only108": Source(
            "nasbench_only108.tfrecord",
            NB101_BASE + "nasbench_only108.tfrecord",
            "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1",
            "499 MB",
            "https://github.com/google-research/nasbench",
        ),
        "full": Source(
            "nasbench_full.tfrecord",
            NB101_BASE + "nasbench_full.tfrecord",
            "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c",
            "1.95 GB",
            "https://github.com/google-research/nasbench",
        ),
    },
    "nb201": {
        # NATS-Bench topology space (= NAS-Bench-201 with more results), the "simple"
        # archive: a tar of meta.pickle.pbz2 + one file per architecture. Imported one
        # file at a time, so it needs far less memory than the .pth.
        "nats-tss-simple": Source(
            "NATS-tss-v1_0-3ffb9-simple.tar",
            _drive("17_saCsj_krKjlCBLOJEpNtzPXArMCqxU"),
            None,
            "1.1 GB",
            "https://github.com/D-X-Y/NATS-Bench",
        ),
        "v1_1": Source(
            "NAS-Bench-201-v1_1-096897.pth",
            _drive("16Y0UwGisiouVRxW-W5hEtbxmcHw_0hF_"),
            None,
            "4.7 GB",
            "https://github.com/D-X-Y/NAS-Bench-201",
        ),
        "v1_0": Source(
            "NAS-Bench-201-v1_0-e61699.pth",
            _drive("1SKW0Cu0u8-gb18zDpaAGi0f74UdXeGKs"),
            None,
            "2.2 GB",
            "https://github.com/D-X-Y/NAS-Bench-201",
        ),
    },
}
DEFAULT_SOURCE = {"nb101": "only108", "nb201": "nats-tss-simple"}
# Checksums by file name, so a mirror given with --url is verified too.
KNOWN_SHA256 = {s.file: s.sha256 for group in SOURCES.values() for s in group.values() if s.sha256}


class _Interrupted(Exception):
    """The connection dropped mid-file; the .part file keeps what arrived."""


def fetch(
    benchmark: str,
    url: str | None = None,
    dest: Path | None = None,
    console: Console | None = None,
    source: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Download the official file of ``benchmark`` (or ``url``) into ``dest`` and return
    the path to import: the file, or the folder a ``.tar`` archive unpacks to.

    ``progress(done, total)`` is called as bytes arrive (``total`` None when the server
    gives no length); nothing is called when the file is already there."""
    if benchmark not in SOURCES:
        raise ConfigError(
            f"Nothing to fetch for benchmark '{benchmark}'; expected one of: "
            f"{', '.join(SOURCES)} (the analog benchmark ships with the package)."
        )
    group = SOURCES[benchmark]
    name = source or DEFAULT_SOURCE[benchmark]
    if name not in group:
        raise ConfigError(
            f"Unknown source '{name}' for {benchmark}; expected one of: {', '.join(group)}."
        )
    src = group[name]
    console = console or Console(stderr=True)
    if url:
        filename = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or src.file
        sha = KNOWN_SHA256.get(filename)
    else:
        base = os.environ.get(BASE_URL_ENV)
        url = base.rstrip("/") + "/" + src.file if base else src.url
        filename, sha = src.file, src.sha256
    dest_dir = Path(dest).expanduser() if dest else paths.downloads_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / filename

    if filename.endswith(".tar"):
        unpacked = dest_dir / filename[: -len(".tar")]
        if unpacked.is_dir():
            _say(console, f"Already unpacked: {unpacked}")
            return unpacked
    if target.exists() and _already_good(target, sha, console):
        return _unpack(target, dest_dir, console) if filename.endswith(".tar") else target

    download(url, target, sha256=sha, console=console, page=src.page, progress=progress)
    return _unpack(target, dest_dir, console) if filename.endswith(".tar") else target


def _already_good(target: Path, sha: str | None, console: Console) -> bool:
    if sha is None:
        _say(console, f"Already downloaded: {target} (no official checksum to verify)")
        return True
    if cache.sha256_of(target) == sha:
        _say(console, f"Already downloaded and verified: {target}")
        return True
    _say(console, f"{target.name} on disk has the wrong sha256; downloading it again.")
    target.unlink()
    return False


def download(
    url: str,
    target: Path,
    sha256: str | None = None,
    console: Console | None = None,
    retries: int = RETRIES,
    page: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Stream ``url`` to ``target`` via ``target.part``, resuming and verifying;
    ``progress(done, total)`` as in ``fetch``."""
    console = console or Console(stderr=True)
    target = Path(target)
    part = target.with_name(target.name + ".part")
    session = requests.Session()
    session.headers["User-Agent"] = "tnao (benchmark fetch)"
    attempt = 0
    current = url
    try:
        while True:
            try:
                current = _download_once(
                    session, current, part, target.name, console, page, progress
                )
                break
            except _Interrupted as exc:
                attempt += 1
                got = part.stat().st_size / 1e6 if part.exists() else 0.0
                if attempt >= retries:
                    raise DataError(
                        f"The download of {target.name} from {url} was interrupted after "
                        f"{got:.1f} MB ({exc}); run the same command again to resume."
                    ) from None
                _say(console, f"Connection lost after {got:.1f} MB ({exc}); resuming ...")
                time.sleep(0.2 * attempt)
    finally:
        session.close()

    got_sha = cache.sha256_of(part)
    if sha256 is not None and got_sha != sha256:
        part.unlink()
        raise DataError(
            f"{target.name} downloaded from {url} has sha256 {got_sha}, expected {sha256}; "
            "the bad file was removed, run the command again."
        )
    os.replace(part, target)
    if sha256 is not None:
        _say(console, f"sha256 verified: {target.name}")
    else:
        _say(
            console,
            f"No official checksum is published for {target.name}, so it was not "
            f"verified; its sha256 is {got_sha}",
        )
    return target


def _connect_error(url: str, name: str, exc: Exception, resumable: bool) -> DataError:
    host = urlsplit(url).netloc or url
    again = "run the same command again to resume" if resumable else "connect and run again"
    why = "timed out" if isinstance(exc, requests.Timeout) else "no connection"
    return DataError(
        f"Could not reach {host} to download {name} ({why}); {again}, or download the file "
        "another way and run 'tnao data import PATH --benchmark NAME'."
    )


def _download_once(
    session, url, part: Path, name: str, console: Console, page, progress: ProgressCallback | None
) -> str:
    """One request; returns the URL that served the file (after a confirm page)."""
    for _hop in range(4):  # at most two confirm pages and one restart
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            resp = session.get(url, headers=headers, stream=True, timeout=TIMEOUT_S)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _connect_error(url, name, exc, have > 0) from None
        except requests.RequestException as exc:
            raise DataError(f"Could not request {url} ({exc.__class__.__name__}).") from None
        with resp:
            if resp.status_code == 416 and have:
                # Our partial file is not a prefix the server can continue: start over.
                part.unlink()
                continue
            if resp.status_code >= 400:
                raise DataError(
                    f"{url} answered HTTP {resp.status_code} ({resp.reason}); expected the "
                    f"file {name}."
                )
            ctype = resp.headers.get("Content-Type", "")
            if ctype.startswith("text/html") and not name.endswith((".html", ".htm")):
                url = _confirm_url(resp, url, name, page)
                continue
            if have and resp.status_code == 206 and _range_start(resp) != have:
                part.unlink()  # resumed at another offset than asked: start over
                continue
            _stream(resp, part, have, console, progress)
            return url
    raise DataError(f"{url} kept answering web pages instead of the file {name}.")


def _confirm_url(resp, url: str, name: str, page: str | None) -> str:
    """Google Drive's virus-scan page: the address its download form submits to."""
    text = resp.raw.read(1 << 20, decode_content=True).decode("utf-8", "replace")
    form = re.search(r"<form[^>]*\baction=\"([^\"]+)\"[^>]*>(.*?)</form>", text, re.S | re.I)
    if form:
        fields = dict(
            re.findall(
                r"<input[^>]*\btype=\"hidden\"[^>]*\bname=\"([^\"]+)\"[^>]*\bvalue=\"([^\"]*)\"",
                form.group(2),
                re.I,
            )
        )
        if fields:
            action = urljoin(url, html.unescape(form.group(1)))
            return action + "?" + urlencode({k: html.unescape(v) for k, v in fields.items()})
    where = f" from {page}" if page else ""
    raise DataError(
        f"{urlsplit(url).netloc} answered a web page instead of {name} (for Google Drive "
        f"this usually means its download quota is used up); download it in a browser{where} "
        "and run 'tnao data import PATH --benchmark NAME'."
    )


def _stream(
    resp, part: Path, have: int, console: Console, progress: ProgressCallback | None
) -> None:
    length = resp.headers.get("Content-Length")
    if have and resp.status_code == 206 and _range_start(resp) == have:
        mode, done = "ab", have
    else:
        if have:
            _say(console, "The server does not resume downloads; starting from the beginning.")
        mode, done = "wb", 0
    # A compressed transfer's length is not the file's: no percent rather than a wrong one.
    encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    total = done + int(length) if length and length.isdigit() and not encoded else None
    report = progress or (lambda _done, _total: None)
    report(done, total)
    with open(part, mode) as f:
        try:
            for block in resp.iter_content(CHUNK):
                f.write(block)
                done += len(block)
                report(done, total)
        except requests.RequestException as exc:
            raise _Interrupted(exc.__class__.__name__) from None
    if total is not None and done < total:
        raise _Interrupted("connection closed early")


def _range_start(resp) -> int | None:
    m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


def _unpack(archive: Path, dest_dir: Path, console: Console) -> Path:
    """Unpack a ``.tar`` beside itself (data members only); returns its top folder."""
    out = dest_dir / archive.name[: -len(".tar")]
    tmp = dest_dir / f".{archive.name}.unpacking"
    shutil.rmtree(tmp, ignore_errors=True)
    _say(console, f"Unpacking {archive.name} ...")
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                parts = Path(m.name).parts
                if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
                    raise DataError(
                        f"{archive.name} holds '{m.name}', which is not a plain "
                        "file inside the archive; refusing to unpack it."
                    )
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, members=members, filter="data")
            else:  # members were checked above
                tf.extractall(tmp, members=members)
        tops = {Path(m.name).parts[0] for m in members if Path(m.name).parts}
        inner = tmp / next(iter(tops)) if len(tops) == 1 else tmp
        if not inner.is_dir():
            raise DataError(
                f"{archive.name} does not hold a folder; expected the NATS-Bench archive layout."
            )
        shutil.rmtree(out, ignore_errors=True)
        os.replace(inner, out)
    except (tarfile.TarError, OSError) as exc:
        raise DataError(
            f"{archive.name} could not be unpacked ({exc}); remove it and fetch again."
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _say(console, f"Unpacked to {out}")
    return out
