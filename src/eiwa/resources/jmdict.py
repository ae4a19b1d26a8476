"""JMdict and JMnedict, the EDRDG's dictionaries, as the PyPI package ``jamdict-data`` ships them
(one SQLite database, an optional extra: ``INSTALL_HINT``), and the cleaning of their English glosses.

The word bridge reads JMdict's tables from it, the gazetteer JMnedict's.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from pathlib import Path

from eiwa.errors import EiwaError
from eiwa.persist.files import readable_file

INSTALL_HINT = "pip install 'eiwa[gazetteer]'"

_PARENTHESES = re.compile(r"\s*\([^)]*\)")


def installed_database(needed_for: str) -> tuple[Path, str]:
    """The database path the installed jamdict-data names, and the package's version.

    ``needed_for`` begins the error where the package is missing ("gazetteer: JMnedict").
    """
    try:
        import jamdict_data
    except ImportError:
        raise EiwaError(f"{needed_for} needs the package jamdict-data: {INSTALL_HINT}") from None
    return Path(jamdict_data.JAMDICT_DB_PATH), str(getattr(jamdict_data, "__version__", "unknown"))


def connect_read_only(path: str | Path) -> sqlite3.Connection:
    """A connection that cannot change the database (the installed package's file is shared)."""
    return sqlite3.connect(f"{readable_file(path).resolve().as_uri()}?mode=ro", uri=True)


def plain_gloss(gloss: str | None) -> str:
    """A gloss without its parenthesised remarks and diacritics: 'Sōkokurai (sumo wrestler)' -> 'Sokokurai'."""
    text = _PARENTHESES.sub("", gloss or "")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
