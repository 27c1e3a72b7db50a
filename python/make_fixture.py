"""Writes tests/fixtures/torch_model.safetensors and the outputs PyTorch computes for it, which
`tests/torch_interop.rs` checks against ebmpc's loader and inference path.

    python python/make_fixture.py        # needs torch, safetensors (python/requirements.txt)
"""

import json
import pathlib

import torch

from ebmpc_model import WorldModel, new_meta, save

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATE_FIELDS = [
    ("palm_pos", 3),
    ("palm_vel", 3),
    ("finger_gap", 1),
    ("cube_pos", 3),
    ("cube_quat", 4),
    ("cube_linvel", 3),
    ("cube_angvel", 3),
]


def state_layout():
    fields, start = [], 0
    for name, n in STATE_FIELDS:
        fields.append({"name": name, "start": start, "len": n})
        start += n
    return {"mode": "state", "image": [0, 0], "fields": fields}


def main():
    torch.manual_seed(7)
    meta = new_meta(20, 4, 16, [32, 24], "gelu", True, "state", state_layout())
    model = WorldModel(meta)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:  # non-trivial LayerNorm parameters
                p.add_(0.2 * torch.randn_like(p))
        model.normalizer.mean.copy_(torch.randn(20) * 0.1)
        model.normalizer.std.copy_(torch.rand(20) + 0.5)
        obs = torch.randn(6, 20)
        a = torch.rand(6, 4) * 2 - 1
        z = model.encode(obs)
        z_next = model.step(z, a)
    out = ROOT / "tests" / "fixtures"
    out.mkdir(parents=True, exist_ok=True)
    save(model, str(out / "torch_model.safetensors"))
    expected = {
        "obs": obs.tolist(),
        "actions": a.tolist(),
        "z": z.tolist(),
        "z_next": z_next.tolist(),
        "torch_version": torch.__version__,
    }
    (out / "torch_model_expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {out / 'torch_model.safetensors'} and torch_model_expected.json")


if __name__ == "__main__":
    main()
