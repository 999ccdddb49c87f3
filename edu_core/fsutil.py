"""Writing files so that a reader, a crash or a power cut never sees half of one.

Every module that replaces a file in place (models, registries, data-set zips, the teacher
password, content-addressed photo blobs) goes through :func:`atomic_write`, so there is one
place that knows the order: temporary file in the same folder, flush, fsync, rename, fsync
the folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir"]


def fsync_dir(path: Path | str) -> None:
    """Make a rename or a new entry in ``path`` survive a power cut (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


def atomic_write(
    path: Path | str,
    data: bytes | str,
    *,
    durable: bool = True,
    mode: int | None = None,
    tmp_dir: Path | str | None = None,
    exclusive: bool = False,
) -> bool:
    """Write ``data`` to ``path`` so that ``path`` holds either the old or the whole new content.

    ``durable`` fsyncs the file and its folder (acknowledged writes survive a power cut); turn
    it off only for caches that can be rebuilt. ``mode`` sets the new file's permissions
    (``0o600`` for secrets). ``tmp_dir`` puts the temporary file elsewhere on the same file
    system (a blob store's ``tmp/`` folder, which a restart can sweep). ``exclusive`` never
    replaces an existing file: it returns ``False`` and leaves the old one when ``path`` exists
    (two servers starting at once keep the first one's file). Returns ``True`` when written.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    # The writer's pid in the name lets a sweep tell a live writer's part from a dead one's.
    tmp = folder / f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.part"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return True
