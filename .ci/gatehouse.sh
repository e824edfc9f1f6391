# Sourced by .ci/contract and sdk/run.sh: build and start the real `gatehouse` binary for
# suites that talk to it over HTTP.

# The binary `cargo test --workspace` builds (and the binary tests use): asking for the
# binary alone (`cargo build -p adapters --bin gatehouse`) would resolve other features
# (no dev-dependencies) and rebuild the server stack. $GATEHOUSE_BIN names another binary
# instead. Sets `gatehouse_bin`.
build_gatehouse() {
  if [[ -n ${GATEHOUSE_BIN:-} ]]; then
    gatehouse_bin=$GATEHOUSE_BIN
  else
    cargo test --workspace --locked --no-run
    gatehouse_bin=$CARGO_TARGET_DIR/debug/gatehouse
  fi
  "$gatehouse_bin" --version
}

# start_gatehouse DIR: serves on a fresh SQLite file in DIR, on a free loopback port, with
# rate limits and login throttles off, a random secret, logs in DIR/server.log; runs from
# DIR, so no .env of the clone is read. Waits for /ready. Sets `base_url` and `server_pid`.
start_gatehouse() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base_url="http://127.0.0.1:$port"
  (
    cd "$dir"
    HOST=127.0.0.1 PORT=$port \
      DATABASE_URL="sqlite://$dir/gatehouse.db" \
      JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')" \
      JWT_SECRET_FILE="$dir/jwt-secret" \
      RATE_LIMIT_SIGNUP_PER_MINUTE=0 RATE_LIMIT_LOGIN_PER_MINUTE=0 \
      LOGIN_THROTTLE_FAILURES=0 LOGIN_THROTTLE_ACCOUNT_FAILURES=0 \
      LOG_LEVEL=warn \
      exec "$gatehouse_bin" serve
  ) >"$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 150); do
    if curl -fsS "$base_url/ready" >/dev/null 2>&1; then
      echo "gatehouse ready at $base_url"
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "gatehouse exited before it was ready" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "gatehouse not ready after 30 s" >&2
  return 1
}
