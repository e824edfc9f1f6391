#!/usr/bin/env bash
# Load benchmarks of gatehouse against the physical ceilings of this machine (issue 7).
#
#   bench/run.sh                  full run (about 9 minutes once built): into BENCHMARKS.md
#   bench/run.sh --quick          a few seconds per scenario: a smoke run
#   bench/run.sh --output FILE    write the results section to FILE, not to BENCHMARKS.md
#
# Builds the release binaries, installs the load generator (oha, pinned) if absent, then
# for SQLite and for PostgreSQL: starts gatehouse with rate limits and login throttle off
# on a fresh database, seeds users over HTTP and runs scenarios 1-6, each ceiling right
# before and right after its scenario. Only 127.0.0.1 is ever loaded; every load has a
# bounded duration; every process started here is stopped on exit.
#
# Environment: BENCH_POSTGRES (server URL without database, default
# postgres://postgres@127.0.0.1:5432; the database gatehouse_bench is dropped and made
# anew), CARGO_TARGET_DIR, BENCH_TOOLS (where oha is installed, default
# ~/.cache/gatehouse-bench-tools). ARGON2_* and HASH_CONCURRENCY, if set, reach both
# gatehouse and the hashing ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
OUTPUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --output) OUTPUT="${2:?--output needs a file}"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  MODE=quick; SCENARIO_SECS=2; CEILING_SECS=1; STARTUP_RUNS=3; USERS=4
else
  MODE=full; SCENARIO_SECS=20; CEILING_SECS=10; STARTUP_RUNS=7; USERS=32
fi
HTTP_CONNECTIONS=64      # scenario 1 and the HTTP ceiling
LOGIN_CONNECTIONS=32     # scenarios 2 and 3 and the flood of scenario 4
MEMORY_CONNECTIONS=1000  # scenario 5
FIXED_RATE=200           # scenario 4's GETs per second, idle and under the flood
GET_CONNECTIONS=32       # enough for the fixed rate even when answers slow down
OHA_VERSION=1.16.0
PASSWORD='Bench-Pass-4821'

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
TOOLS="${BENCH_TOOLS:-$HOME/.cache/gatehouse-bench-tools}"
PG_SERVER="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
PG_DB=gatehouse_bench

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- tools ------------------------------------------------------------------------------
OHA="$TOOLS/bin/oha"
if ! "$OHA" --version 2>/dev/null | grep -qF "$OHA_VERSION"; then
  log "installing oha $OHA_VERSION into $TOOLS (once; a few minutes)"
  # oha needs one TLS backend to compile; the system OpenSSL builds fastest.
  if ! dpkg -s libssl-dev pkg-config >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config
  fi
  CARGO_TARGET_DIR="$TOOLS/build" cargo install oha --version "$OHA_VERSION" --locked \
    --no-default-features --features native-tls --root "$TOOLS" --quiet
  rm -rf "$TOOLS/build"
fi
for tool in curl jq psql pg_isready top; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 1; }
done
if ! pg_isready -q -d "$PG_SERVER/postgres" 2>/dev/null; then
  echo "bench/run.sh: PostgreSQL is not reachable at $PG_SERVER (set BENCH_POSTGRES)" >&2
  exit 1
fi

log "building release binaries"
cargo build --release --locked -p adapters -p gatehouse-bench --bins --quiet
BIN="$CARGO_TARGET_DIR/release"

# --- the run's own directory, processes and clean-up -----------------------------------
WORK=$(mktemp -d)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$CARGO_TARGET_DIR/bench-results/$STAMP-$MODE"
mkdir -p "$RESULTS"
PIDS=()
GH_PID=""
cleanup() {
  for pid in "${PIDS[@]}" $GH_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}" $GH_PID; do wait "$pid" 2>/dev/null || true; done
  psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
    >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1,000 connections need as many descriptors, on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PORT_BASE=$((20000 + RANDOM % 20000))
GH_PORT=$PORT_BASE
CEILING_PORT=$((PORT_BASE + 1))
STARTUP_PORT=$((PORT_BASE + 10))
URL="http://127.0.0.1:$GH_PORT"

# gatehouse's settings for every run: limits off, a fixed secret, logs as in production.
export HOST=127.0.0.1 PORT=$GH_PORT
export RATE_LIMIT_SIGNUP_PER_MINUTE=0 RATE_LIMIT_LOGIN_PER_MINUTE=0
export LOGIN_THROTTLE_FAILURES=0 LOGIN_THROTTLE_ACCOUNT_FAILURES=0
export LOG_LEVEL=info LOG_FORMAT=json ENVIRONMENT=development
JWT_SECRET=$("$BIN/gatehouse" gen-secret)
export JWT_SECRET

