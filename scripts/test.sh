#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, slow model tests included.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -m "not slow"  or  bash scripts/test.sh tests/test_safety.py
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
