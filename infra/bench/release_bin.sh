# Sourced by the release benches: sets `bin` (the pinpipe CLI, release; PINPIPE_BIN to
# bench a given binary instead of building one), `python` (the test stack's venv, with
# DuckDB and its delta extension; psutil for measure.py) and `work` (removed at exit).
if [[ -n ${PINPIPE_BIN:-} ]]; then
  bin=$PINPIPE_BIN
else
  cargo build -q --release -p pinpipe-cli
  bin=${CARGO_TARGET_DIR:-target}/release/pinpipe
fi
python=${PINPIPE_PYTHON:-$HOME/.cache/pinpipe/venv/bin/python}
"$python" -c 'import psutil' 2>/dev/null || "$python" -m pip install -q psutil
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
