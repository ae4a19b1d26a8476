"""Crash-safe files and directories: what eiwa writes is either the old whole or the new whole.

* `write_atomic` / `write_json` / `atomic_text`: one file, written to a temporary name, fsynced,
  renamed over.
* `replace_directory`: a model directory is built beside its target, fsynced, then swapped in
  with one atomic exchange (Linux `renameat2(RENAME_EXCHANGE)`), so that at every instant the
  path holds the complete old model or the complete new one. Where the exchange is missing
  (other systems, some file systems) it falls back to two renames, and `recover` undoes a crash
  between them on the next write (a reader reports it).
* `lock`: an advisory lock beside an output path (`.<name>.lock`, there only while held); a second
  writer fails at once. `held_locks` lists this process's, so that processes it starts can hold them too;
  `is_locked` tells whether anyone holds one.
* `signals_deferred`: SIGINT and SIGTERM wait until a step that must not be cut is done (making,
  renaming or removing a temporary file; a directory swap), not while a stream is written.

A path that is a symbolic link is written through (`through_links`): the file or directory it
names is replaced, atomically as any other, and the link stays.

Temporary names start with `.<target name>.` and end in `.tmp`, `.new` or `.old`; leftovers of a
killed process are removed by the next write to the same place (`clean_leftovers`). They live
here, beside the swap that makes them, rather than in model_dir.py: the swap cleans up first.

`fault_point(name)` marks every write, fsync and rename. With EIWA_FAULT_AT=k in the environment
the process kills itself (SIGKILL) at the k-th point; with EIWA_FAULT_LOG=path it appends each
point's name there. tests/test_persist.py kills a training run at every point this way.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from eiwa.errors import EiwaError, ModelError
from eiwa.persist.files import read_bytes, reason

_UMASK = os.umask(0)
os.umask(_UMASK)

_faults_seen = 0


def fault_point(name: str) -> None:
    """A place where a crash must leave things whole (see the module docstring)."""
    global _faults_seen
    log = os.environ.get("EIWA_FAULT_LOG")
    at = os.environ.get("EIWA_FAULT_AT")
    if log is None and at is None:
        return
    _faults_seen += 1
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{_faults_seen} {name}\n")
    if at is not None and _faults_seen == int(at):
        os.kill(os.getpid(), signal.SIGKILL)


# ----------------------------------------------------------------------------- files


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def through_links(path: str | Path) -> Path:
    """Where a write to `path` lands: a symbolic link (or a chain of them) is followed to the file or
    directory it names, which is replaced while the link stays; a loop of links is an error."""
    path = Path(path)
    return directory_to_write(path) if os.path.islink(path) else path


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[str]:
    """A temporary name beside `path` (beside the file it links to, for a link) to write; when the
    block ends without error it is fsynced and renamed over that file, and on error removed. A signal
    waits while the file is made, renamed or removed (`signals_deferred`), not while the block
    writes: a long `predict --output` stops on Ctrl-C at once."""
    path = through_links(path)
    temporary = None
    try:
        with signals_deferred():
            temporary = _temporary_beside(path)
        yield temporary
        with signals_deferred():
            _put_in_place(temporary, path)
    except BaseException:
        if temporary is not None:
            with signals_deferred():
                if os.path.exists(temporary):
                    os.unlink(temporary)
        raise


def _temporary_beside(path: Path) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise EiwaError(f"{path}: cannot write: {error.strerror}") from None
    os.close(handle)
    return temporary


def _put_in_place(temporary: str, path: Path) -> None:
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes files private; saved files should not be
    _fsync_path(Path(temporary))
    fault_point(f"rename {path.name}")
    os.replace(temporary, path)
    _fsync_path(path.parent)


def write_atomic(path: str | Path, write: Callable[[str], None]) -> None:
    """Call write(temporary_path), fsync it, then rename it over `path`."""
    path = Path(path)
    with _replacing(path) as temporary:
        fault_point(f"write {path.name}")
        write(temporary)


@contextlib.contextmanager
def atomic_text(path: str | Path) -> Iterator[TextIO]:
    """A text stream that becomes `path` when the block ends without error (written as it goes,
    under a temporary name); on error nothing is left. Characters UTF-8 cannot hold (a lone
    surrogate) are written backslash-escaped."""
    with _replacing(Path(path)) as temporary:
        with open(temporary, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as stream:
            yield stream


def json_text(value, indent: int | None = None) -> str:
    """JSON with non-ASCII text as it is, unless some of it is a lone surrogate (from the input),
    which UTF-8 cannot hold: then all of it is \\u-escaped, which reads back the same."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, indent=indent)
    return text


