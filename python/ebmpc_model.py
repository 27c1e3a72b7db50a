"""The ebmpc world model in PyTorch, and import/export of ebmpc's model file format.

The architecture is the one `ebmpc train` writes (docs/model_format.md):

    z  = encoder((obs - normalizer.mean) / normalizer.std)
    z' = z + predictor(cat(z, a))

Each MLP is a list of layers; hidden layers are Linear -> [LayerNorm] -> activation, the last is
Linear. `state_dict()` names are exactly the tensor names of the file: `encoder.0.weight`,
`encoder.0.norm.weight`, ..., `predictor.1.bias`, `normalizer.mean`, `normalizer.std`.

    python python/ebmpc_model.py roundtrip models/pp_state.safetensors   # import, export, compare
"""

import json
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

META_KEY = "ebmpc_model"
ACTIVATIONS = {
    "identity": lambda x: x,
    "tanh": torch.tanh,
    "relu": F.relu,
    # ebmpc's GELU is the tanh approximation.
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}


class Layer(torch.nn.Module):
    """`nn.Linear` parameters (weight [out, in], bias [out]) plus an optional LayerNorm."""

    def __init__(self, din, dout, norm):
        super().__init__()
        lin = torch.nn.Linear(din, dout)
        self.weight = lin.weight
        self.bias = lin.bias
        self.norm = torch.nn.LayerNorm(dout, eps=1e-5) if norm else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class Mlp(torch.nn.ModuleList):
    """An MLP described by an ebmpc `MlpSpec` dict."""

    def __init__(self, spec):
        widths = [spec["input_dim"], *spec["hidden"], spec["output_dim"]]
        n_hidden = len(spec["hidden"])
        super().__init__(
            Layer(widths[i], widths[i + 1], spec["layer_norm"] and i < n_hidden)
            for i in range(len(widths) - 1)
        )
        self.spec = spec
        self.act = ACTIVATIONS[spec["activation"]]

    def forward(self, x):
        for i, layer in enumerate(self):
            x = layer(x)
            if i + 1 < len(self):
                if layer.norm is not None:
                    x = layer.norm(x)
                x = self.act(x)
        return x


class Normalizer(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))


class WorldModel(torch.nn.Module):
    """Encoder, residual predictor and observation normalizer; `meta` is the file's metadata."""

    def __init__(self, meta):
        super().__init__()
        self.meta = meta
        self.encoder = Mlp(meta["encoder"])
        self.predictor = Mlp(meta["predictor"])
        self.normalizer = Normalizer(meta["obs_dim"])
        # Linear read-outs of the latent (e.g. the palm position), stored as `head.{name}.*`.
        self.head = torch.nn.ModuleDict(
            {h["name"]: torch.nn.Linear(meta["latent_dim"], h["dim"]) for h in meta.get("heads", [])}
        )

    def encode(self, obs):
        return self.encoder((obs - self.normalizer.mean) / self.normalizer.std)

    def step(self, z, a):
        return z + self.predictor(torch.cat([z, a], dim=-1))


def new_meta(obs_dim, action_dim, latent_dim, hidden, activation, layer_norm, obs_mode, obs_layout):
    """Metadata of a fresh model (the fields `ebmpc` checks; see docs/model_format.md)."""

    def spec(din, dout):
        return {
            "input_dim": din,
            "hidden": list(hidden),
            "output_dim": dout,
            "activation": activation,
            "layer_norm": layer_norm,
        }

    return {
        "format": "ebmpc-model",
        "format_version": 1,
        "obs_dim": obs_dim,
        "latent_dim": latent_dim,
        "action_dim": action_dim,
        "encoder": spec(obs_dim, latent_dim),
        "predictor": spec(latent_dim + action_dim, latent_dim),
        "obs_mode": obs_mode,
        "obs_layout": obs_layout,
        "normalization": "per dimension (obs - normalizer.mean) / normalizer.std",
        "training": None,
        "trained_steps": 0,
        "source": {"writer": "python/ebmpc_model.py"},
    }


def save(model, path):
    """Writes `model` in ebmpc's format."""
    tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={META_KEY: json.dumps(model.meta)})


def load(path):
    """Reads an ebmpc model file into a `WorldModel` (strict: every tensor must match)."""
    with safe_open(path, "pt") as f:
        meta = json.loads(f.metadata()[META_KEY])
        if meta.get("conv") is not None:
            raise NotImplementedError(
                f"{path} has a conv stem (metadata `conv`); this PyTorch peer reads MLP encoders only"
            )
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model = WorldModel(meta)
    model.load_state_dict(tensors, strict=True)
    return model


def main(argv):
    if len(argv) == 3 and argv[1] == "roundtrip":
        model = load(argv[2])
        out = argv[2] + ".roundtrip.safetensors"
        save(model, out)
        again = load(out)
        obs = torch.randn(5, model.meta["obs_dim"])
        a = torch.rand(5, model.meta["action_dim"]) * 2 - 1
        with torch.no_grad():
            d = (model.step(model.encode(obs), a) - again.step(again.encode(obs), a)).abs().max()
        print(f"loaded {argv[2]}, wrote {out}, max difference {d.item():.3g}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
