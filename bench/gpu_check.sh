#!/usr/bin/env bash
# The GPU check in one command (bench/README.md, "GPU check"): run from the repository root on a
# machine with one CUDA GPU and torch, with bench/data/fashion-mnist copied along (see --prepare).
# Results go to $OUT/gpu_check when OUT is set, else to bench/results/gpu_check.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}/gpu_check"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/nvidia-smi.csv" 2>&1 || true
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" python3 -m bench.gpu_check --out "$out" "$@" 2>&1 | tee "$out/log.txt"
