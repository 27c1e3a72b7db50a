#!/usr/bin/env bash
# On a GPU machine, from the repository root, after `scripts/gpu_bundle.sh` staged .devbin/: runs
# the CUDA checks of docs/gpu.md and writes every log and JSON line to $OUT (default ./out), with a
# one-line status per check in $OUT/summary.txt. A failing check is recorded and the next one runs.
#   1. the kernels crate's tests, the CPU/GPU parity test among them (`--nocapture`: it prints
#      the largest gaps);
#   2. plan-bench on W1 for every optimizer, CPU and CUDA backends (same samples, so the final
#      energies should agree to about 1e-4 relative);
#   3. 10 closed-loop pick-and-place episodes with the shipped state model and CEM, CPU and CUDA;
#   4. the PyTorch peer on the same W1 (benches/peers/gpu_torch.py), when python3 has torch.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
bin=.devbin
mkdir -p "$out"
[[ -x $bin/ebmpc ]] || { echo "gpu_run: $bin/ebmpc missing; run scripts/gpu_bundle.sh first" >&2; exit 1; }
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda/lib64
summary=$out/summary.txt
: > "$summary"
record() { echo "$1 rc=$2" | tee -a "$summary"; }

nvidia-smi > "$out/nvidia-smi.txt" 2>&1
record nvidia-smi $?
for t in "$bin"/tests/*; do
  name=$(basename "$t")
  "$t" --nocapture > "$out/test_$name.log" 2>&1
  record "test $name" $?
done
for p in cem icem mppi grad hybrid; do
  for be in cpu cuda; do
    "$bin/ebmpc" plan-bench --workload "$bin/w1.safetensors" --planner $p --backend $be --json \
      > "$out/plan_bench_${p}_$be.json" 2> "$out/plan_bench_${p}_$be.err"
    record "plan-bench $p $be" $?
  done
done
for be in cpu cuda; do
  "$bin/ebmpc" run --task pick_place --model "$bin/tabletop_state.safetensors" --planner cem \
    --config configs/run/pick_place.toml --episodes 10 --seed 500000 --backend $be --json \
    --report "$out/run_$be" > "$out/run_$be.json" 2> "$out/run_$be.err"
  record "run pick_place cem $be" $?
done
if python3 -c "import torch" 2>/dev/null; then
  (cd benches/peers && timeout 300 python3 gpu_torch.py "../../$bin/w1.safetensors" --modes eager,compile) \
    > "$out/gpu_torch.jsonl" 2> "$out/gpu_torch.err"
  record "peer gpu_torch" $?
else
  record "peer gpu_torch (no torch)" 1
fi
cat "$summary"
