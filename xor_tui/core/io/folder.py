"""Which files a user of the app may reach, and how much a page may write.

Two policies, one class (:class:`Files`):

- anywhere the user's own account can reach (the app in a terminal: its user is the one
  typing), with ``~`` expanded as a shell would;
- only inside one folder (each page of ``xor-tui serve``: whoever holds the page's URL types
  the paths, and the app runs as the server's user). A typed path is taken relative to that
  folder; refused, each with a one-line reason: an absolute path, ``~``, any ``..`` part, and
  a path that leads out of the folder through a symbolic link. ``read_only`` refuses every
  write; ``quota`` caps the bytes one page (one app process) writes in all. These checks give
  the reasons; a served app's process is also confined (``files.confine``), which checks each
  file once it is open, so a name swapped for a link after its check is refused too.

Every path the operating system would refuse (a NUL byte, a lone surrogate that has no bytes)
is refused here with one line, whatever the policy: see :func:`os_refuses`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from xor_tui.core.io.files import SaveError, check_target, os_refuses, write_atomic
from xor_tui.core.text import printable

DEFAULT_QUOTA = 50_000_000  # bytes one served page may write (w and i), in all
MAX_NUMBERED = 9_999  # numbered names tried for one screenshot stem


class Refused(OSError):
    """A path or a write this policy does not allow; the message says why, in one line."""


def _name(text: str) -> str:
    return printable(text, 200)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _mb(n: int) -> str:
    if n < 1000:
        return "1 byte" if n == 1 else f"{n} bytes"
    return f"{n / 1e3:.1f} kB" if n < 1_000_000 else f"{n / 1e6:.1f} MB"


class Files:
    """Where ``f``, ``w`` and ``i`` may read and write: anywhere (``root`` None) or only inside
    ``root``; ``read_only`` refuses every write; ``quota`` (bytes) caps what is written in all.

    The counter of bytes written lives in this object: one per app process (one per page)."""

    def __init__(
        self, root: str | os.PathLike[str] | None = None, read_only: bool = False, quota: int | None = None
    ) -> None:
        self.root: Path | None = None if root is None else Path(os.path.realpath(root))
        self.read_only = read_only
        self.quota = quota
        self.written = 0  # bytes written through this object

    @property
    def confined(self) -> bool:
        """True when every path must stay inside ``root``."""
        return self.root is not None

    # ------------------------------------------------------------ paths
    def path(self, text: str) -> Path:
        """The file a user means by ``text`` (stripped), checked by the policy but not opened.

        Confined: relative to ``root``; the folder that holds it must really be inside ``root``
        (symbolic links followed). Raises :class:`Refused` with the reason."""
        text = str(text).strip()
        if not text:
            raise Refused("empty file name; give a file")
        why = os_refuses(text)
        if why:
            raise Refused(f"{_name(text)}: {why}")
        if self.root is None:
            return Path(os.path.expanduser(text))
        if text.startswith("~"):
            raise Refused(f"{_name(text)}: refused: ~ (a home folder) is outside this server's folder; {self._hint}")
        if os.path.isabs(text):
            raise Refused(f"{_name(text)}: refused: an absolute path; {self._hint}")
        if ".." in Path(text).parts:
            raise Refused(f"{_name(text)}: refused: '..' leads out of this server's folder; {self._hint}")
        if os.path.basename(text.rstrip("/")) in ("", "."):
            raise Refused(f"{_name(text)}: a folder, not a file; {self._hint}")
        path = self.root / text
        self._check_inside(path.parent, text)
        # relative when the process works in root (as a served app does): what the user typed
        # is then what every message shows, and the server's own folder is never said
        return Path(text) if os.path.realpath(".") == str(self.root) else path

    @property
    def _hint(self) -> str:
        return "give a path inside it, such as NAME.toml"

    def _check_inside(self, path: Path, text: str) -> None:
        real = os.path.realpath(path)
        if not _within(real, str(self.root)):
            raise Refused(f"{_name(text)}: refused: a symbolic link leads out of this server's folder")

    def readable(self, text: str) -> Path:
        """The file ``text`` names, for reading: confined, the file itself (after any symbolic
        link) must be inside ``root`` too. Raises :class:`Refused`."""
        path = self.path(text)
        if self.root is not None:
            self._check_inside(self.root / path, str(text).strip())
        return path

    def check_reference(self, path: str | os.PathLike[str]) -> Path:
        """A file that a file read through this policy refers to (a scenario's ``[start]
        state_dict``), already joined to that file's folder: confined, it must be inside
        ``root``. Raises :class:`Refused`."""
        text = os.fspath(path)
        why = os_refuses(text)
        if why:
            raise Refused(f"{_name(text)}: {why}")
        p = Path(text)
        if self.root is not None:
            if p.is_absolute() and not _within(os.path.realpath(p), str(self.root)):
                raise Refused(f"{_name(text)}: refused: an absolute path outside this server's folder")
            if ".." in p.parts:
                raise Refused(f"{_name(text)}: refused: '..' leads out of this server's folder")
            self._check_inside(self.root / p, text)  # a relative p is relative to root
        return p

    def writable(self, text: str) -> Path:
        """The file ``text`` names, for writing: refused when read-only, outside ``root``, or
        not writable at all (a folder, a device, a symbolic link, a missing folder: see
        :func:`check_target`). Raises OSError (:class:`Refused`, SaveError) with one line."""
        self.check_writes()
        path = self.path(text)
        check_target(path, overwrite=True)
        return path

    def check_writes(self) -> None:
        """Raise :class:`Refused` when this policy writes nothing (``read_only``)."""
        if self.read_only:
            raise Refused("this server is read-only (--read-only): w and i save nothing")

    def shown(self, path: str | os.PathLike[str]) -> str:
        """``path`` as the user should see it: confined, relative to ``root`` (a page never
        learns where the server's folder is); otherwise absolute."""
        p = Path(path)
        if self.root is None:
            return str(p.absolute())
        try:
            return str(Path(os.path.abspath(p)).relative_to(self.root))
        except ValueError:
            return p.name

    def folder_for(self, session_file: Path | None) -> Path:
        """Where a screenshot goes: the folder of the session's file, else the current folder
        (confined: ``root`` unless that file's folder is inside it)."""
        folder = Path(".") if session_file is None else Path(session_file).parent
        if self.root is None:
            return folder
        real = os.path.realpath(self.root / folder)
        return Path(real) if _within(real, str(self.root)) else self.root

    # ------------------------------------------------------------ writing
    def _charge(self, size: int, name: str) -> None:
        self.check_writes()
        if self.quota is not None and self.written + size > self.quota:
            raise Refused(
                f"{name}: not written: this page may write {_mb(self.quota)} in all (the server's quota) "
                f"and has written {_mb(self.written)}; this file needs {_mb(size)} more"
            )

    def write(self, path: str | os.PathLike[str], data: str | bytes, overwrite: bool = False) -> Path:
        """Write ``data`` atomically (see :func:`write_atomic`), counted against the quota first."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        self._charge(len(raw), self.shown(path))
        done = write_atomic(path, raw, overwrite)
        self.written += len(raw)
        return done

    def write_numbered(self, folder: str | os.PathLike[str], stem: str, suffix: str, data: str | bytes) -> Path:
        """Write ``data`` as ``folder/stem-N.suffix`` with the first N from 1 whose name is not
        taken; never overwrites (the name is claimed exclusively when written)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        folder = Path(folder)
        self._charge(len(raw), self.shown(folder / f"{stem}{suffix}"))
        for i in range(1, MAX_NUMBERED + 1):
            path = folder / f"{stem}-{i}{suffix}"
            if os.path.lexists(path):
                continue
            try:
                done = write_atomic(path, raw)
            except FileExistsError:  # appeared meanwhile: keep it, take the next name
                continue
            self.written += len(raw)
            return done
        raise SaveError(f"{self.shown(folder / stem)}-*{suffix}: {MAX_NUMBERED:,} names taken; not saved")


def file_stem(name: str) -> str:
    """A scenario's name as a file name: letters, digits, '.', '+', '_' and '-' kept, anything
    else (spaces, slashes, control characters) a '-'; no leading dot; at most 80 characters."""
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).lstrip(".-")[:80]
    return stem or "xor-tui"


def parse_size(text: str) -> int:
    """A size in bytes from ``50MB``, ``2.5 GB``, ``800k`` or a plain number of bytes;
    ValueError with the reason otherwise."""
    units = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9}
    s = str(text).strip().lower().replace(" ", "").replace("_", "")
    num = s.rstrip("kmgb")
    unit = s[len(num) :]
    try:
        value = float(num)
    except ValueError:
        value = -1.0
    if unit not in units or not 0 <= value <= 1e15 or value != value:
        raise ValueError(f"expected a size such as 50MB, 800k or 1GB, got {printable(text, 40)!r}")
    return int(value * units[unit])


__all__ = ["DEFAULT_QUOTA", "Files", "Refused", "file_stem", "parse_size"]

