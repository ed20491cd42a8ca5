#!/usr/bin/env bash
# Install the pinned front-end packages (frontend/package-lock.json) and copy what the pages use
# into the static folder. Pages never load anything from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/hcmgov/web/static/vendor
# npm ci installs the devDependencies too: axe-core, which the browser tests inject into the pages they
# check (tests/browser/conftest.py reads frontend/node_modules/axe-core/axe.min.js); it is never copied below.
(cd frontend && npm ci --no-audit --no-fund --loglevel=error)
rm -rf "$out" && mkdir -p "$out/pico" "$out/be-vietnam-pro/files"
cp frontend/node_modules/@picocss/pico/css/pico.min.css "$out/pico/"
cp frontend/node_modules/@picocss/pico/LICENSE.md "$out/pico/" 2>/dev/null || true
font=frontend/node_modules/@fontsource/be-vietnam-pro
for w in 400 600 700; do cp "$font/$w.css" "$out/be-vietnam-pro/"; done
cp "$font"/files/be-vietnam-pro-{latin,latin-ext,vietnamese}-{400,600,700}-normal.woff* "$out/be-vietnam-pro/files/"
cp "$font/LICENSE" "$out/be-vietnam-pro/" 2>/dev/null || true
# keep only the subsets we ship in the font CSS (the others would point at files we did not copy)
python3 - "$out/be-vietnam-pro" <<'PY'
import re, sys, pathlib
d = pathlib.Path(sys.argv[1])
for css in d.glob("*.css"):
    blocks = re.findall(r"/\*[^*]*\*/\s*@font-face\s*{[^}]*}", css.read_text())
    keep = [b for b in blocks if re.search(r"-(latin|latin-ext|vietnamese)-\d+-normal", b)]
    css.write_text("\n".join(keep) + "\n")
PY
echo "assets: $(find "$out" -type f | wc -l) files in $out"
