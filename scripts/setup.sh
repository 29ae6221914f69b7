#!/usr/bin/env bash
# Set up a fresh machine in one of two modes (idempotent: a second run only checks).
#   setup.sh demo   what `ltsweep run demo` and the Fashion-MNIST study need: a virtualenv in
#                   .venv with ltsweep and its runtime dependencies, and Debian's
#                   dataset-fashion-mnist (`ltsweep run fashion`). `make demo` runs this.
#   setup.sh test   (the default) all of demo's, plus what only the tests use: the dev extra
#                   (pytest, ruff, timm, moto, ...), chromium for the MLflow UI browser test, and
#                   FFCV (its system packages, then the ffcv extra). `make test` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MODE=${1:-test}
case "$MODE" in
  demo | test) ;;
  *) echo "setup.sh: unknown mode '$MODE'; use 'demo' or 'test'" >&2; exit 2 ;;
esac
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# apt_install WHY PACKAGE...: install the Debian packages that are missing, when apt-get exists.
apt_install() {
  local why=$1; shift
  command -v apt-get >/dev/null 2>&1 || return 0
  dpkg -s "$@" >/dev/null 2>&1 && return 0
  echo "setup: installing $* ($why)"
  $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "$@" >/dev/null; }
}

# Real Fashion-MNIST (the official zalando files, 30 MB) in /usr/share/datasets/fashion-mnist,
# where ltsweep looks when no data root is given: `ltsweep run fashion` and the real-data tests.
apt_install "real Fashion-MNIST" dataset-fashion-mnist \
  || echo "setup: could not install dataset-fashion-mnist; 'ltsweep run fashion' will say where to put it"
if [ "$MODE" = test ]; then
  # chromium: the headless browser the MLflow UI test opens (tests/test_ui_browser.py);
  # pkg-config, OpenCV and libjpeg-turbo: what FFCV's build links against.
  apt_install "the browser test, FFCV's build" pkg-config libopencv-dev libturbojpeg0-dev chromium \
    || echo "setup: could not install the system packages; the torch loader still works, the browser test skips"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision are pinned in pyproject.toml (2.14.1 / 0.29.1); pip takes them from local files.
if [ "$MODE" = demo ]; then
  .venv/bin/python -m pip install -q -e .
else
  .venv/bin/python -m pip install -q -e '.[dev]'
  if ! .venv/bin/python -c 'import ffcv' >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q -e '.[dev,ffcv]' \
      || echo "setup: FFCV did not install (missing system packages?); 'loader: ffcv' will say so"
  fi
fi
echo "setup: done (.venv, $MODE)"
