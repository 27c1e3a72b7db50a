"""W1 in NumPy: CEM, MPPI and gradient (hand-written backward) exactly as the workload README."""
import sys

import numpy as np

from w1_common import A, CEM_GFLOP, GRAD_GFLOP, H, I, K, LAM, N, load, report


def rollout(w, z0, a):
    z = np.repeat(z0[None], a.shape[0], 0)
    for t in range(H):
        x = np.concatenate([z, a[:, t]], 1)
        z = z + np.tanh(np.tanh(x @ w["W1"].T + w["b1"]) @ w["W2"].T + w["b2"]) @ w["W3"].T + w["b3"]
    return ((z - w["zg"]) ** 2).sum(1) + LAM * (a ** 2).sum((1, 2))


def cem(w, seed):
    rng = np.random.default_rng(seed)
    mu, std = np.zeros((H, A), np.float32), np.full((H, A), 0.5, np.float32)
    for _ in range(I):
        a = np.clip(mu + std * rng.standard_normal((N, H, A), dtype=np.float32), -1, 1)
        e = rollout(w, w["z0"], a)
        el = a[np.argpartition(e, K)[:K]]
        mu, std = el.mean(0), el.std(0)
    return mu


def mppi(w, seed):
    rng = np.random.default_rng(seed)
    u = np.zeros((H, A), np.float32)
    for _ in range(I):
        a = np.clip(u + 0.5 * rng.standard_normal((N, H, A), dtype=np.float32), -1, 1)
        e = rollout(w, w["z0"], a)
        wt = np.exp(-(e - e.min()) / 0.1)
        u = (wt[:, None, None] * a).sum(0) / wt.sum()
    return u


def grad(w, seed):
    rng = np.random.default_rng(seed)
    S = 32
    a = np.clip(0.5 * rng.standard_normal((S, H, A), dtype=np.float32), -1, 1)
    m, v = np.zeros_like(a), np.zeros_like(a)
    for step in range(1, 21):
        zs, hs = [np.repeat(w["z0"][None], S, 0)], []
        for t in range(H):
            x = np.concatenate([zs[-1], a[:, t]], 1)
            h1 = np.tanh(x @ w["W1"].T + w["b1"])
            h2 = np.tanh(h1 @ w["W2"].T + w["b2"])
            hs.append((h1, h2))
            zs.append(zs[-1] + h2 @ w["W3"].T + w["b3"])
        g = np.zeros_like(a)
        gz = 2 * (zs[-1] - w["zg"])
        for t in reversed(range(H)):
            h1, h2 = hs[t]
            g2 = (gz @ w["W3"]) * (1 - h2 ** 2)
            g1 = (g2 @ w["W2"]) * (1 - h1 ** 2)
            gx = g1 @ w["W1"]
            g[:, t] = gx[:, 64:]
            gz = gz + gx[:, :64]
        g += 2 * LAM * a
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        a = a - 0.05 / (1 - 0.9 ** step) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** step) + 1e-8)
        a = np.clip(a, -1, 1).astype(np.float32)
    return a[np.argmin(rollout(w, w["z0"], a))]


if __name__ == "__main__":
    path, threads = sys.argv[1], int(sys.argv[2])
    w = load(path)
    report("numpy", "cem", w, lambda s: cem(w, s), threads, CEM_GFLOP)
    report("numpy", "mppi", w, lambda s: mppi(w, s), threads, CEM_GFLOP)
    report("numpy", "grad", w, lambda s: grad(w, s), threads, GRAD_GFLOP)