def dump_json(path: str | Path, value) -> None:
    """Write JSON to `path` as it is (no rename): for files inside a directory still being built."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json_text(value, indent=1) + "\n")


def write_json(path: str | Path, value) -> None:
    write_atomic(path, lambda temporary: dump_json(temporary, value))


def read_json(path: str | Path, shape: type | None = dict):
    """A JSON document; a missing or damaged file, or one whose top level is not `shape`, is a ModelError."""
    path = Path(path)
    try:
        value = json.loads(read_bytes(path, ModelError).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: damaged ({error})") from None
    except RecursionError:
        raise ModelError(f"{path}: damaged (nested too deeply)") from None
    if shape is not None and not isinstance(value, shape):
        raise ModelError(
            f"{path}: damaged (expected a JSON {'object' if shape is dict else shape.__name__}, "
            f"found {type(value).__name__})"
        )
    return value


def is_file(path: str | Path) -> bool:
    """Path.is_file that says False, not OSError/ValueError, for a string no file can be named
    (too long, a NUL): options such as --label-map take a file or an inline value."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: str | Path) -> bool:
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


# ----------------------------------------------------------------------------- directories


def _leftovers(target: Path) -> list[Path]:
    prefix = f".{target.name}."
    if not target.parent.is_dir():
        return []
    return [
        p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith((".tmp", ".new", ".old"))
    ]


def half_swapped(target: Path) -> Path | None:
    """The old model that a crash between the two renames of the fallback swap left beside `target`
    (which is then missing), or None."""
    try:
        if target.exists() or target.is_symlink():
            return None
        old = sorted(p for p in _leftovers(target) if p.name.endswith(".old") and (p / "meta.json").exists())
    except (OSError, ValueError):  # no such directory can be there
        return None
    return old[-1] if old else None


def recover(target: Path) -> None:
    """Undo a crash between the two renames of the fallback swap: put the old model back. Only a
    writer does this (`clean_leftovers`); a reader reports it (`model_dir.resolve_model`)."""
    if (old := half_swapped(target)) is not None:
        os.rename(old, target)


def clean_leftovers(target: Path) -> None:
    """Remove what a killed write left beside `target` (and inside it: temporary files)."""
    recover(target)
    for path in _leftovers(target):
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if target.is_dir():
        for path in target.iterdir():
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot (or EIWA_SWAP_FALLBACK=1 asks
    for the fallback, so that tests cover it on Linux too)."""
    if os.environ.get("EIWA_SWAP_FALLBACK") == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def replace_directory(target: str | Path, fill: Callable[[Path], None], replaceable: Callable[[Path], bool]) -> None:
    """Build a new directory with fill(staging), then swap it in for `target` as a whole.

    An existing non-empty `target` must pass `replaceable` (it is an eiwa model): replacing
    deletes it, and a directory of other files is never deleted. A signal waits until it is done."""
    with signals_deferred():
        _replace_directory_now(directory_to_write(target), fill, replaceable)


def _replace_directory_now(target: Path, fill: Callable[[Path], None], replaceable: Callable[[Path], bool]) -> None:
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EiwaError(f"{parent}: cannot create: {error.strerror}") from None
    clean_leftovers(target)
    if target.exists():
        if not target.is_dir():
            raise EiwaError(f"{target}: exists and is not a directory")
        if any(target.iterdir()) and not replaceable(target):
            raise EiwaError(f"{target}: holds files that are not an eiwa model; choose another output directory")
    try:
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}.", suffix=".new"))
    except OSError as error:
        raise EiwaError(f"{parent}: cannot write: {error.strerror}") from None
    try:
        os.chmod(staging, 0o777 & ~_UMASK)
        fault_point("fill staging")
        fill(staging)
        for path in staging.iterdir():
            os.chmod(path, 0o666 & ~_UMASK)  # some writers (safetensors) make files private
            _fsync_path(path)
        _fsync_path(staging)
        fault_point("swap")
        if not target.exists():
            os.rename(staging, target)
        elif _exchange(staging, target):
            fault_point("remove old")
            shutil.rmtree(staging)  # the old model, now under the staging name
        else:
            old = parent / f".{target.name}.{os.getpid()}.old"
            os.rename(target, old)
            fault_point("fallback second rename")
            os.rename(staging, target)
            shutil.rmtree(old)
        _fsync_path(parent)
    except BaseException:
        if staging.exists() and staging != target:
            shutil.rmtree(staging, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------- signals

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_deferring = False


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM received in the block take effect when it ends, as they would have then.

    A write interrupted midway would be undone by its own cleanup, but a signal landing inside that
    cleanup (or between creating a temporary file and guarding it) left the file behind. Only the
    main thread receives signals, so elsewhere (and inside an outer deferral) this does nothing."""
    global _deferring
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _STOP_SIGNALS}
    if any(handler is None for handler in previous.values()):  # set outside Python: cannot be restored
        yield
        return
    caught: list[int] = []
    for number in _STOP_SIGNALS:
        signal.signal(number, lambda received, _frame: caught.append(received))
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
        for number, handler in previous.items():
            signal.signal(number, handler)
        if caught:
            signal.raise_signal(caught[0])


