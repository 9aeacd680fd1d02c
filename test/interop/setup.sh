#!/usr/bin/env bash
# Creates the interop suite's Python environment in .cache/venv (pip downloads cached in
# .cache/pip); does nothing when it already matches requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=test/interop/requirements.txt
stamp=.cache/venv/.requirements
if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then exit 0; fi
python3 -m venv .cache/venv
.cache/venv/bin/pip install -q --disable-pip-version-check --cache-dir .cache/pip -r "$req"
cp "$req" "$stamp"
