#!/usr/bin/env bash
# Regenerate src/hcmgov/core/data/units/*.json and src/hcmgov/core/data/agencies/hcmc-agencies.json.
# Creates two throwaway virtualenvs (the 2021 and 2025 unit lists need different, incompatible
# versions of vietnam-provinces), runs scripts/derive_units.py in each, then deletes them.
# Idempotent: the same inputs give the same output bytes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/src/hcmgov/core/data/units"
PY="${PYTHON:-python3}"
PIN_2021="vietnam-provinces==0.4.3"
PIN_2025="vietnam-provinces==2025.10.1"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/derive-units.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

for s in 2021 2025; do
  pin_var="PIN_$s"
  "$PY" -m venv "$TMP/venv-$s"
  "$TMP/venv-$s/bin/python" -m pip install --quiet --disable-pip-version-check "${!pin_var}"
done

# 2021 first: the 2025 run reads hcmc-2021.json to build the crosswalk and the agency list.
"$TMP/venv-2021/bin/python" "$ROOT/scripts/derive_units.py" --structure 2021 --out "$OUT"
"$TMP/venv-2025/bin/python" "$ROOT/scripts/derive_units.py" --structure 2025 --out "$OUT"
