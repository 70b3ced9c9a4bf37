#!/usr/bin/env bash
# The local test stack on 127.0.0.1 (SPEC §8, ../shared/STACK.md):
#   moto server (S3 + Kinesis)  on $PINPIPE_MOTO_PORT  (5001)
#   tansu Kafka broker          on $PINPIPE_KAFKA_PORT (9092)
#   MariaDB (Debian's), the real samples in the original three tables, on $PINPIPE_MYSQL_PORT (3306)
#   a Python venv with the independent readers (deltalake, duckdb + delta, pyarrow) and cargo-lambda;
#   Debian's Chromium, headless, for the pages' browser tests.
#
#   infra/stack.sh install   install whatever is missing (idempotent; cached under $PINPIPE_CACHE)
#   infra/stack.sh up        install, start what is not running, wait until healthy
#   infra/stack.sh down      stop exactly the processes `up` started (pid files)
#   infra/stack.sh status    what runs, and where
#   infra/stack.sh env       the variables tests and tools need, as `export` lines
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PINPIPE_CACHE:-$HOME/.cache/pinpipe}
RUN=${PINPIPE_STACK_DIR:-$ROOT/.stack}
VENV=$CACHE/venv
TANSU_VERSION=0.6.0
TANSU=$CACHE/tansu-$TANSU_VERSION/bin/tansu
MOTO_PORT=${PINPIPE_MOTO_PORT:-5001}
KAFKA_PORT=${PINPIPE_KAFKA_PORT:-9092}
MYSQL_PORT=${PINPIPE_MYSQL_PORT:-3306}
# The emulator's MySQL source: the real samples in the original project's three tables.
SAMPLES=${PINPIPE_SAMPLES:-$ROOT/../shared/data}
MYSQL_DATABASE=pinterest MYSQL_USER=pinpipe MYSQL_PASSWORD=pinpipe
REQUIREMENTS=$ROOT/infra/stack/requirements.txt
# shellcheck source=venv.sh
source "$ROOT/infra/venv.sh"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

install_python() {
  local before
  before=$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)
  ensure_venv "$VENV" "$REQUIREMENTS"
  [[ $(cat "$VENV/.requirements.sha256") == "$before" ]] && return
  # The readers must really load: DuckDB's delta extension ships inside a PyPI package.
  "$VENV/bin/python" - <<'PY'
import deltalake, duckdb, pyarrow, boto3, confluent_kafka, glob, os
import duckdb_extension_delta as d
ext = glob.glob(os.path.join(os.path.dirname(d.__file__), "extensions", "*", "delta.duckdb_extension"))
assert ext, "the delta extension file is missing from duckdb-extension-delta"
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.execute(f"LOAD '{ext[0]}'")
PY
}

install_tansu() {
  [[ -x $TANSU ]] && return
  log "building tansu $TANSU_VERSION (cargo install --debug; ~7 min, once per machine)"
  cargo install --locked --quiet tansu --version "$TANSU_VERSION" --features dynostore --debug \
    --root "$CACHE/tansu-$TANSU_VERSION"
}

