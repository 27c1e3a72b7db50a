#!/usr/bin/env bash
# Runs W1 (CEM, MPPI, gradient) in NumPy, PyTorch and JAX, and MPPI with the pytorch_mppi
# library, beside `ebmpc plan-bench`, on the same
# machine in the same run (two rounds, each implementation's lower median kept), and prints one
# table. Usage:
#   benches/peers/run_peers.sh [path/to/w1.safetensors] [threads]
# Python packages go into a venv at $EBMPC_PEERS_VENV (default ~/.cache/ebmpc-peers-venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
w1="${1:-$root/../shared/workload/w1.safetensors}"
threads="${2:-2}"
venv="${EBMPC_PEERS_VENV:-$HOME/.cache/ebmpc-peers-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy jax jaxlib safetensors pytorch-mppi
  # PyPI's torch wheel imports only with its CUDA library packages present (it preloads them),
  # so install it whole; it runs on the CPU here.
  "$venv/bin/pip" install -q torch
fi
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=$threads"
out="$(mktemp)"
(cd "$root" && cargo build --release --bin ebmpc -q)
# Two rounds, alternating implementations, so that a slow moment of a shared machine does not
# land on one implementation only; the table keeps each one's lower median.
for round in 1 2; do
  for p in cem mppi grad icem hybrid; do
    "$root/target/release/ebmpc" plan-bench --workload "$w1" --planner "$p" --threads "$threads" --json \
      | "$venv/bin/python" -c 'import json,sys; d=json.load(sys.stdin); d["impl"]="ebmpc"; print(json.dumps(d))' >> "$out"
  done
  for s in w1_jax.py w1_torch.py w1_numpy.py w1_pytorch_mppi.py; do
    (cd "$here" && "$venv/bin/python" "$s" "$w1" "$threads") >> "$out" || echo "{\"impl\": \"$s failed\"}" >> "$out"
  done
done
"$venv/bin/python" - "$out" <<'PY'
import json, sys
rows = []
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    r = json.loads(l)
    same = [x for x in rows if x.get("impl") == r.get("impl") and x.get("planner") == r.get("planner")]
    if same and "median_ms" in r and "median_ms" in same[0]:
        if r["median_ms"] < same[0]["median_ms"]:
            rows[rows.index(same[0])] = r
    elif not same:
        rows.append(r)
jax = {r["planner"]: r["median_ms"] for r in rows if r.get("impl") == "jax-jit"}
print(f"{'impl':<12} {'planner':<7} {'median_ms':>9} {'p90_ms':>8} {'energy':>8} {'GFLOP/s':>8} {'x JAX':>6}")
for r in rows:
    if "median_ms" not in r:
        print(r["impl"]); continue
    ratio = r["median_ms"] / jax[r["planner"]] if r["planner"] in jax else float("nan")
    print(f"{r['impl']:<12} {r['planner']:<7} {r['median_ms']:9.1f} {r['p90_ms']:8.1f} {r['final_energy']:8.3f} {r['gflops']:8.1f} {ratio:6.2f}")
extra = [r for r in rows if r.get("impl") == "ebmpc"][:1]
for r in extra:
    print(f"machine probes (same run, {r['threads']} threads): sgemm 512x256x256 {r['sgemm_gflops']:.1f} GFLOP/s, FMA peak {r['fma_peak_gflops']:.1f} GFLOP/s")
PY
