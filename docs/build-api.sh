#!/usr/bin/env bash
# Regenerates docs/api/ (the API reference, from the docstrings) with pdoc: pip install -e '.[docs]'
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/api
.venv/bin/pdoc --no-search -o docs/api eiwa eiwa.api eiwa.tagger eiwa.readers eiwa.doc eiwa.features eiwa.build \
    eiwa.training.run eiwa.study.cv eiwa.serving.predict eiwa.serving.results eiwa.serving.http eiwa.errors eiwa.config \
    eiwa.serving.spacy_component eiwa.serving.card
