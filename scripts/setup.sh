#!/usr/bin/env bash
# Set up a fresh machine: FFCV's system packages (when we can apt-get), a virtualenv in .venv,
# ltsweep with its dev and FFCV extras. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# chromium: the headless browser the MLflow UI test opens (tests/test_ui_browser.py).
if command -v apt-get >/dev/null 2>&1 && ! dpkg -s libturbojpeg0-dev libopencv-dev pkg-config chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing system packages (pkg-config libopencv-dev libturbojpeg0-dev chromium)"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq pkg-config libopencv-dev libturbojpeg0-dev chromium >/dev/null \
    || echo "setup: could not install the system packages; the torch loader still works, the browser test skips"
fi

# Real Fashion-MNIST (the official zalando files, 30 MB) in /usr/share/datasets/fashion-mnist,
# where ltsweep looks when no data root is given; the real-data tests need it.
if command -v apt-get >/dev/null 2>&1 && ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing dataset-fashion-mnist (real Fashion-MNIST for the real-data tests)"
  $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
    || echo "setup: could not install dataset-fashion-mnist; real-data tests will skip (fail with CI=true)"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision are pinned in pyproject.toml (2.14.1 / 0.29.1); pip takes them from local files.
.venv/bin/python -m pip install -q -e '.[dev]'
if ! .venv/bin/python -c 'import ffcv' >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q -e '.[dev,ffcv]' \
    || echo "setup: FFCV did not install (missing system packages?); 'loader: ffcv' will say so"
fi
echo "setup: done (.venv)"
