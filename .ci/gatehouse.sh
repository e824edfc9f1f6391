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

# link_node_modules DIR: DIR/package-lock.json's tree, installed once per (package.json,
# package-lock.json, node version) into $GATEHOUSE_CI_CACHE/node-<hash> (outside the
# clone), and DIR/node_modules made a link to it. The link is gitignored (`node_modules`
# in .gitignore matches a link as well as a directory), so a run leaves the checkout
# clean; a tree that matches the lock is never installed again (`npm ci` only when the
# hash is new). Sets `node_modules` to the cached tree.
link_node_modules() {
  local dir=$1 cache=${GATEHOUSE_CI_CACHE:-$HOME/.cache/gatehouse-ci} hash staging
  hash=$(cat "$dir/package.json" "$dir/package-lock.json" <(node --version) | sha256sum | cut -c1-16)
  node_modules=$cache/node-$hash/node_modules
  if [[ ! -f $cache/node-$hash/.complete ]]; then
    echo "npm ci for $dir (lock hash $hash, not cached yet)"
    staging=$(mktemp -d "$cache/node-$hash.XXXXXX")
    cp "$dir/package.json" "$dir/package-lock.json" "$staging/"
    (cd "$staging" && npm ci --cache "$cache/npm" --prefer-offline --no-audit --no-fund \
      --loglevel=error)
    touch "$staging/.complete"
    rm -rf "$cache/node-$hash"
    mv "$staging" "$cache/node-$hash"
  else
    echo "node_modules for $dir: cached ($cache/node-$hash, matches the lock)"
  fi
  if [[ -d $dir/node_modules && ! -L $dir/node_modules ]]; then
    # A tree someone installed by hand in the clone: the lock's cached tree replaces it.
    echo "replacing the installed $dir/node_modules with a link to the cached tree"
    rm -rf "$dir/node_modules"
  fi
  if [[ $(readlink "$dir/node_modules" 2>/dev/null) != "$node_modules" ]]; then
    ln -sfn "$node_modules" "$dir/node_modules"
  fi
}

# python_venv REQUIREMENTS: a virtualenv with REQUIREMENTS' exact pins, created once per
# (requirements file, Python version) in $GATEHOUSE_CI_CACHE/venv-<hash>. Sets
# `python_venv`.
python_venv() {
  local requirements=$1 cache=${GATEHOUSE_CI_CACHE:-$HOME/.cache/gatehouse-ci}
  python_venv="$cache/venv-$(cat "$requirements" <(python3 --version) | sha256sum | cut -c1-16)"
  if [[ ! -f $python_venv/.complete ]]; then
    rm -rf "$python_venv"
    python3 -m venv "$python_venv"
    "$python_venv/bin/pip" install --quiet --disable-pip-version-check \
      --cache-dir "$cache/pip" --requirement "$requirements"
    touch "$python_venv/.complete"
  fi
}

# stop_gatehouse: stops the server start_gatehouse started (if any) and waits for it.
stop_gatehouse() {
  if [[ -n ${server_pid:-} ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
