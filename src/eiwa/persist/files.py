"""Reading files: the one place where the operating system's refusals become one-line errors.

Every file eiwa reads (data, configs, model files, checkpoints, resources) is opened inside
`reading(path)`, or checked by `readable_file(path)` when a library opens it itself. An OSError (no
such file, permission denied, a directory, a symbolic link loop, a name too long, ...) becomes an error
of the caller's kind (`EiwaError`, `DataError`, `ModelError`) that names the file and says in words
what is wrong. `read_bytes` and `read_text` are the common cases; `what_is_there` says what stands
where a file is wanted, for messages that must tell "missing" from "a directory" or "a link loop".
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from eiwa.errors import DataError, EiwaError

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a directory",
    errno.ENOTDIR: "a part of its path is not a directory",
    errno.ELOOP: "it is a symbolic link loop",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EIO: "input/output error (a failing disk?)",
    errno.ENXIO: "it is a device that is not there",
}


def reason(error: OSError) -> str:
    """What an OSError means for the file it names, in a few words."""
    return _REASONS.get(error.errno) or error.strerror or str(error)


def make_error(kind: type[EiwaError], path: str | Path, message: str, line: int | None = None) -> EiwaError:
    """An error of `kind` whose message starts with `path` and `line` (DataError takes them itself)."""
    if issubclass(kind, DataError):
        return kind(path, line, message)
    return kind(f"{path}{'' if line is None else f':{line}'}: {message}")


@contextlib.contextmanager
def reading(path: str | Path, kind: type[EiwaError] = EiwaError, what: str = "file") -> Iterator[Path]:
    """Read `path` inside the block; an OSError raised there becomes one `kind` error naming the file.

    `what` names the file in the errors ("no such config file", "cannot read: it is a directory, not
    a config file"). Keep the block to the reading itself: an OSError there is taken to be about `path`."""
    if "\0" in str(path):
        raise make_error(kind, repr(str(path))[:80], f"no {what} can be named so (the name holds a NUL)")
    try:
        yield Path(path)
    except FileNotFoundError:
        raise make_error(kind, path, f"no such {what}") from None
    except IsADirectoryError:
        raise make_error(kind, path, f"cannot read: it is a directory, not a {what}") from None
    except OSError as error:
        raise make_error(kind, path, f"cannot read: {reason(error)}") from None


def read_bytes(path: str | Path, kind: type[EiwaError] = EiwaError, what: str = "file") -> bytes:
    with reading(path, kind, what) as readable:
        return readable.read_bytes()


def readable_file(path: str | Path, kind: type[EiwaError] = EiwaError, what: str = "file") -> Path:
    """`path`, opened for reading once: for libraries that open files themselves (safetensors, numpy)
    and report the system's errors wrongly (safetensors calls a symbolic link loop "no such file")."""
    with reading(path, kind, what) as found, open(found, "rb"):
        return found


def read_text(path: str | Path, kind: type[EiwaError] = EiwaError, what: str = "file", drop_bom: bool = False) -> str:
    """A UTF-8 file's text (without a leading byte-order mark, with `drop_bom`); bytes that are not
    UTF-8 are an error naming the file and line."""
    data = read_bytes(path, kind, what)
    start = 3 if drop_bom and data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        position = start + error.start
        line = data[:position].count(b"\n") + 1
        raise make_error(kind, path, f"invalid UTF-8 (byte {position})", line) from None


def what_is_there(path: str | Path) -> str | None:
    """None where `path` is a regular file (through any links); otherwise what is there instead, in
    words: "missing", "a directory, not a file", "a symbolic link loop", ..."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return "a symbolic link to nothing" if os.path.islink(path) else "missing"
    except ValueError:
        return "not a file name (it holds a NUL)"
    except OSError as error:
        return "a symbolic link loop" if error.errno == errno.ELOOP else f"unreadable ({reason(error)})"
    if stat.S_ISDIR(found.st_mode):
        return "a directory, not a file"
    if not stat.S_ISREG(found.st_mode):
        return "not a regular file"
    return None
