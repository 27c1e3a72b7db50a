"""GPU peer: CEM in PyTorch on CUDA, eager and torch.compile, for the CUDA backend's speed check.

Workloads:
  w1     the W1 reference problem (N=512, K=64, I=4, H=16, latent 64, action 4, hidden 256x2),
         loaded from the W1 file; final_energy is scored in float64 like the CPU peers.
  large  N=4096 samples, K=256 elites, I=4, H=32, latent 64, action 4, hidden 1024x2 (tanh),
         random weights from a fixed seed (no reference energy; final_energy is the float32
         energy of the returned plans under this model).

Timing: 3 untimed warm-up calls, then 20 timed calls, each a whole plan() that returns the plan on
the host (so the GPU is synchronized); prints one JSON line per (workload, mode) with the median
and p90 in ms. torch.compile warm-up compiles first; its compile time is not in the timed calls.

Usage: python3 benches/peers/gpu_torch.py shared/workload/w1.safetensors [--modes eager,compile]
Needs a CUDA GPU and PyTorch with CUDA; prints {"skipped": ...} and exits 0 without one.
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch

from w1_common import energy_np, load

STEP_FLOPS = lambda d, a, h: 2 * ((d + a) * h + h * h + h * d)  # noqa: E731


def make_energy(p, horizon, lam):
    def energy(a):
        z = p["z0"].expand(a.shape[0], p["z0"].shape[0])
        for t in range(horizon):
            x = torch.cat([z, a[:, t]], 1)
            h1 = torch.tanh(x @ p["W1"].T + p["b1"])
            z = z + torch.tanh(h1 @ p["W2"].T + p["b2"]) @ p["W3"].T + p["b3"]
        return ((z - p["zg"]) ** 2).sum(1) + lam * (a ** 2).sum((1, 2))

    return energy


def make_cem(energy, n, k, iters, horizon, action_dim, dev):
    @torch.no_grad()
    def cem(seed):
        g = torch.Generator(device=dev).manual_seed(seed)
        mu = torch.zeros(horizon, action_dim, device=dev)
        std = torch.full((horizon, action_dim), 0.5, device=dev)
        for _ in range(iters):
            eps = torch.randn(n, horizon, action_dim, generator=g, device=dev)
            a = (mu + std * eps).clamp(-1, 1)
            el = a[torch.topk(energy(a), k, largest=False).indices]
            mu, std = el.mean(0), el.std(0, unbiased=False)
        return mu.cpu().numpy()

    return cem


def time_calls(plan_fn, warmup=3, calls=20):
    for s in range(warmup):
        plan_fn(s)
    torch.cuda.synchronize()
    times, plans = [], []
    for s in range(warmup, warmup + calls):
        t0 = time.perf_counter()
        plans.append(plan_fn(s))
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.9 * (len(times) - 1)))], plans


def large_params(dev, d=64, a=4, h=1024, seed=0):
    g = torch.Generator().manual_seed(seed)

    def lin(o, i):
        bound = 1.0 / i ** 0.5
        return ((torch.rand(o, i, generator=g) * 2 - 1) * bound, (torch.rand(o, generator=g) * 2 - 1) * bound)

    w1, b1 = lin(h, d + a)
    w2, b2 = lin(h, h)
    w3, b3 = lin(d, h)
    w3, b3 = 0.1 * w3, 0.1 * b3
    p = {"W1": w1, "b1": b1, "W2": w2, "b2": b2, "W3": w3, "b3": b3,
         "z0": torch.randn(d, generator=g), "zg": torch.randn(d, generator=g)}
    return {k: v.to(dev) for k, v in p.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("w1_path")
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--workloads", default="w1,large")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA device visible to PyTorch"}))
        return
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32 exact, like the CUDA backend
    torch.backends.cudnn.allow_tf32 = False
    w = load(args.w1_path)
    for workload in args.workloads.split(","):
        if workload == "w1":
            p = {k: torch.from_numpy(np.ascontiguousarray(w[k])).to(dev)
                 for k in ("W1", "b1", "W2", "b2", "W3", "b3", "z0", "zg")}
            n, k, iters, horizon, hidden = 512, 64, 4, 16, 256
        elif workload == "large":
            p = large_params(dev)
            n, k, iters, horizon, hidden = 4096, 256, 4, 32, 1024
        else:
            sys.exit(f"unknown workload {workload!r}")
        energy = make_energy(p, horizon, 1e-3)
        for mode in args.modes.split(","):
            e = torch.compile(energy) if mode == "compile" else energy
            cem = make_cem(e, n, k, iters, horizon, 4, dev)
            med, p90, plans = time_calls(cem)
            if workload == "w1":
                final = float(energy_np(w, np.stack(plans)).mean())
            else:
                with torch.no_grad():
                    final = float(energy(torch.from_numpy(np.stack(plans)).to(dev)).mean())
            nominal = n * iters * horizon * STEP_FLOPS(64, 4, hidden) / 1e9
            print(json.dumps({
                "impl": f"torch-{mode}-cuda", "workload": workload, "planner": "cem",
                "device": torch.cuda.get_device_name(), "num_samples": n, "horizon": horizon,
                "hidden": hidden, "median_ms": med, "p90_ms": p90, "final_energy": final,
                "gflops": nominal / (med / 1e3),
            }))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
