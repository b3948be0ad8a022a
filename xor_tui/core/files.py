"""Atomic file writing: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class SaveError(OSError):
    """A file that cannot be written; the message says which and why."""


def write_atomic(path: str | os.PathLike, data: str | bytes, overwrite: bool = False) -> Path:
    p = Path(path)
    if p.is_dir():
        raise SaveError(f"{p}: is a directory")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p}: already exists; not overwritten")
    folder = p.parent
    if not folder.is_dir():
        raise SaveError(f"{folder}: no such directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except PermissionError:
        raise SaveError(f"{folder}: directory is not writable") from None
    except OSError as exc:
        raise SaveError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, p)
        else:
            # link() refuses an existing name: a file that appeared meanwhile is not clobbered
            try:
                os.link(tmp, p)
            except FileExistsError:
                raise FileExistsError(f"{p}: already exists; not overwritten") from None
            except OSError:  # no hard links here (some network or FAT mounts)
                if p.exists():
                    raise FileExistsError(f"{p}: already exists; not overwritten") from None
                os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p