# ----------------------------------------------------------------------------- locks

_held: list[TextIO] = []


def held_locks() -> tuple[int, ...]:
    """The file descriptors of the locks this process holds: a process it starts to write the same
    output can hold them too (distributed.py), so that a lock outlives no writer."""
    return tuple(handle.fileno() for handle in _held)


@contextlib.contextmanager
def lock(target: str | Path) -> Iterator[None]:
    """Hold an advisory lock on `target` while writing it; a second writer fails at once. Once held,
    an old model that an interrupted swap left beside `target` is put back (`recover`).

    The lock is `flock` on the file `.<name>.lock` beside `target`, which exists only while it is
    held: it is removed on the way out, after success, an error or an interruption (Ctrl-C,
    SIGTERM). The kernel drops a flock when its holder dies, so the file a killed (SIGKILL) run
    leaves behind blocks no one, and the next writer removes it."""
    target = directory_to_write(target)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one writer at a time is then the user's to keep
        yield
        return
    path = target.parent / f".{target.name}.lock"
    handle = _take_lock(target, path, fcntl)
    _held.append(handle)
    try:
        recover(target)  # the writer, now alone, puts back what an interrupted save left
        yield
    finally:
        _held.remove(handle)
        # Removed while still held: a writer that opened the file before sees it gone and starts over.
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def is_locked(target: str | Path) -> bool:
    """Whether some process holds `target`'s lock, tried without taking it over or removing it (for
    tests and tools; a writer trying to take the lock at that very moment would be refused)."""
    try:
        import fcntl
    except ImportError:
        return False
    target = directory_to_write(target)
    try:
        handle = open(target.parent / f".{target.name}.lock", encoding="utf-8")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _take_lock(target: Path, path: Path, fcntl) -> TextIO:
    """The open, flocked lock file `path`, holding this process's id; an error if another holds it."""
    while True:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+", encoding="utf-8")
        except OSError as error:
            raise EiwaError(f"{target}: cannot write: {error.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise EiwaError(
                f"{target}: another eiwa process ({holder}) is writing it; wait for it or choose another --out"
            ) from None
        if _same_file(handle, path):
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            return handle
        handle.close()  # its holder finished and removed it between our open and flock: try the new one


def _same_file(handle: TextIO, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def directory_to_write(path: str | Path, what: str = "output") -> Path:
    """The directory that saving to `path` replaces: the path with every symbolic link in it followed,
    as `replace_directory` and `lock` use it. A link loop, or a name no file can have, is an error."""
    path = Path(path)
    try:
        return path.resolve()
    except RuntimeError:  # how Python before 3.13 reports a symbolic link loop
        raise EiwaError(f"{path}: cannot write {what} here (a symbolic link loop)") from None
    except OSError as error:
        raise EiwaError(f"{path}: cannot write {what} here ({reason(error)})") from None
    except ValueError:
        raise EiwaError(f"{str(path)[:80]!r}: cannot write {what} here (the name holds a NUL)") from None


def check_writable_directory(path: str | Path, what: str = "output") -> None:
    """`check_writable` for a directory output, resolved exactly as saving it will be."""
    check_writable(directory_to_write(path, what), what)


def check_writable(path: str | Path, what: str = "output") -> None:
    """Fail before long work if `path` cannot be written: an existing directory must be writable,
    and so must the nearest existing parent of anything else (an existing file is overwritten;
    click's path options already refuse a file where a directory is wanted). A link is checked where
    it leads, as writing will go (`through_links`)."""
    path = through_links(path)
    probe = path if path.is_dir() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise EiwaError(f"{path}: cannot write {what} here ({probe} is not a directory)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise EiwaError(f"{path}: cannot write {what} here ({probe} is not writable)")
