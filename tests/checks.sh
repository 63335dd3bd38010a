#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The checks beside the tests (ARCHITECTURE.md): ruff lint and format, mypy (strict) and import-linter's
# contracts, the last two on the package as a wheel installs it, so that groupware.plugins and groupware.sieve
# are seen where they install. Usage: bash tests/checks.sh [VENV]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(cd "${1:-${GROUPWARE_VENV:-.venv}}" && pwd)"
ROOT="$(pwd)"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A copy without build leftovers: setuptools' build/ would ship modules deleted since.
tar --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist --exclude=./var \
    --exclude='*.egg-info' --exclude=__pycache__ -cf - . | (mkdir "$work/source" && tar -xf - -C "$work/source")
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation --target "$work/site" "$work/source" 2>/dev/null
(cd "$work/site" && MYPYPATH="$work/site" "$VENV/bin/mypy" --config-file "$ROOT/pyproject.toml" -p groupware)
# The tests, against the same installed package (module names relative to tests/, as pytest imports them).
(cd "$work" && MYPYPATH="$work/site:$ROOT/tests" "$VENV/bin/mypy" --config-file "$ROOT/pyproject.toml" \
    --explicit-package-bases --follow-imports=silent "$ROOT/tests")
(cd "$work/site" && PYTHONPATH="$work/site" "$VENV/bin/lint-imports" "$ROOT/pyproject.toml")
echo "checks: ruff, ruff format, mypy --strict, mypy on the tests, import-linter: all passed"
