"""`eiwa gazetteer`: the JMnedict name dictionary of the gazetteer feature."""

from __future__ import annotations

import click

from eiwa.cli import cli
from eiwa.cli.options import console


@cli.group()
def gazetteer():
    """The JMnedict name dictionary of the gazetteer feature (pip install 'eiwa[gazetteer]').

    \b
    Examples:
      eiwa gazetteer build            # compile it into the cache (first use does this too)
      eiwa gazetteer build --force    # rebuild, e.g. after upgrading jamdict-data
    """


@gazetteer.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the compiled dictionary is already cached.")
@click.option(
    "--lang",
    "languages",
    type=click.Choice(["ja", "en"]),
    multiple=True,
    help="Only this side: ja (kanji and kana spellings) or en (English glosses); default both.",
)
def gazetteer_build(force, languages):
    """Compile JMnedict (from the jamdict-data package) into eiwa's cache (EIWA_CACHE_DIR, else ~/.cache/eiwa).

    Training or tagging with the gazetteer feature does this on first use; run it to rebuild
    (--force), e.g. after upgrading jamdict-data. A model refuses a dictionary other than its own.
    Japanese models read the Japanese spellings, English models the English glosses.

    \b
    Examples:
      eiwa gazetteer build
      eiwa gazetteer build --force
    """
    from eiwa.gazetteer.build import build_cache
    from eiwa.gazetteer.names import LICENCE

    for language in languages or ("ja", "en"):
        path = build_cache(force=force, log=lambda line: console.print(line), language=language)
        console.print(f"compiled dictionary ({language}): {path} ({LICENCE})")
