"""Atomic file writes: write temporary files beside the targets, then rename.

Temporary files are named ``.<target name>.<host>.<pid>-<random>.tmp``. A process that
is killed mid-write leaves its temporary file behind; the next write of the same target
(or :func:`remove_stale_temps`) removes those whose process is gone. A replaced file
keeps its permission bits; a new one gets what the umask gives (``mkstemp`` alone would
make every file 0600, and the group would lose read access on a shared server).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["atomic_path", "atomic_paths", "atomic_write_bytes", "atomic_write_text", "remove_stale_temps"]

# A temporary file of another host, or of an older posekit that did not name its
# process, is removed only once it is this old (seconds): no write takes that long.
_FOREIGN_TEMP_AGE = 3600.0
_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"
_umask_lock = threading.Lock()


@contextlib.contextmanager
def atomic_paths(targets: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; on success rename them over the targets.

    Every temporary file is written by the caller and fsynced before the first rename, so
    a crash leaves the previous files, or (only between two renames) the first new files
    beside the other old ones. The renames run in the order of ``targets``. If the block
    raises, the temporary files are removed and every target is left as it was.

    Parameters
    ----------
    targets
        The files to (re)write, in the order they are renamed into place.

    Yields
    ------
    list of pathlib.Path
        Where the caller writes each new content, in the order of ``targets``.

    Raises
    ------
    OSError
        If a temporary file cannot be created, written or renamed (a missing or read-only
        folder, a full disk); the message names the target and says it is unchanged.
    """
    targets = [Path(t) for t in targets]
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_new_temp(target))
        try:
            yield temps
        except OSError as exc:  # the caller's write failed: a full disk, say
            raise _named_error(exc, targets) from exc
        for tmp, target in zip(temps, targets, strict=True):
            _finish(tmp, target)
        for tmp, target in zip(temps, targets, strict=True):
            _rename(tmp, target)
        for folder in dict.fromkeys(t.parent for t in targets):
            _fsync_dir(folder)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    The single-file form of :func:`atomic_paths`: if the block raises, the temporary
    file is removed and ``target`` is left exactly as it was.

    Parameters
    ----------
    target
        The file to (re)write.

    Yields
    ------
    pathlib.Path
        Where the caller writes the new content.
    """
    with atomic_paths([target]) as (tmp,):
        yield tmp


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def remove_stale_temps(target: str | os.PathLike) -> list[Path]:
    """Remove temporary files of ``target`` left by writers that are gone.

    A temporary file of this host is removed when its process no longer runs; one of
    another host (a shared filesystem), or of an older posekit, when it is over an hour
    old. Files that cannot be removed (a read-only folder) are left alone.

    Parameters
    ----------
    target
        The file whose ``.<name>.*.tmp`` siblings are checked.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    target = Path(target)
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.(?:(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)-)?[^/]*\.tmp$"
    )
    removed: list[Path] = []
    try:
        candidates = list(target.parent.glob(glob.escape(f".{target.name}.") + "*.tmp"))
    except OSError:
        return removed
    for path in candidates:
        match = pattern.match(path.name)
        if match is None or not _is_stale(path, match.group("host"), match.group("pid")):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _new_temp(target: Path) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.{_HOST}.{os.getpid()}-", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise _named_error(exc, target) from exc
    os.close(fd)
    return Path(tmp)


def _finish(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the target's mode and flush it to disk."""
    try:
        os.chmod(tmp, _mode_for(target))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    except OSError as exc:
        raise _named_error(exc, target) from exc


def _rename(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise _named_error(exc, target) from exc


def _named_error(exc: OSError, targets: Path | Sequence[Path]) -> OSError:
    """``exc`` again, its message naming the files that were not written."""
    targets = [targets] if isinstance(targets, Path) else list(targets)
    names = " and ".join(f"'{t}'" for t in targets)
    previous = "the previous file, if any, is" if len(targets) == 1 else "the previous files are"
    message = f"could not write {names} ({exc.strerror or exc}); {previous} unchanged"
    return type(exc)(message) if exc.errno is None else type(exc)(exc.errno, message)


def _mode_for(target: Path) -> int:
    """The permission bits a new version of ``target`` gets."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask (read without changing it where the OS allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:  # elsewhere: set and restore, which no other posekit thread races
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _is_stale(path: Path, host: str | None, pid: str | None) -> bool:
    if host == _HOST and pid is not None:
        return not _pid_alive(int(pid))
    try:
        return time.time() - path.stat().st_mtime > _FOREIGN_TEMP_AGE
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # a write of this process may be in progress in another thread
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX; a no-op where folders can't be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
