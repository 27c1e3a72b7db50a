//! Trainable parameters: one flat `f32` vector with named, shaped slots, so that the optimizer,
//! the EMA target and checkpoints treat all tensors alike.

use rand::Rng;

use crate::conv::{ConvSpec, KERNEL};
use crate::mlp::MlpSpec;

/// One named tensor inside the flat parameter vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// PyTorch `state_dict` name, e.g. `predictor.0.weight`.
    pub name: String,
    /// Shape, e.g. `[out, in]` for a weight.
    pub shape: Vec<usize>,
    /// First index in the flat vector.
    pub offset: usize,
}

impl Slot {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the slot holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index range in the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Where one linear layer's tensors (and its LayerNorm, if any) sit in the flat vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSlots {
    /// `(out, in)` weight.
    pub weight: usize,
    /// `(out,)` bias.
    pub bias: usize,
    /// `(out,)` LayerNorm gain and bias, if the layer has one.
    pub norm: Option<(usize, usize)>,
    /// Input width.
    pub input: usize,
    /// Output width.
    pub output: usize,
}

/// The layout of the tensors of several MLPs in one flat vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamLayout {
    /// All slots in order.
    pub slots: Vec<Slot>,
    len: usize,
}

impl ParamLayout {
    /// Total number of parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, name: String, shape: Vec<usize>) -> usize {
        let offset = self.len;
        let slot = Slot {
            name,
            shape,
            offset,
        };
        self.len += slot.len();
        self.slots.push(slot);
        offset
    }

    /// Adds the tensors of an MLP named `{prefix}{i}.weight`, `{prefix}{i}.bias`,
    /// `{prefix}{i}.norm.weight`, `{prefix}{i}.norm.bias` (the names `world_model::model::load_mlp`
    /// reads) and returns their positions.
    pub fn add_mlp(&mut self, spec: &MlpSpec, prefix: &str) -> Vec<LayerSlots> {
        let n_hidden = spec.hidden.len();
        let mut layers = Vec::new();
        for (i, (din, dout)) in spec.layer_dims().into_iter().enumerate() {
            let weight = self.push(format!("{prefix}{i}.weight"), vec![dout, din]);
            let bias = self.push(format!("{prefix}{i}.bias"), vec![dout]);
            let norm = (spec.layer_norm && i < n_hidden).then(|| {
                (
                    self.push(format!("{prefix}{i}.norm.weight"), vec![dout]),
                    self.push(format!("{prefix}{i}.norm.bias"), vec![dout]),
                )
            });
            layers.push(LayerSlots {
                weight,
                bias,
                norm,
                input: din,
                output: dout,
            });
        }
        layers
    }

    /// Adds the tensors of a conv stem named `{prefix}{i}.weight (cout, cin, 3, 3)` and
    /// `{prefix}{i}.bias (cout,)`, and returns each convolution's `(weight, bias)` offsets.
    pub fn add_conv(&mut self, spec: &ConvSpec, prefix: &str) -> Vec<(usize, usize)> {
        spec.geoms()
            .iter()
            .enumerate()
            .map(|(i, g)| {
                (
                    self.push(
                        format!("{prefix}{i}.weight"),
                        vec![g.cout, g.cin, KERNEL, KERNEL],
                    ),
                    self.push(format!("{prefix}{i}.bias"), vec![g.cout]),
                )
            })
            .collect()
    }

    /// Initial values: PyTorch's `nn.Linear` and `nn.Conv2d` default (weights and biases uniform in
    /// `±1/sqrt(fan_in)`, `fan_in` the product of a weight's dimensions after the first), LayerNorm
    /// gain 1 and bias 0.
    pub fn init(&self, rng: &mut impl Rng) -> Vec<f32> {
        let mut p = vec![0.0; self.len];
        for s in &self.slots {
            let r = s.range();
            if s.name.ends_with(".norm.weight") {
                p[r].fill(1.0);
            } else if s.name.ends_with(".norm.bias") {
                // zeros
            } else {
                let fan_in = |w: &Slot| w.shape[1..].iter().product::<usize>();
                let fan_in = if s.shape.len() >= 2 {
                    fan_in(s)
                } else {
                    // A bias: its layer's weight slot precedes it.
                    self.slots
                        .iter()
                        .find(|w| w.name == s.name.replace(".bias", ".weight"))
                        .map_or(1, fan_in)
                };
                let bound = 1.0 / (fan_in as f32).sqrt();
                for v in &mut p[r] {
                    *v = rng.random_range(-bound..bound);
                }
            }
        }
        p
    }

    /// The slot named `name`.
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }
}
