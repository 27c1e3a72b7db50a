"""Training throughput of the same world model and loss in PyTorch (CPU), for comparison with
`ebmpc train`. Same architecture (python/ebmpc_model.py), same batch (256 sequences of k = 8
steps), same loss (multi-step latent prediction against stop-gradient targets + VICReg variance
and covariance), AdamW. Data are random tensors of the dataset's shapes: throughput does not
depend on their values.

    python benches/peers/train_torch.py --threads 2 --steps 60 [--obs-dim 20]
Prints one JSON object: sequences per second (median over 3 timing windows).
"""

import argparse
import json
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
from ebmpc_model import WorldModel, new_meta  # noqa: E402


def vicreg(z):
    zc = z - z.mean(0)
    var = zc.pow(2).sum(0) / (z.shape[0] - 1)
    std = (var + 1e-4).sqrt()
    v = torch.relu(1 - std).mean()
    c = zc.T @ zc / (z.shape[0] - 1)
    off = c - torch.diag(torch.diag(c))
    return v, off.pow(2).sum() / z.shape[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--obs-dim", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--k", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    meta = new_meta(args.obs_dim, 4, 64, [256, 256], "gelu", True, "state", {})
    model = WorldModel(meta)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    b, k = args.batch, args.k
    obs = torch.randn(b, k + 1, args.obs_dim)
    act = torch.rand(b, k, 4) * 2 - 1

    def step():
        z0 = model.encode(obs[:, 0])
        with torch.no_grad():
            tgt = model.encode(obs[:, 1:].reshape(b * k, -1)).reshape(b, k, -1)
        z, pred = z0, 0.0
        for i in range(k):
            z = model.step(z, act[:, i])
            pred = pred + (z - tgt[:, i]).pow(2).mean()
        v, c = vicreg(z0)
        loss = pred / k + 1.0 * v + 0.04 * c
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    rates = []
    per = max(1, args.steps // 3)
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(per):
            step()
        rates.append(per * b / (time.perf_counter() - t0))
    rates.sort()
    print(json.dumps({
        "impl": f"pytorch {torch.__version__} eager",
        "threads": args.threads,
        "obs_dim": args.obs_dim,
        "batch": b,
        "rollout_steps": k,
        "seq_per_s": round(rates[1], 1),
    }))


if __name__ == "__main__":
    main()
