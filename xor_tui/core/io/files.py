"""Reading and writing files safely.

Reading: only regular files are opened (a FIFO, a device such as /dev/zero or a
directory is refused before any byte is read), and at most the limit + 1 bytes are read.

Writing is atomic (a temporary file in the same folder, then a rename or a link) and
only ever creates or replaces a regular file: devices, FIFOs, directories and symbolic
links are refused with or without ``overwrite``. Without ``overwrite`` the final step
creates the name exclusively, so a file that appeared meanwhile is never clobbered.
A new file gets the usual mode (0666 minus the umask); a replaced one keeps its mode.
Every step of a write after its folder is opened is taken relative to that open folder, so
a folder renamed or swapped for a symbolic link meanwhile cannot redirect it.

A process confined to one folder (:func:`confine`: a page of ``xor-tui serve``) checks the
file or folder it has *opened*, not only the name it was given: whatever the name led to when
it was opened must lie inside that folder (its path as the kernel knows the open file), so a
name swapped for a symbolic link between a check and the open is refused too.

Every error names the file and is one line.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from xor_tui.core.text import printable

MAX_PT_BYTES = 10_000_000  # a state_dict of this project's nets is about 2 KB


class SaveError(OSError):
    """A file that cannot be written; the message says which and why."""


class ReadError(OSError):
    """A file that cannot be read; the message says which and why."""


_CONFINED: str | None = None  # set by confine(): every file this process opens lies inside it
OUTSIDE = "refused: it leads out of this server's folder (a symbolic link, or a name changed meanwhile)"


def confine(root: str | os.PathLike[str]) -> None:
    """From now on this process reads and writes files only inside ``root`` (checked on each
    file once it is open: see the module's docstring). For a served page's app process."""
    global _CONFINED
    _CONFINED = os.path.realpath(root)


def _open_inside(fd: int, path: str | os.PathLike[str]) -> bool:
    """Whether what ``fd`` (opened from ``path``) is lies inside the confining folder (always
    True when the process is not confined). Linux names an open file in /proc/self/fd;
    elsewhere the name's real path must be inside and still be the same file as ``fd``."""
    root = _CONFINED
    if root is None:
        return True
    inside = root.rstrip(os.sep) + os.sep
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        real = ""
    if real.startswith(os.sep):
        return real == root or real.startswith(inside)
    real = os.path.realpath(path)
    if not (real == root or real.startswith(inside)):
        return False
    try:
        a, b = os.stat(real), os.fstat(fd)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _name(path: str | os.PathLike[str]) -> str:
    return printable(os.fspath(path), 200)


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


def os_refuses(path: str | os.PathLike[str]) -> str | None:
    """Why the operating system would refuse ``path`` whatever the folder holds (Python raises
    ValueError for these, not OSError), or None: a NUL byte, or a character with no bytes
    in a file name (a lone surrogate such as ``\\ud800``)."""
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError as exc:
        return f"the name holds {printable(exc.object[exc.start : exc.end])!s}, which no file name can hold"
    except TypeError:
        return "not a file name"
    if b"\0" in raw:
        return "the name holds a NUL byte (\\x00), which no file name can hold"
    return None


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ReadError otherwise."""
    name = _name(path)
    why = os_refuses(path)
    if why:
        raise ReadError(f"{name}: {why}")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ReadError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise ReadError(f"{name}: permission denied") from None
    except OSError as exc:
        raise ReadError(f"{name}: cannot open: {exc.strerror or exc}") from None
    try:
        if not _open_inside(fd, path):
            raise ReadError(f"{name}: {OUTSIDE}")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(f"{name}: is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise ReadError(f"{name}: file is {st.st_size:,} bytes; at most {limit:,}")
        chunks, got = [], 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:  # grew while we read
            raise ReadError(f"{name}: file is over {limit:,} bytes")
        return b"".join(chunks)
    except IsADirectoryError:
        raise ReadError(f"{name}: is a directory, not a file") from None
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def check_target(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Say now (before any long work) whether ``path`` could be written; raise if not.

    Refused: an empty name, a name ending in a slash, a missing folder, anything that
    exists and is not a regular file (with or without ``overwrite``), and an existing
    file without ``overwrite`` (FileExistsError).
    """
    text = os.fspath(path)
    if not text or not text.strip():
        raise SaveError("empty file name; give a file to write")
    name = _name(text)
    why = os_refuses(text)
    if why:
        raise SaveError(f"{name}: {why}")
    if text.endswith(("/", os.sep)):
        raise SaveError(f"{name}: ends with a slash; give a file name, not a folder")
    p = Path(text)
    folder = p.parent
    if not folder.is_dir():
        raise SaveError(f"{name}: folder {_name(folder)} does not exist")
    if not os.access(folder, os.W_OK):
        raise SaveError(f"{name}: folder {_name(folder)} is not writable")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    except OSError as exc:
        raise SaveError(f"{name}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise SaveError(f"{name}: is a symbolic link; not replaced (give the file itself)")
    if not stat.S_ISREG(st.st_mode):
        raise SaveError(f"{name}: is {_kind(st.st_mode)}; only a regular file is ever replaced")
    if not overwrite:
        raise FileExistsError(f"{name}: already exists; not overwritten")
    return p


def _chunks(data: str | bytes | Iterable[str]) -> Iterator[bytes]:
    chunks: Iterable[str | bytes] = [data] if isinstance(data, (str, bytes)) else data
    for chunk in chunks:
        yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk


def write_atomic(path: str | os.PathLike[str], data: str | bytes | Iterable[str], overwrite: bool = False) -> Path:
    """Write ``data`` (text, bytes, or text chunks streamed one by one) to ``path``."""
    p = check_target(path, overwrite)
    name, folder, leaf = _name(p), p.parent, p.name
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SaveError(f"{name}: cannot write in {_name(folder)}: {exc.strerror or exc}") from None
    tmp = ""
    try:
        if not _open_inside(dfd, folder):
            raise SaveError(f"{name}: {OUTSIDE}")
        fd, tmp = _temporary(dfd, name, folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in _chunks(data):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
                if overwrite:
                    try:
                        st = os.stat(leaf, dir_fd=dfd, follow_symlinks=False)
                    except FileNotFoundError:
                        st = None
                    if st is not None and not stat.S_ISREG(st.st_mode):  # changed since the check
                        raise SaveError(f"{name}: is {_kind(st.st_mode)}; only a regular file is ever replaced")
                    os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
                else:
                    os.fchmod(fh.fileno(), 0o666 & ~_umask())
        except OSError as exc:
            if isinstance(exc, SaveError):
                raise
            raise SaveError(f"{name}: cannot write: {exc.strerror or exc}") from None
        if overwrite:
            _finish(lambda: os.replace(tmp, leaf, src_dir_fd=dfd, dst_dir_fd=dfd), name)
        else:
            # link() refuses an existing name (even a dangling symlink): nothing is clobbered
            try:
                os.link(tmp, leaf, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
            except FileExistsError:
                raise FileExistsError(f"{name}: already exists; not overwritten") from None
            except OSError:  # no hard links here (some network or FAT mounts): create exclusively
                _write_exclusive(dfd, leaf, tmp, name)
    finally:
        if tmp:
            with contextlib.suppress(OSError):  # (gone already when it was replaced into place)
                os.unlink(tmp, dir_fd=dfd)
        os.close(dfd)
    return p


def _temporary(dfd: int, name: str, folder: Path) -> tuple[int, str]:
    """A new file of a short random name (a 255-character target name must still work) in
    the open folder ``dfd``, created exclusively, never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = f".xor-tui-{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, flags, 0o600, dir_fd=dfd), tmp
        except FileExistsError:
            continue
        except PermissionError:
            raise SaveError(f"{name}: folder {_name(folder)} is not writable") from None
        except OSError as exc:
            raise SaveError(f"{name}: cannot write in {_name(folder)}: {exc.strerror or exc}") from None
    raise SaveError(f"{name}: cannot write in {_name(folder)}: no free temporary name")


def _finish(fn: Callable[[], None], name: str) -> None:
    try:
        fn()
    except OSError as exc:
        raise SaveError(f"{name}: cannot write: {exc.strerror or exc}") from None


def _write_exclusive(dfd: int, leaf: str, tmp: str, name: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(leaf, flags, 0o666, dir_fd=dfd)
    except FileExistsError:
        raise FileExistsError(f"{name}: already exists; not overwritten") from None
    except OSError as exc:
        raise SaveError(f"{name}: cannot write: {exc.strerror or exc}") from None
    src = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), dir_fd=dfd)
    with os.fdopen(fd, "wb") as fh, os.fdopen(src, "rb") as source:
        while chunk := source.read(1 << 20):
            fh.write(chunk)


_FLOAT_DTYPES = {"torch.float16", "torch.bfloat16", "torch.float32", "torch.float64"}
MAX_TENSOR_ELEMENTS = 16  # the largest parameter here is a 4x4 weight


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """Start weights from a PyTorch ``state_dict`` file, read with ``weights_only=True``.

    Only plain dense CPU float tensors of at most 16 elements under string keys are
    accepted, and that is checked (type, layout, device, dtype, shape) before any value
    is read, so an expanded or sparse tensor cannot make us allocate. torch's restricted
    unpickler refuses any other object, so none is ever unpickled. Keys may be ours
    (``hidden.weight``) or the source's module names (``hide.weight``, ``out.weight``),
    not both.
    """
    import pickle
    import zipfile

    import torch

    from xor_tui.core.engine.activations import SpecError  # here: reading and writing files needs no torch

    name = _name(path)
    try:
        raw = read_regular(path, MAX_PT_BYTES)
    except ReadError as exc:
        raise SpecError(str(exc)) from None
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise SpecError(f"{name}: not a PyTorch file (torch.save writes a zip archive)")
    try:
        with warnings.catch_warnings():  # torch warns about some legacy contents: the checks below say it
            warnings.simplefilter("ignore")
            obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise SpecError(
            f"{name}: refused: it holds objects other than tensors; xor-tui reads .pt files with "
            "torch.load(weights_only=True) and never unpickles arbitrary objects"
        ) from None
    except Exception as exc:  # torch raises several kinds for files that are not its own
        detail = printable(f"{type(exc).__name__}: {exc}", 160)
        raise SpecError(f"{name}: not a PyTorch state_dict file ({detail})") from None
    if not isinstance(obj, dict) or not obj:
        raise SpecError(f"{name}: expected a state_dict (names mapped to tensors), got {type(obj).__name__}")
    if len(obj) > 64:
        raise SpecError(f"{name}: {len(obj)} entries; a state_dict here has at most 12")
    checked = {}
    for key, value in obj.items():
        shown = printable(repr(key), 60)
        if not isinstance(key, str) or type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise SpecError(f"{name}: entry {shown} is not a tensor under a name")
        if value.layout != torch.strided or value.is_sparse or value.is_quantized or value.is_nested:
            raise SpecError(f"{name}: entry {shown} is a {value.layout} tensor; expected a plain dense one")
        if value.device.type != "cpu":
            raise SpecError(f"{name}: entry {shown} is on device {value.device.type}; expected a CPU tensor")
        if str(value.dtype) not in _FLOAT_DTYPES:
            raise SpecError(f"{name}: entry {shown} has dtype {value.dtype}; expected a real floating-point tensor")
        if value.dim() > 2 or value.numel() > MAX_TENSOR_ELEMENTS:
            raise SpecError(
                f"{name}: entry {shown} has shape {list(value.shape)[:8]}; "
                f"a parameter here has at most 2 dimensions and {MAX_TENSOR_ELEMENTS} values"
            )
        new = key.replace("hide.", "hidden.", 1) if key.startswith("hide.") else key
        new = new.replace("out.", "output.", 1) if new.startswith("out.") else new
        if new in checked:
            raise SpecError(f"{name}: both {new!r} and the source's name for it are present; keep one")
        checked[new] = value
    return {k: v.detach().to(torch.float32).tolist() for k, v in checked.items()}
