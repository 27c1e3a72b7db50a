"""Shared W1 loading and the timing protocol (3 warm-ups, 20 timed calls) for the peer scripts."""
import json
import statistics
import sys
import time

import numpy as np
from safetensors.numpy import load_file

H, A, D, LAM = 16, 4, 64, 1e-3
N, K, I = 512, 64, 4
STEP_FLOP = 2 * (68 * 256 + 256 * 256 + 256 * 64)


def load(path):
    t = load_file(path)
    return {k: np.asarray(v) for k, v in t.items()}


def energy_np(w, actions):
    """float64 reference energy of plans (B, H, A), used to score what each peer returns."""
    a = np.clip(actions.astype(np.float64), -1, 1)
    z = np.repeat(w["z0"][None].astype(np.float64), a.shape[0], 0)
    W1, W2, W3 = (w[n].astype(np.float64) for n in ("W1", "W2", "W3"))
    b1, b2, b3 = (w[n].astype(np.float64) for n in ("b1", "b2", "b3"))
    for t in range(H):
        x = np.concatenate([z, a[:, t]], 1)
        z = z + np.tanh(np.tanh(x @ W1.T + b1) @ W2.T + b2) @ W3.T + b3
    return ((z - w["zg"]) ** 2).sum(1) + LAM * (a ** 2).sum((1, 2))


def report(name, planner, w, plan_fn, threads, nominal_gflop, warmup=3, calls=20):
    """Runs the protocol; plan_fn(seed) returns one (H, A) plan as a numpy array."""
    for s in range(warmup):
        plan_fn(s)
    times, plans = [], []
    for s in range(warmup, warmup + calls):
        t0 = time.perf_counter()
        p = plan_fn(s)
        times.append((time.perf_counter() - t0) * 1e3)
        plans.append(np.asarray(p))
    times.sort()
    med = statistics.median(times)
    out = {
        "impl": name,
        "planner": planner,
        "threads": threads,
        "median_ms": med,
        "p90_ms": times[min(len(times) - 1, round(0.9 * (len(times) - 1)))],
        "final_energy": float(energy_np(w, np.stack(plans)).mean()),
        "gflops": nominal_gflop / (med / 1e3),
    }
    print(json.dumps(out))
    sys.stdout.flush()


CEM_GFLOP = N * I * H * STEP_FLOP / 1e9
GRAD_GFLOP = 41 * 32 * H * STEP_FLOP / 1e9
