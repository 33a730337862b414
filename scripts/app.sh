#!/usr/bin/env bash
# Set up (first run only) and start the web app; it opens on the bundled Chinook demo database.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run streamlit_app.py --server.headless true "$@"
