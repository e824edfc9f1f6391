#!/usr/bin/env bash
# CPU time per answer of the bare poem endpoint, gatehouse's GET /health and its
# authenticated GET /api/auth/me, back to back (SQLite, limits off, release build):
#
#   bench/cpu_per_answer.sh [rounds] [seconds]        default 2 rounds of 6 s each
#
# CPU per answer (user + system of the server process, from /proc, divided by its 2xx
# answers) does not depend on how much CPU the load generator or anything else took, so
# it compares where requests per second cannot. PERF=1 also records a perf profile of
# gatehouse under /me into $CARGO_TARGET_DIR/bench-profile/perf.data. BIN_DIR=DIR skips the
# build and takes gatehouse and http-ceiling from DIR (to compare two builds, interleaved).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}; SECS=${2:-6}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
OHA="${BENCH_TOOLS:-$HOME/.cache/gatehouse-bench-tools}/bin/oha"
[ -x "$OHA" ] || { echo "run bench/run.sh --quick once first (it installs oha)" >&2; exit 1; }
if [ -n "${BIN_DIR:-}" ]; then
  BIN=$BIN_DIR
else
  cargo build --release --locked -p adapters -p gatehouse-bench --bins --quiet
  BIN="$CARGO_TARGET_DIR/release"
fi
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000)); CEILING_PORT=$((PORT + 1))
export HOST=127.0.0.1 PORT DATABASE_URL="sqlite://$WORK/cpu.db"
export RATE_LIMIT_SIGNUP_PER_MINUTE=0 RATE_LIMIT_LOGIN_PER_MINUTE=0
export LOGIN_THROTTLE_FAILURES=0 LOGIN_THROTTLE_ACCOUNT_FAILURES=0
export LOG_LEVEL=info LOG_FORMAT=json ENVIRONMENT=development
JWT_SECRET=$("$BIN/gatehouse" gen-secret); export JWT_SECRET
(cd "$WORK" && exec "$BIN/gatehouse" serve) >"$WORK/gatehouse.log" 2>&1 &
GH=$!
"$BIN/http-ceiling" --port "$CEILING_PORT" >/dev/null 2>&1 &
CEILING=$!
trap 'kill $GH $CEILING 2>/dev/null; rm -rf "$WORK"' EXIT
URL="http://127.0.0.1:$PORT"
for _ in $(seq 200); do curl -sf -o /dev/null "$URL/ready" && break; sleep 0.05; done
TOKEN=$(curl -sf -X POST "$URL/api/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"cpu@example.com","password":"Bench-Pass-4821"}' | jq -r .token)

measure() { # pid, url, oha arguments...
  local pid=$1 url=$2; shift 2
  local before after answers
  before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  "$OHA" --no-tui --output-format json -z "${SECS}s" -c 64 "$@" "$url" >"$WORK/oha.json"
  after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  answers=$(jq '[.statusCodeDistribution | to_entries[] | select(.key | startswith("2")) | .value] | add' "$WORK/oha.json")
  awk -v u="${url#http://127.0.0.1:*/}" -v rps="$(jq .summary.requestsPerSec "$WORK/oha.json")" \
    -v t="$(getconf CLK_TCK)" -v c=$((after - before)) -v n="$answers" \
    'BEGIN { printf "%-16s %8.0f req/s  %.4f ms CPU per answer\n", "/" u, rps, c * 1000 / t / n }'
}
for _ in $(seq "$ROUNDS"); do
  measure "$CEILING" "http://127.0.0.1:$CEILING_PORT/"
  measure "$GH" "$URL/health"
  measure "$GH" "$URL/api/auth/me" -H "authorization: Bearer $TOKEN"
done
if [ "${PERF:-0}" = 1 ]; then
  mkdir -p "$CARGO_TARGET_DIR/bench-profile"
  perf record -F 2000 -g --call-graph dwarf,16384 -p "$GH" \
    -o "$CARGO_TARGET_DIR/bench-profile/perf.data" -- sleep "$SECS" 2>/dev/null &
  measure "$GH" "$URL/api/auth/me" -H "authorization: Bearer $TOKEN"
  wait
  echo "profile: perf report -i $CARGO_TARGET_DIR/bench-profile/perf.data --no-children"
fi
