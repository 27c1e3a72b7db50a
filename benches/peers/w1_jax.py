"""W1 in JAX (jit): CEM, MPPI and gradient (jax.grad + Adam) exactly as the workload README."""
import sys

import jax
import jax.numpy as jnp
import numpy as np

from w1_common import A, CEM_GFLOP, GRAD_GFLOP, H, I, K, LAM, N, load, report


def make(w):
    p = {k: jnp.asarray(w[k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3", "z0", "zg")}

    def energy(a):
        def step(z, at):
            x = jnp.concatenate([z, at], -1)
            h = jnp.tanh(jnp.tanh(x @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"])
            return z + h @ p["W3"].T + p["b3"], None

        z0 = jnp.broadcast_to(p["z0"], (a.shape[0], 64))
        z, _ = jax.lax.scan(step, z0, jnp.swapaxes(a, 0, 1))
        return ((z - p["zg"]) ** 2).sum(1) + LAM * (a ** 2).sum((1, 2))

    @jax.jit
    def cem(key):
        def it(c, k):
            mu, std = c
            a = jnp.clip(mu + std * jax.random.normal(k, (N, H, A)), -1, 1)
            el = a[jnp.argsort(energy(a))[:K]]
            return (el.mean(0), el.std(0)), None

        (mu, _), _ = jax.lax.scan(it, (jnp.zeros((H, A)), jnp.full((H, A), 0.5)), jax.random.split(key, I))
        return mu

    @jax.jit
    def mppi(key):
        def it(u, k):
            a = jnp.clip(u + 0.5 * jax.random.normal(k, (N, H, A)), -1, 1)
            e = energy(a)
            wt = jnp.exp(-(e - e.min()) / 0.1)
            return (wt[:, None, None] * a).sum(0) / wt.sum(), None

        u, _ = jax.lax.scan(it, jnp.zeros((H, A)), jax.random.split(key, I))
        return u

    @jax.jit
    def grad(key):
        g_fn = jax.grad(lambda a: energy(a).sum())
        a0 = jnp.clip(0.5 * jax.random.normal(key, (32, H, A)), -1, 1)

        def it(c, step):
            a, m, v = c
            g = g_fn(a)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            a = a - 0.05 / (1 - 0.9 ** step) * m / (jnp.sqrt(v) / jnp.sqrt(1 - 0.999 ** step) + 1e-8)
            return (jnp.clip(a, -1, 1), m, v), None

        (a, _, _), _ = jax.lax.scan(it, (a0, jnp.zeros_like(a0), jnp.zeros_like(a0)), jnp.arange(1, 21, dtype=jnp.float32))
        return a[jnp.argmin(energy(a))]

    return cem, mppi, grad


if __name__ == "__main__":
    path, threads = sys.argv[1], int(sys.argv[2])
    w = load(path)
    cem, mppi, grad = make(w)
    run = lambda f: (lambda s: np.asarray(jax.block_until_ready(f(jax.random.PRNGKey(s)))))
    report("jax-jit", "cem", w, run(cem), threads, CEM_GFLOP)
    report("jax-jit", "mppi", w, run(mppi), threads, CEM_GFLOP)
    report("jax-jit", "grad", w, run(grad), threads, GRAD_GFLOP)
