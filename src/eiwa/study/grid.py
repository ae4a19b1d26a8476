"""The cells of an experiment: every grid's combinations of modules, inputs, size and features,
and the filters that run part of a study first."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from eiwa.errors import EiwaError
from eiwa.study.spec import SCRATCH, GridSpec

ZERO_SHOT = "char,word,classifier"  # size 0: the English model tags Japanese through the label map


@dataclass(frozen=True)
class Cell:
    """One setting of a grid: trained and tested once per seed."""

    grid: str
    modules: str
    word_input: str
    char_input: str
    size: int | None  # None: all training sentences
    features: str | None = None  # None: the config's features

    @property
    def key(self) -> str:
        """What is trained: the same setting in two grids is run (and stored) once."""
        size = "all" if self.size is None else str(self.size)
        key = f"{self.modules}|{self.word_input}|{self.char_input}|{size}"
        return f"{key}|{self.features}" if self.features else key  # keys of default-feature cells predate features

    def scratch(self) -> Cell:
        """Scratch with the same inputs, size and features."""
        return replace(self, modules=SCRATCH)

    def reference(self) -> Cell:
        """Scratch with the config's default features (what a feature's gain is measured against)."""
        return replace(self, modules=SCRATCH, features=None)


def cells_of(grids: Sequence[GridSpec]) -> list[Cell]:
    """Every grid's cells, in grid order (a setting shared by two grids appears in both)."""
    cells = []
    for grid in grids:
        for features, modules, word_input, char_input, size in itertools.product(
            grid.features,
            grid.modules,
            grid.word_input,
            grid.char_input,
            grid.sizes,
        ):
            if size == 0 and not _zero_shot(modules, features):
                continue  # untrained, only the whole English model means anything (scratch scores 0)
            cells.append(Cell(grid.name, modules, word_input, char_input, size, features))
    return cells


def _zero_shot(modules: str, features: str | None) -> bool:
    """Whether a cell can be tagged untrained (size 0): it transfers the classifier and every one of
    its features (with the config's features, char,word,classifier)."""
    names = modules.split(",")
    if "classifier" not in names:
        return False
    return modules == ZERO_SHOT if features is None else set(features.split(",")) <= set(names)


def select_cells(cells: list[Cell], grids=None, modules=None, sizes=None, features=None) -> list[Cell]:
    """The cells that pass every given filter (None: no filter): to run part of a study first."""

    def size_name(size):
        return "all" if size is None else str(size)

    for wanted, known, what in (
        (grids, {c.grid for c in cells}, "grid"),
        (modules, {c.modules for c in cells}, "modules"),
        (sizes, {size_name(c.size) for c in cells}, "size"),
        (features, {c.features for c in cells if c.features}, "features"),
    ):
        unknown = set(wanted or ()) - known
        if unknown:
            raise EiwaError(
                f"no {what} {', '.join(sorted(unknown))} in this experiment (it has: {', '.join(sorted(known))})"
            )
    return [
        c
        for c in cells
        if (grids is None or c.grid in grids)
        and (modules is None or c.modules in modules)
        and (sizes is None or size_name(c.size) in sizes)
        and (features is None or c.features in features)
    ]
