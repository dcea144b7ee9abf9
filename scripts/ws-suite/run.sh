#!/bin/sh
# Runs ws's three public-API test files against rfc6455's dist/ build — a measuring tool, not part
# of `npm test` nor of CI (it needs a checkout of websockets/ws and the npm registry).
#   npm run build && npm run ws-suite -- /path/to/ws-checkout [file-filter]
# Prints PASS/FAIL per test and totals; per-test lines and mocha's output stay in $WS_SUITE_OUT
# (default /tmp/ws-suite).
set -eu
WS=${1:?usage: run.sh PATH-TO-WS-CHECKOUT [FILE-FILTER]}
HERE=$(cd "$(dirname "$0")" && pwd)
WS=$(cd "$WS" && pwd)
export RFC6455_DIST="${RFC6455_DIST:-$HERE/../../dist/index.js}"
export WS_SUITE_OUT="${WS_SUITE_OUT:-/tmp/ws-suite}"
[ -f "$RFC6455_DIST" ] || { echo "no build at $RFC6455_DIST: run npm run build first" >&2; exit 1; }
[ -f "$WS/test/websocket.test.js" ] || { echo "$WS is not a ws checkout" >&2; exit 1; }
# ws's devDependencies (mocha among them), once.
[ -x "$WS/node_modules/.bin/mocha" ] || (cd "$WS" && npm install --no-audit --no-fund --no-save)
mkdir -p "$WS_SUITE_OUT"
exec node "$HERE/run.cjs" "$WS" "${2:-}"
