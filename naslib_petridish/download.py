"""Download the official ``nasbench_only108.tfrecord``, verify it, convert it.

The download resumes from a ``.part`` file with an HTTP ``Range`` request,
shows a progress bar, verifies the TFRecord framing and every record's CRC,
and only then renames the file into place and writes the compact table.
"""
from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from .sources import CACHED_TABLE, cache_dir
from .errors import DownloadError, GroundTruthError

#: Address given in the NAS-Bench-101 repository's README.
OFFICIAL_URL = "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord"
CHUNK = 1 << 20


def fetch(url: str, dest: Path, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a previous ``dest.part``."""
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: the part file is complete
            part.replace(dest)
            return dest
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(
            f"cannot reach {url} ({exc}); check the network, or download the file by other means "
            "and pass it with --nb101 / 'naslib-petridish convert'") from exc
    with resp:
        status = getattr(resp, "status", 200)
        if have and status != 206:  # server ignored the range: start over
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        with open(part, mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                         desc=f"downloading {dest.name}",
                                         disable=not progress) as bar:
            while True:
                try:
                    chunk = resp.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"download interrupted ({exc}); run the same command again "
                        f"to resume") from exc
                if not chunk:
                    break
                f.write(chunk)
                bar.update(len(chunk))
    if total is not None and part.stat().st_size != total:
        raise DownloadError(
            f"download incomplete ({part.stat().st_size} of {total} bytes); run the same command "
            "again to resume")
    part.replace(dest)
    return dest


def download_nb101(url: str = OFFICIAL_URL, directory: str | os.PathLike | None = None,
                   progress: bool = True, force: bool = False) -> Path:
    """Fetch, verify and convert the official file; return the table's path."""
    from .tfrecord import TFRecordError, read_nb101_tfrecord

    directory = Path(directory) if directory else cache_dir()
    name = url.rstrip("/").rsplit("/", 1)[-1] or "nasbench.tfrecord"
    raw = directory / name
    table_path = directory / CACHED_TABLE
    if table_path.exists() and not force:
        return table_path
    if not raw.exists() or force:
        fetch(url, raw, progress=progress)
    try:
        table = read_nb101_tfrecord(raw, verify=True, progress=progress)
    except TFRecordError as exc:
        bad = raw.with_name(raw.name + ".corrupt")
        raw.replace(bad)
        raise DownloadError(f"{exc}; the file was moved to {bad}, run the command again") from exc
    except GroundTruthError as exc:
        raise DownloadError(str(exc)) from exc
    table.save(table_path, overwrite=True)
    return table_path
