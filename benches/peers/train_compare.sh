#!/usr/bin/env bash
# Training throughput, ebmpc vs PyTorch eager on CPU, side by side in one run.
#   bash benches/peers/train_compare.sh [THREADS]
# Needs: a release build (cargo build --release), PyTorch (python/requirements.txt; set PYTHON to
# the interpreter that has it), and data/pp.safetensors (ebmpc collect ... --obs state).
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
cfg="$tmp/bench.toml"
sed -e 's/^epochs = .*/epochs = 3/' -e 's/^steps_per_epoch = .*/steps_per_epoch = 20/' \
    -e "s/^threads = .*/threads = $threads/" configs/train/state.toml > "$cfg"
for round in 1 2; do
  ./target/release/ebmpc train --data data/pp.safetensors --config "$cfg" --out "$tmp/m.safetensors" 2>/dev/null
  ours=$(tail -n 1 "$tmp/m.safetensors.log.jsonl" | sed -E 's/.*"samples_per_s":([0-9.]+).*/\1/')
  theirs=$("$py" benches/peers/train_torch.py --threads "$threads" --steps 60 | sed -E 's/.*"seq_per_s": ([0-9.]+).*/\1/')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  echo "round $round, $threads threads: ebmpc $ours seq/s, pytorch eager $theirs seq/s, ebmpc/pytorch = $ratio"
done
rm -rf "$tmp"