# Debian's MariaDB server; its package must not start a system-wide server of its own.
install_mariadb() {
  command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null && return
  log "installing mariadb-server (apt)"
  local guard=no
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=yes
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  [[ $guard == yes ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# Debian's Chromium, for the browser tests of report.html and the dashboard (headless).
install_chromium() {
  command -v chromium >/dev/null && return
  log "installing chromium (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

install() {
  mkdir -p "$CACHE"
  install_python
  install_tansu
  install_mariadb
  install_chromium
}

mariadb_start() {
  local data=$RUN/mariadb
  if [[ ! -d $data/mysql ]]; then
    mkdir -p "$data"
    mariadb-install-db --no-defaults --datadir="$data" --user="$(id -un)" --auth-root-authentication-method=normal \
      --skip-test-db >"$RUN/mariadb-install.log" 2>&1 || { tail -n 20 "$RUN/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
  fi
  start mariadb mariadbd "$MYSQL_PORT" "$(command -v mariadbd)" --no-defaults --datadir="$data" --user="$(id -un)" \
    --bind-address=127.0.0.1 --port="$MYSQL_PORT" --socket="$RUN/mariadb.sock" --pid-file="$RUN/mariadb.server.pid" \
    --skip-name-resolve --log-error="$RUN/mariadb.err"
}

# Loads the real samples (again: each `up` starts from them).
mariadb_load() {
  [[ -d $SAMPLES ]] || die "no samples at $SAMPLES (set PINPIPE_SAMPLES)"
  python3 "$ROOT/infra/stack/mysql_samples.py" "$SAMPLES" "$MYSQL_DATABASE" "$MYSQL_USER" "$MYSQL_PASSWORD" |
    mariadb --no-defaults --default-character-set=utf8mb4 --user=root --socket="$RUN/mariadb.sock"
}

# alive NAME: the process in NAME's pid file runs and is the one we started.
alive() {
  local pidfile=$RUN/$1.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(cat "$pidfile")
  [[ -d /proc/$pid ]] && grep -q "$2" "/proc/$pid/cmdline" 2>/dev/null
}

port_open() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.5)" 2>/dev/null; }

wait_for() { # NAME SECONDS CHECK...
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS > deadline)); then
      log "$name did not become healthy in ${seconds}s; its log:"
      tail -n 30 "$RUN/$name.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

moto_healthy() {
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/', timeout=1)" 2>/dev/null
}

start() { # NAME MATCH PORT COMMAND...
  local name=$1 match=$2 port=$3; shift 3
  if alive "$name" "$match"; then
    log "$name already running (pid $(cat "$RUN/$name.pid"))"
    return
  fi
  port_open "$port" && die "127.0.0.1:$port is taken by a process this script did not start; stop it or set PINPIPE_${name^^}_PORT"
  log "starting $name on 127.0.0.1:$port"
  setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

up() {
  install
  mkdir -p "$RUN"
  start moto moto_server "$MOTO_PORT" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
  start kafka tansu "$KAFKA_PORT" "$TANSU" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine memory://tansu/
  wait_for moto 30 moto_healthy
  wait_for kafka 30 port_open "$KAFKA_PORT"
  mariadb_start
  wait_for mariadb 60 port_open "$MYSQL_PORT"
  mariadb_load
  # The default deployment's streams and topics, as the template creates them on AWS.
  "$VENV/bin/python" "$ROOT/infra/stack/create_deployment.py" "${PINPIPE_ID:-0a1b2c3d4e5f}" \
    "http://127.0.0.1:$MOTO_PORT" "127.0.0.1:$KAFKA_PORT" "$TANSU" >&2
  env_lines >"$RUN/stack.env"
  log "up: moto http://127.0.0.1:$MOTO_PORT, kafka 127.0.0.1:$KAFKA_PORT, mariadb 127.0.0.1:$MYSQL_PORT; variables in $RUN/stack.env"
}

# What a service's command line holds, to tell our process from a reused pid.
match_of() {
  case $1 in moto) echo moto_server ;; kafka) echo tansu ;; mariadb) echo mariadbd ;; esac
}

down() {
  local name pid
  for name in mariadb kafka moto; do
    [[ -f $RUN/$name.pid ]] || continue
    pid=$(cat "$RUN/$name.pid")
    if alive "$name" "$(match_of "$name")"; then
      log "stopping $name (pid $pid)"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
      [[ -d /proc/$pid ]] && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
}

status() {
  alive moto moto_server && echo "moto   up   pid $(cat "$RUN/moto.pid")  http://127.0.0.1:$MOTO_PORT" || echo "moto   down"
  alive kafka tansu && echo "kafka  up   pid $(cat "$RUN/kafka.pid")  127.0.0.1:$KAFKA_PORT" || echo "kafka  down"
  alive mariadb mariadbd && echo "mariadb up  pid $(cat "$RUN/mariadb.pid")  127.0.0.1:$MYSQL_PORT" || echo "mariadb down"
  [[ -x $VENV/bin/python ]] && echo "python $VENV/bin/python" || echo "python not installed"
}

env_lines() {
  cat <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ALLOW_HTTP=true
export PINPIPE_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
export PINPIPE_PYTHON=$VENV/bin/python
export PINPIPE_CARGO_LAMBDA=$VENV/bin/cargo-lambda
export PINPIPE_TANSU=$TANSU
export PINPIPE_MYSQL_URL=mysql://$MYSQL_USER:$MYSQL_PASSWORD@127.0.0.1:$MYSQL_PORT/$MYSQL_DATABASE
export PINPIPE_CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)
ENV
}

case ${1:-up} in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_lines ;;
  *) die "usage: infra/stack.sh install|up|down|status|env" ;;
esac
