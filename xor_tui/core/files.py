"""Atomic file writing: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import os
import tempfile
import zipfile
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


def load_state_dict(path: str | os.PathLike) -> dict[str, list]:
    """Start weights from a PyTorch ``state_dict`` file, read with ``weights_only=True``.

    Only plain tensors under string keys are accepted; torch's restricted unpickler
    refuses anything else, so no arbitrary object is ever unpickled. Keys may be ours
    (``hidden.weight``) or the source's module names (``hide.weight``, ``out.weight``).
    """
    import pickle

    import torch

    from .activations import SpecError

    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{p}: no such file")
    if not zipfile.is_zipfile(p):
        raise SpecError(f"{p}: not a PyTorch file (torch.save writes a zip archive)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise SpecError(
            f"{p}: refused: it holds objects other than tensors; xor-tui reads .pt files with "
            "torch.load(weights_only=True) and never unpickles arbitrary objects"
        ) from None
    except Exception as exc:  # torch raises several kinds for files that are not its own
        raise SpecError(f"{p}: not a PyTorch state_dict file ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict) or not obj:
        raise SpecError(f"{p}: expected a state_dict (names mapped to tensors), got {type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise SpecError(f"{p}: entry {key!r} is not a tensor under a name")
        name = key.replace("hide.", "hidden.", 1) if key.startswith("hide.") else key
        name = name.replace("out.", "output.", 1) if name.startswith("out.") else name
        out[name] = value.detach().to(torch.float32).tolist()
    return out
