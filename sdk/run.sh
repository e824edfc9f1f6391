#!/usr/bin/env bash
# Generated clients and Swagger UI against the real `gatehouse` binary.
#
# Builds the binary, starts it on a fresh SQLite file on a free loopback port (rate limits
# and login throttles off), then:
#   - Python:     openapi-python-client generates a client from contracts/auth.yaml, pytest
#                 drives sdk/python/test_flow.py with it
#                 (and test_open_sets.py: values a later release adds, from a stand-in);
#   - TypeScript: @hey-api/openapi-ts generates a client, tsc type-checks it together with
#                 sdk/typescript/flow.test.ts and open-sets.test.ts, `node --test` runs
#                 the result;
#   - Swagger UI: headless Chromium (Debian's), driven by playwright-core, runs signup,
#                 Authorize and /api/auth/me on /docs (sdk/swagger-ui/docs.test.mjs) and
#                 saves a screenshot whose path is printed.
# Every client is generated afresh on every run, outside the clone, and never committed.
# The Rust client (progenitor) is a workspace crate, sdk/rust, tested by `cargo test`.
#
# Tools are installed from the package registries at pinned versions and cached outside
# the clone, in $GATEHOUSE_CI_CACHE (default ~/.cache/gatehouse-ci): a virtualenv per
# requirements file, node_modules per package-lock.json (`npm ci` only when the lock is
# new; sdk/node_modules is a gitignored link to it), and the pip and npm caches.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
spec=$root/contracts/auth.yaml

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}"
cache="${GATEHOUSE_CI_CACHE:-$HOME/.cache/gatehouse-ci}"
artifacts="${GATEHOUSE_ARTIFACTS:-$CARGO_TARGET_DIR/sdk-artifacts}"
work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-sdk.XXXXXX")
server_pid=
mkdir -p "$cache" "$artifacts"

cleanup() {
  local status=$?
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -f $work/server.log ]]; then
    echo "--- last lines of the server log ---"
    tail -n 40 "$work/server.log"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

total_start=$(date +%s)
# step NAME COMMAND...: runs COMMAND under a heading and prints how long it took.
step() {
  local name=$1 start end
  shift
  printf '\n=== sdk: %s ===\n' "$name"
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  awk -v name="$name" -v s="$start" -v e="$end" \
    'BEGIN { printf "--- sdk: %s took %.1f s\n", name, e - s }'
}

# suite NAME FUNCTION: like step, but a failure is recorded and the next suite still runs;
# the script fails at the end. (The function runs as a background job, not in an `if`,
# so that `set -e` still stops it at its first failing command.)
results=()
failed=()
suite() {
  local name=$1 start end outcome
  shift
  printf '\n=== sdk: %s ===\n' "$name"
  start=$(date +%s.%N)
  "$@" &
  if wait "$!"; then outcome=passed; else outcome=FAILED; failed+=("$name"); fi
  end=$(date +%s.%N)
  results+=("$(awk -v name="$name" -v o="$outcome" -v s="$start" -v e="$end" \
    'BEGIN { printf "%-45s %s in %.1f s", name, o, e - s }')")
  printf -- '--- sdk: %s\n' "${results[-1]}"
}

# shellcheck source=../.ci/gatehouse.sh
source "$root/.ci/gatehouse.sh"

install_python_tools() {
  python_venv "$root/sdk/python/requirements.txt"
  venv=$python_venv
  "$venv/bin/openapi-python-client" --version
}

install_node_tools() {
  # Installed once per lock into the cache; sdk/node_modules is a gitignored link to it.
  link_node_modules "$root/sdk"
  node_bin=$root/sdk/node_modules/.bin
  echo "node $(node --version), openapi-ts $("$node_bin/openapi-ts" --version | tail -n 1)"
}

install_chromium() {
  if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  /usr/bin/chromium --version 2>/dev/null
}

python_suite() {
  mkdir -p "$work/python"
  # The post-generation hook runs ruff from the virtualenv.
  PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$spec" \
    --meta none --output-path "$work/python/gatehouse_client" --fail-on-warning
  PYTHONPATH="$work/python" PYTHONDONTWRITEBYTECODE=1 GATEHOUSE_URL=$base_url \
    "$venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$root/sdk/python" \
    "$root/sdk/python"
}

typescript_suite() {
  local dir=$work/typescript
  mkdir -p "$dir"
  cp "$root/sdk/typescript/flow.test.ts" "$root/sdk/typescript/open-sets.test.ts" \
    "$root/sdk/typescript/tsconfig.json" "$dir/"
  echo '{ "type": "module" }' >"$dir/package.json"
  (cd "$root/sdk/typescript" &&
    GATEHOUSE_SPEC=$spec GATEHOUSE_TS_OUT="$dir/client" \
      "$node_bin/openapi-ts" --file openapi-ts.config.mjs)
  # Type-check the generated client and the test together, then run the test.
  "$node_bin/tsc" -p "$dir/tsconfig.json" --typeRoots "$root/sdk/node_modules/@types"
  (cd "$dir/out" && GATEHOUSE_URL=$base_url node --test flow.test.js open-sets.test.js)
}

swagger_ui_suite() {
  GATEHOUSE_URL=$base_url GATEHOUSE_ARTIFACTS=$artifacts \
    node --test "$root/sdk/swagger-ui/docs.test.mjs"
}

step "tools: Python (openapi-python-client, pytest)" install_python_tools
step "tools: Node (@hey-api/openapi-ts, typescript, playwright-core)" install_node_tools
step "tools: Chromium" install_chromium
step "build gatehouse" build_gatehouse
step "start gatehouse" start_gatehouse "$work"
suite "Python client (openapi-python-client)" python_suite
suite "TypeScript client (@hey-api/openapi-ts)" typescript_suite
suite "Swagger UI in headless Chromium" swagger_ui_suite

printf '\n=== sdk: summary (%d s in all) ===\n' "$(($(date +%s) - total_start))"
printf '%s\n' "${results[@]}"
if ((${#failed[@]} > 0)); then
  echo "sdk: FAILED: ${failed[*]}"
  exit 1
fi
echo "sdk: every suite passed"
