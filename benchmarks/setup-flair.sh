#!/bin/bash
# Installs flair, the comparison tagger of benchmarks/versus_flair.py, in a virtual environment of
# its own (benchmarks/.flair-venv), so that it never becomes an eiwa dependency.
# PyTorch comes first and pinned, so that flair's plain `torch` requirement is already met by the
# CPU build instead of pulling a multi-GB CUDA one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.flair-venv"
"$here/.flair-venv/bin/pip" install -q torch==2.13.0
"$here/.flair-venv/bin/pip" install -q "flair==${FLAIR_VERSION:-0.15.1}"
"$here/.flair-venv/bin/python" -c "import flair, torch; print('flair', flair.__version__, 'torch', torch.__version__)"
