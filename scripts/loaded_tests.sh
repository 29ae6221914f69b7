#!/usr/bin/env bash
# The slow tests N times in a row beside a CPU burner (one busy process per core): the proof
# that they hold on a loaded machine. Stops at the first failing pass.
#
#   scripts/loaded_tests.sh N [PYTEST ARGS...]     default args: -m slow tests
#   LOG_DIR=dir scripts/loaded_tests.sh 10         where the logs go (default: a new temp dir)
#
# LOG_DIR/summary.log gets one line per pass (start, seconds, exit code, pytest's last line);
# LOG_DIR/pass-K.log has that pass's full output. The burners' pids are in LOG_DIR/burners.pids
# and are killed, by pid, when the script ends (also on Ctrl-C). Exit code: the failing pass's
# pytest code, else 0.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 || ! $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/loaded_tests.sh N [PYTEST ARGS...]  (N: passes, a positive integer)" >&2
  exit 2
fi
passes=$1
shift
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(-m slow tests)
PY=${PYTHON:-.venv/bin/python}
LOG_DIR=${LOG_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/ltsweep-loaded.XXXXXX")}
mkdir -p "$LOG_DIR"
summary="$LOG_DIR/summary.log"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's ltsweep, not another's

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
  burners=()
}
trap stop_burners EXIT
trap 'stop_burners; exit 130' INT TERM

cores=$(nproc)
for _ in $(seq "$cores"); do
  bash -c 'while :; do :; done' &
  burners+=("$!")
done
printf '%s\n' "${burners[@]}" >"$LOG_DIR/burners.pids"
{
  echo "# $(date -u +%FT%TZ) $passes passes of: pytest ${args[*]}"
  echo "# beside $cores CPU burners (pids ${burners[*]}); $(uptime)"
} | tee -a "$summary"

code=0
for k in $(seq "$passes"); do
  started=$(date +%s)
  stamp=$(date -u +%FT%TZ)
  set +e
  "$PY" -m pytest -q -p no:cacheprovider "${args[@]}" >"$LOG_DIR/pass-$k.log" 2>&1
  code=$?
  set -e
  seconds=$(($(date +%s) - started))
  last=$(grep -E '(passed|failed|error|skipped|no tests ran)' "$LOG_DIR/pass-$k.log" | tail -1)
  echo "pass $k/$passes start $stamp seconds $seconds exit $code: ${last:-no pytest summary}" \
    | tee -a "$summary"
  if [[ $code -ne 0 ]]; then
    echo "stopped at failing pass $k: see $LOG_DIR/pass-$k.log" | tee -a "$summary"
    break
  fi
done
[[ $code -ne 0 ]] || echo "all $passes passes passed" | tee -a "$summary"
echo "logs: $LOG_DIR"
exit "$code"
