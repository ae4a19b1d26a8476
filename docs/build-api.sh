#!/usr/bin/env bash
# Regenerates docs/api/ (the API reference, from the docstrings) with pdoc: pip install -e '.[docs]'
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/api
.venv/bin/pdoc --no-search -o docs/api eiwa eiwa.tagger eiwa.results eiwa.serve eiwa.errors eiwa.config eiwa.spacy_component eiwa.card
