"""W1's MPPI with the pytorch_mppi library (github.com/UM-ARM-Lab/pytorch_mppi), the same
model, samples (512), horizon (16), iterations (4 calls of `command` without shifting), noise
(sigma 0.5), temperature (lambda 0.1), bounds [-1, 1], running cost 1e-3 ||a||^2 and terminal
cost ||z_H - zg||^2.

One difference is the library's own: its MPPI adds the information-theoretic perturbation cost
`lambda * U^T Sigma^-1 eps` to every sample's cost, which W1's MPPI does not. The returned plan is
scored with W1's own energy like every other peer.

    python w1_pytorch_mppi.py W1.safetensors THREADS
"""
import sys

import numpy as np
import torch
from pytorch_mppi import MPPI

from w1_common import A, CEM_GFLOP, H, I, LAM, N, load, report


def make(w):
    p = {k: torch.from_numpy(np.ascontiguousarray(w[k])) for k in ("W1", "b1", "W2", "b2", "W3", "b3", "z0", "zg")}

    def dynamics(z, a):
        x = torch.cat([z, a], 1)
        return z + torch.tanh(torch.tanh(x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]) @ p["W3"].T + p["b3"]

    def running_cost(z, a):
        return LAM * (a ** 2).sum(1)

    def terminal_cost(states, actions):
        # states: (rollout_samples, K, H, D)
        return ((states[..., -1, :] - p["zg"]) ** 2).sum(-1)

    def mppi(seed):
        torch.manual_seed(seed)
        ctrl = MPPI(
            dynamics, running_cost, 64, torch.eye(A) * 0.5 ** 2, num_samples=N, horizon=H,
            terminal_state_cost=terminal_cost, lambda_=0.1, u_min=-torch.ones(A), u_max=torch.ones(A),
        )
        for _ in range(I):
            ctrl.command(p["z0"], shift_nominal_trajectory=False)
        return ctrl.U.clamp(-1, 1).numpy()

    return mppi


if __name__ == "__main__":
    path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    w = load(path)
    report("pytorch_mppi", "mppi", w, make(w), threads, CEM_GFLOP)
