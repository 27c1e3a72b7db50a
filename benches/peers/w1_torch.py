"""W1 in PyTorch (eager): CEM, MPPI and gradient (autograd + torch.optim.Adam) as the README."""
import sys

import numpy as np
import torch

from w1_common import A, CEM_GFLOP, GRAD_GFLOP, H, I, K, LAM, N, load, report


def make(w):
    p = {k: torch.from_numpy(np.ascontiguousarray(w[k])) for k in ("W1", "b1", "W2", "b2", "W3", "b3", "z0", "zg")}

    def energy(a):
        z = p["z0"].expand(a.shape[0], 64)
        for t in range(H):
            x = torch.cat([z, a[:, t]], 1)
            z = z + torch.tanh(torch.tanh(x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]) @ p["W3"].T + p["b3"]
        return ((z - p["zg"]) ** 2).sum(1) + LAM * (a ** 2).sum((1, 2))

    @torch.no_grad()
    def cem(seed):
        g = torch.Generator().manual_seed(seed)
        mu, std = torch.zeros(H, A), torch.full((H, A), 0.5)
        for _ in range(I):
            a = (mu + std * torch.randn(N, H, A, generator=g)).clamp(-1, 1)
            el = a[torch.topk(energy(a), K, largest=False).indices]
            mu, std = el.mean(0), el.std(0, unbiased=False)
        return mu.numpy()

    @torch.no_grad()
    def mppi(seed):
        g = torch.Generator().manual_seed(seed)
        u = torch.zeros(H, A)
        for _ in range(I):
            a = (u + 0.5 * torch.randn(N, H, A, generator=g)).clamp(-1, 1)
            e = energy(a)
            wt = torch.exp(-(e - e.min()) / 0.1)
            u = (wt[:, None, None] * a).sum(0) / wt.sum()
        return u.numpy()

    def grad(seed):
        g = torch.Generator().manual_seed(seed)
        a = (0.5 * torch.randn(32, H, A, generator=g)).clamp(-1, 1).requires_grad_(True)
        opt = torch.optim.Adam([a], lr=0.05)
        for _ in range(20):
            opt.zero_grad()
            energy(a).sum().backward()
            opt.step()
            with torch.no_grad():
                a.clamp_(-1, 1)
        with torch.no_grad():
            return a[torch.argmin(energy(a))].numpy()

    return cem, mppi, grad


if __name__ == "__main__":
    path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    w = load(path)
    cem, mppi, grad = make(w)
    report("torch-eager", "cem", w, cem, threads, CEM_GFLOP)
    report("torch-eager", "mppi", w, mppi, threads, CEM_GFLOP)
    report("torch-eager", "grad", w, grad, threads, GRAD_GFLOP)
