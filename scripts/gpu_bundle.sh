#!/usr/bin/env bash
# Stages what a GPU machine without Rust needs to check the CUDA backend (docs/gpu.md, "Checks on a
# GPU machine") into .devbin/, which git ignores: the ebmpc binary, the kernels crate's test
# binaries (parity, no_driver, ptxas_check and its unit tests), the W1 workload and the shipped
# state model. Stripped of debug info to stay under the device tool's 64 MiB carry limit.
#
#   bash scripts/gpu_bundle.sh              # here (builds release binaries: a few minutes cold)
#   device run: command `bash scripts/gpu_run.sh`, carry [".devbin"]   # there; results in $OUT
#
# W1 is read from $W1 (default ../shared/workload/w1.safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
w1=${W1:-../shared/workload/w1.safetensors}
[[ -f "$w1" ]] || { echo "gpu_bundle: W1 workload not found at $w1 (set W1=...)" >&2; exit 1; }
rm -rf .devbin
mkdir -p .devbin/tests
cargo build --release --bin ebmpc
cp target/release/ebmpc .devbin/ebmpc
# The test binaries' paths come from cargo's JSON messages ("executable":"...").
cargo test --release -p kernels --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*"' | cut -d'"' -f4 \
  | while read -r exe; do
      name=$(basename "$exe")
      cp "$exe" ".devbin/tests/${name%-*}"
    done
cp "$w1" .devbin/w1.safetensors
cp models/tabletop_state.safetensors .devbin/
strip --strip-debug .devbin/ebmpc .devbin/tests/*
ls -la .devbin .devbin/tests
du -sh .devbin