# --- the machine ------------------------------------------------------------------------
others() { # the busiest processes over one second, names only (no arguments: no secrets)
  top -b -n 2 -d 1 -o %CPU -w 512 2>/dev/null | awk '
    /^top -/ { frame++ }
    frame == 2 && $1 ~ /^[0-9]+$/ && $12 != "top" && $9 + 0 >= 5 && n < 6 {
      out = out sep $12 " " $9 "%"; sep = ", "; n++ }
    END { print (out == "" ? "none above 5 % CPU" : out) }'
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
OTHERS_START=$(others)
STARTED=$(date -u '+%Y-%m-%d %H:%M')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+dirty"

# --- helpers ----------------------------------------------------------------------------
COMMANDS="$RESULTS/commands.txt"
RECORD=1 # the commands are the same for both backends: record them once
record() { # the command as run, with the token, ids and ports as shell variables
  [ "$RECORD" = 1 ] || return 0
  local line="" arg
  if [ $# = 1 ]; then
    line=$1
  else # an argument vector: quote the arguments that hold spaces
    for arg in "$@"; do
      case "$arg" in *' '*) arg="\"$arg\"" ;; esac
      line="$line${line:+ }$arg"
    done
  fi
  line=${line//"$BIN/"/}
  line=${line//"$WORK/"/\$WORK/}
  line=${line//"$URL"/\$URL}
  line=${line//"http://127.0.0.1:$CEILING_PORT"/\$CEILING_URL}
  [ -z "${TOKEN:-}" ] || line=${line//"$TOKEN"/\$TOKEN}
  [ -z "${USER_ID:-}" ] || line=${line//"$USER_ID"/\$USER_ID}
  printf '%s\n' "$line" >>"$COMMANDS"
}

CLK_TCK=$(getconf CLK_TCK)
proc_cpu_ms() { # CPU time (user + system, every thread) of a process so far
  awk -v t="$CLK_TCK" '{ printf "%.0f", ($14 + $15) * 1000 / t }' "/proc/$1/stat"
}

# With CPU_PID set, also the CPU time that process used during the run (NAME.cpu.json):
# on a shared machine CPU per request compares where requests per second cannot.
oha_run() { # name, oha arguments...
  local name=$1; shift
  local args=(--no-tui --output-format json --stats-success-breakdown "$@")
  local pid=${CPU_PID:-} before=0
  [ -z "$pid" ] || before=$(proc_cpu_ms "$pid")
  record oha "${args[@]}"
  "$OHA" "${args[@]}" >"$DIR/$name.json" 2>>"$DIR/oha.err"
  [ -z "$pid" ] || printf '{"cpu_ms": %s}\n' "$(($(proc_cpu_ms "$pid") - before))" \
    >"$DIR/$name.cpu.json"
}

http_ceiling() { # n
  log "  HTTP ceiling $1"
  CPU_PID=$CEILING_PID oha_run "http-$1" -z "${CEILING_SECS}s" -c "$HTTP_CONNECTIONS" \
    "http://127.0.0.1:$CEILING_PORT/"
}

hash_ceiling() { # verify|hash, n
  log "  hashing ceiling: $1 $2"
  record "(cd \$WORK && hash-ceiling --mode $1 --seconds $CEILING_SECS)"
  (cd "$WORK" && "$BIN/hash-ceiling" --mode "$1" --seconds "$CEILING_SECS") >"$DIR/$1-$2.json"
}

wait_ready() {
  for _ in $(seq 600); do
    curl -sf -o /dev/null "$URL/ready" && return 0
    kill -0 "$GH_PID" 2>/dev/null || { echo "gatehouse died; see $DIR/gatehouse.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "gatehouse not ready after 30 s" >&2
  exit 1
}

start_gatehouse() {
  (cd "$WORK" && exec "$BIN/gatehouse" serve) >>"$DIR/gatehouse.log" 2>&1 &
  GH_PID=$!
  wait_ready
}

stop_gatehouse() {
  kill -TERM "$GH_PID" 2>/dev/null || true
  wait "$GH_PID" 2>/dev/null || true
  GH_PID=""
}

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$GH_PID/status"; }

json_post() { # path, body → response body; fails on a non-2xx answer
  curl -sf -X POST "$URL$1" -H 'content-type: application/json' -d "$2"
}

# Request bodies: the seeded users for login, and fresh emails for signup (oha picks a
# line at random per request; among 200,000 a repeat is rare and answered 409 after the
# same hashing work, and counted apart from the 201s).
for i in $(seq "$USERS"); do
  printf '{"email":"bench-user-%d@example.com","password":"%s"}\n' "$i" "$PASSWORD"
done >"$WORK/logins.jsonl"
awk -v p="$PASSWORD" 'BEGIN { for (i = 1; i <= 200000; i++)
  printf "{\"email\":\"bench-new-%d@example.com\",\"password\":\"%s\"}\n", i, p }' \
  >"$WORK/signups.jsonl"

"$BIN/http-ceiling" --port "$CEILING_PORT" &
CEILING_PID=$!
PIDS+=("$CEILING_PID")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$CEILING_PORT/" && break; sleep 0.05; done

# --- one backend: scenarios 1 to 6 ------------------------------------------------------
run_backend() { # directory name, DATABASE_URL
  DIR="$RESULTS/$1"
  mkdir -p "$DIR"
  export DATABASE_URL="$2"
  log "$1: start on a fresh database and seed $USERS users"
  start_gatehouse
  TOKEN=""; USER_ID=""
  while read -r body; do
    local answer
    answer=$(json_post /api/auth/signup "$body")
    if [ -z "$TOKEN" ]; then
      TOKEN=$(jq -r .token <<<"$answer"); USER_ID=$(jq -r .user_id <<<"$answer")
    fi
  done <"$WORK/logins.jsonl"
  local auth="authorization: Bearer $TOKEN"

  log "$1: scenario 1, authenticated GETs, between HTTP ceilings"
  http_ceiling 1
  CPU_PID=$GH_PID oha_run me -z "${SCENARIO_SECS}s" -c "$HTTP_CONNECTIONS" -H "$auth" "$URL/api/auth/me"
  http_ceiling 2
  CPU_PID=$GH_PID oha_run profile -z "${SCENARIO_SECS}s" -c "$HTTP_CONNECTIONS" -H "$auth" \
    "$URL/api/$USER_ID/profile"
  http_ceiling 3

  log "$1: scenario 2, login, between verification ceilings"
  hash_ceiling verify 1
  CPU_PID=$GH_PID oha_run login -z "${SCENARIO_SECS}s" -c "$LOGIN_CONNECTIONS" -m POST \
    -T application/json -Z "$WORK/logins.jsonl" "$URL/api/auth/login"
  hash_ceiling verify 2

  log "$1: scenario 3, signup, between hashing ceilings"
  hash_ceiling hash 1
  CPU_PID=$GH_PID oha_run signup -z "${SCENARIO_SECS}s" -c "$LOGIN_CONNECTIONS" -m POST \
    -T application/json -Z "$WORK/signups.jsonl" "$URL/api/auth/signup"
  hash_ceiling hash 2

  log "$1: scenario 4, fixed-rate GETs idle, then under a login flood"
  local gets=(-q "$FIXED_RATE" --latency-correction -c "$GET_CONNECTIONS" -H "$auth"
    "$URL/api/auth/me")
  oha_run idle-gets -z "${SCENARIO_SECS}s" "${gets[@]}"
  oha_run flood-login -z "$((SCENARIO_SECS + 2))s" -c "$LOGIN_CONNECTIONS" -m POST \
    -T application/json -Z "$WORK/logins.jsonl" "$URL/api/auth/login" &
  local flood=$!
  sleep 1 # let the flood fill the hashing queue first
  oha_run flood-gets -z "${SCENARIO_SECS}s" "${gets[@]}"
  wait "$flood"
  stop_gatehouse

  log "$1: scenario 6, start-up to /ready on the migrated database ($STARTUP_RUNS runs)"
  record "startup-time --bin gatehouse --runs $STARTUP_RUNS --port \$PORT"
  "$BIN/startup-time" --bin "$BIN/gatehouse" --runs "$STARTUP_RUNS" --port "$STARTUP_PORT" \
    >"$DIR/startup.json"

  log "$1: scenario 5, peak memory of a fresh process under $MEMORY_CONNECTIONS login connections"
  start_gatehouse
  local idle_kib
  idle_kib=$(kib VmRSS)
  oha_run memory-login -z "${SCENARIO_SECS}s" -c "$MEMORY_CONNECTIONS" -m POST \
    -T application/json -Z "$WORK/logins.jsonl" "$URL/api/auth/login"
  record "grep -E 'VmRSS|VmHWM' /proc/\$GATEHOUSE_PID/status   # before and after the flood"
  printf '{"peak_kib": %s, "idle_kib": %s}\n' "$(kib VmHWM)" "$idle_kib" >"$DIR/memory.json"
  stop_gatehouse
  RECORD=0
}

run_backend sqlite "sqlite://$WORK/bench.db"

psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
psql -q "$PG_SERVER/postgres" -c "CREATE DATABASE $PG_DB" >/dev/null
run_backend postgres "$PG_SERVER/$PG_DB"

# --- the report -------------------------------------------------------------------------
jq -n \
  --arg mode "$MODE" --arg started "$STARTED" --arg finished "$(date -u '+%Y-%m-%d %H:%M')" \
  --arg commit "$COMMIT" --argjson nproc "$(nproc)" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  --argjson memory_kib "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
  --arg kernel "$(uname -r)" \
  --arg load_start "$LOAD_START" --arg load_end "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --arg others_start "$OTHERS_START" --arg others_end "$(others)" \
  --argjson scenario_seconds "$SCENARIO_SECS" --argjson ceiling_seconds "$CEILING_SECS" \
  --argjson http_connections "$HTTP_CONNECTIONS" \
  --argjson login_connections "$LOGIN_CONNECTIONS" \
  --argjson memory_connections "$MEMORY_CONNECTIONS" --argjson fixed_rate "$FIXED_RATE" \
  --arg oha_version "$("$OHA" --version | head -n 1)" \
  '$ARGS.named' >"$RESULTS/run.json"

if [ -n "$OUTPUT" ]; then
  "$BIN/bench-report" --results "$RESULTS" --output "$OUTPUT"
else
  "$BIN/bench-report" --results "$RESULTS" --benchmarks "$ROOT/BENCHMARKS.md"
fi
log "raw results: $RESULTS"
