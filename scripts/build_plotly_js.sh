#!/usr/bin/env bash
# Builds the plotly.js the charts load (static/plotly-gradscape-<bundle>-<version>.min.js, in the repository):
# plotly.js at the version the plotly package writes its figures for, in the bundles ui.chart_component.PLOTLY_BUNDLES
# names, each with only its trace types, the way plotly.js builds its own partial bundles (its esbuild-config.js).
#
# Why not the plotly package's plotly.min.js: a browser spends ~1.1 s running its 4.8 MB before the first chart of a
# page is drawn (Chromium on the 2-core machine of docs/INTERACTION-MEASUREMENTS.md); the 3-D bundle, 1.9 MB, ~0.5 s,
# the 2-D one, 1.3 MB, ~0.3 s.
#
# Run it after changing PLOTLY_BUNDLES or the pinned plotly, and commit the new files (and remove the old ones).
# Needs node and npm (a developer's machine; users and CI get the built file with the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(python3 -c 'from plotly.offline import get_plotlyjs_version; print(get_plotlyjs_version())')
BUNDLES=$(python3 -c '
from ui.chart_component import PLOTLY_BUNDLES, plotly_js
for bundle, traces in PLOTLY_BUNDLES.items():
    print(bundle, plotly_js(bundle), ",".join(traces))')
static="$PWD/static"

# (a fixed folder: the bundle names plotly.js's inline style by a hash of its file's path, so the same folder builds
# the same file byte for byte)
work=/tmp/gradscape-build-plotly-js
rm -rf "$work" && mkdir "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
# plotly.js's own build tools, at the versions its package.json names
npm install --no-audit --no-fund --silent "plotly.js@$VERSION" esbuild@0.28.2 esbuild-plugin-environment@0.5.0 \
  esbuild-plugin-glsl@1.4.2 esbuild-plugin-inline-css@0.0.1

while read -r BUNDLE OUT TRACES; do
node - "$VERSION" "$BUNDLE" "$TRACES" "$static/$OUT" <<'EOF'
const [version, bundle, traces, target] = process.argv.slice(2);
const fs = require("fs");
const { environmentPlugin } = require("esbuild-plugin-environment");
const { glsl } = require("esbuild-plugin-glsl");
const InlineCSSPlugin = require("esbuild-plugin-inline-css");
// scatter is in plotly.js's core: every bundle has it
const registered = traces.split(",").filter((name) => name !== "scatter")
  .map((name) => `require("plotly.js/lib/${name}")`).join(", ");
fs.writeFileSync("entry.js", `var Plotly = require("plotly.js/lib/core");\nPlotly.register([${registered}]);\nmodule.exports = Plotly;\n`);
require("esbuild").build({
  entryPoints: ["entry.js"], outfile: target, format: "iife", globalName: `Plotly${bundle}`, bundle: true, minify: true,
  banner: { js: `/**\n* plotly.js v${version} (traces: ${traces.replaceAll(",", ", ")})\n* Copyright 2012-2026, Plotly, Inc.\n* All rights reserved.\n* Licensed under the MIT license\n*/` },
  plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
  alias: { regl: "@plotly/regl", stream: "stream-browserify" },
  define: { global: "window", "define.amd": "false" },
  target: "es2016",
  logLevel: "info",
}).catch(() => process.exit(1));
EOF
done <<< "$BUNDLES"
