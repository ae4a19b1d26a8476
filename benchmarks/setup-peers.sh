#!/bin/bash
# Installs the peer taggers of benchmarks/peers.py (sklearn-crfsuite and spaCy) in a virtual
# environment of their own (benchmarks/.peers-venv). eiwa's side (peers.py) reads the data and
# scores; the peers only train and tag, so they need neither eiwa nor torch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.peers-venv"
"$here/.peers-venv/bin/pip" install -q "sklearn-crfsuite==${CRFSUITE_VERSION:-0.5.0}" "spacy==${SPACY_VERSION:-3.8.18}"
"$here/.peers-venv/bin/python" -c "import sklearn_crfsuite, spacy; print('sklearn-crfsuite ok, spacy', spacy.__version__)"
