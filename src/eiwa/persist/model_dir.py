"""The model directory: what marks one, where the built-in ones are, the checks that it is whole, and
rewriting its weights in place (`rewrite_model`).

A model is a directory holding meta.json (format name and version, eiwa version, entity types, and
the sha256 of each other file), config.json, vocab.json and model.safetensors. The checksums are
checked on load, so that weights damaged in place (same size, other bytes) are an error, not
silent nonsense. Older format versions are read through `eiwa.persist.migrations`.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

from eiwa import __version__
from eiwa.errors import ModelError
from eiwa.persist.atomic import dump_json, fault_point, half_swapped, is_dir, read_json, replace_directory
from eiwa.persist.files import readable_file, reading, what_is_there
from eiwa.persist.meta_fields import check_meta
from eiwa.persist.migrations import READS_VERSIONS, recorded_checksums

FORMAT = "eiwa-model"
FORMAT_VERSION = 2
BUILTIN_DIR = Path(__file__).parent.parent / "models"

_MODEL_FILES = ("model.safetensors", "config.json", "vocab.json")  # what meta.json's checksums may name


def file_digest(path: Path) -> str:
    with reading(path, ModelError), open(path, "rb") as handle:
        return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()


def checksums(directory: Path, names: list[str]) -> dict[str, str]:
    return {name: file_digest(directory / name) for name in names}


def verify(directory: Path, recorded: dict) -> None:
    """Each file's sha256 against the one recorded in meta.json."""
    if not isinstance(recorded, dict):
        raise ModelError(f"{directory / 'meta.json'}: damaged (files is not an object)")
    for name, digest in recorded.items():
        if not (isinstance(digest, str) and name in _MODEL_FILES):
            raise ModelError(f"{directory / 'meta.json'}: damaged (files lists {name[:40]!r}: {str(digest)[:40]!r})")
        path = directory / name
        if found := what_is_there(path):
            raise ModelError(f"{path}: {found} (meta.json lists it)")
        if file_digest(path) != digest:
            raise ModelError(f"{path}: damaged (its checksum differs from the one in meta.json)")


def read_meta(directory: Path) -> dict:
    """meta.json of a model directory whose format this eiwa reads and whose files are whole."""
    meta = read_json(directory / "meta.json")
    if meta.get("format") != FORMAT:
        raise ModelError(f"{directory}: not an eiwa model (meta.json has no format {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{directory / 'meta.json'}: damaged (format_version must be an integer, found {version!r})")
    if version not in READS_VERSIONS:
        raise ModelError(
            f"{directory}: model format version {version} is not supported "
            f"by eiwa {__version__} (it reads versions {', '.join(map(str, READS_VERSIONS))})"
        )
    check_meta(directory / "meta.json", meta)  # outside the checksums: every field read is checked
    verify(directory, recorded_checksums(meta))
    return meta


def rewrite_model(directory: Path, change: Callable[[dict, dict, dict], bool]) -> bool:
    """Change a saved model's weights and vocab.json in place, as one atomic swap of the directory.

    ``change(weights, vocab, config)`` edits the weights (name -> tensor) and vocab.json's content
    and says whether it changed anything; if so the directory is rebuilt beside itself with every
    other file copied and meta.json's checksums recomputed, then swapped in whole. Returns that."""
    from safetensors.torch import load_file, save_file

    directory = Path(directory)
    meta = read_meta(directory)
    weights = load_file(readable_file(directory / "model.safetensors", ModelError))
    vocab, config = read_json(directory / "vocab.json"), read_json(directory / "config.json")
    if not change(weights, vocab, config):
        return False

    def fill(staging: Path) -> None:
        for path in directory.iterdir():
            if path.name not in ("model.safetensors", "vocab.json", "meta.json") and path.is_file():
                shutil.copy2(path, staging / path.name)
        fault_point("write model.safetensors")
        save_file({name: tensor.contiguous() for name, tensor in weights.items()}, staging / "model.safetensors")
        fault_point("write vocab.json")
        dump_json(staging / "vocab.json", vocab)
        files = checksums(staging, list(_MODEL_FILES))
        fault_point("write meta.json")
        dump_json(staging / "meta.json", {**meta, "files": files})

    replace_directory(directory, fill, replaceable=is_model_directory)
    return True


def is_model_directory(path: Path) -> bool:
    """Whether `path` holds an eiwa model (so that saving over it may replace it)."""
    try:
        meta = read_json(path / "meta.json")
    except ModelError:
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def builtin_models() -> list[str]:
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "meta.json").exists())


def resolve_model(name_or_path: str | Path) -> Path:
    """A model directory, or the name of a model shipped with eiwa."""
    path = Path(name_or_path)
    if (old := half_swapped(path)) is not None:  # recovered by the next writer, not by a reader
        raise ModelError(
            f"{path}: missing, but an interrupted save left the model at {old}: "
            f"rename it back (mv {old} {path}) or save the model again"
        )
    if is_dir(path):
        if not (path / "meta.json").exists():
            raise ModelError(
                f"{path}: not a model directory (no meta.json); was training interrupted before the first save?"
            )
        return path
    if str(name_or_path) in builtin_models():
        return BUILTIN_DIR / str(name_or_path)
    there = what_is_there(path)
    if there != "missing":  # something stands there: say what, rather than that nothing does
        raise ModelError(f"{path}: not a model directory: {there or 'a file'}")
    known = ", ".join(builtin_models()) or "none"
    raise ModelError(f"{name_or_path}: no such model directory or built-in model (built-in: {known})")
