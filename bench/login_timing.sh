#!/usr/bin/env bash
# Login timing: does an unknown email cost what a wrong password costs?
# Starts the release binary on a throwaway SQLite database with limits off, creates one
# user, then times N sequential logins of each kind over loopback and prints the medians
# and their ratio (1.00 = indistinguishable). Usage: bench/login_timing.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
cargo build --release -p adapters --bin gatehouse >/dev/null
BIN="$CARGO_TARGET_DIR/release/gatehouse"
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 10000))
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
(cd "$WORK" && RATE_LIMIT_SIGNUP_PER_MINUTE=0 RATE_LIMIT_LOGIN_PER_MINUTE=0 \
  LOGIN_THROTTLE_FAILURES=0 LOGIN_THROTTLE_ACCOUNT_FAILURES=0 LOG_LEVEL=warn \
  PORT="$PORT" exec "$BIN" serve) &
PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$URL/ready" >/dev/null && break; sleep 0.05; done
curl -sf -X POST "$URL/api/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"timing@example.com","password":"Correct-Horse-42"}' >/dev/null

time_logins() { # email
  for i in $(seq "$N"); do
    curl -s -o /dev/null -w '%{time_total}\n' -X POST "$URL/api/auth/login" \
      -H 'content-type: application/json' \
      -d "{\"email\":\"$1\",\"password\":\"Wrong-Horse-$i\"}"
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# Interleave the two kinds in rounds so machine drift hits both alike.
unknown=(); wrong=()
for round in 1 2 3 4; do
  unknown+=("$(time_logins "nobody-$round@example.com")")
  wrong+=("$(time_logins timing@example.com)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
U=$(median "${unknown[@]}"); W=$(median "${wrong[@]}")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "logins per kind: $((N * 4)) (4 interleaved rounds of $N)"
echo "median unknown email:  ${U}s"
echo "median wrong password: ${W}s"
awk -v u="$U" -v w="$W" 'BEGIN { printf "ratio unknown/wrong: %.3f\n", u / w }'
