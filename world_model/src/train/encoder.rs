//! The trainable encoder: an optional conv stem ([`TrainConv`]) in front of an MLP
//! ([`TrainMlp`]). Without a stem it is the MLP alone, with the same parameters as before stems
//! existed.

use crate::conv::ConvSpec;
use crate::mlp::MlpSpec;
use crate::train::conv::{ConvCache, TrainConv};
use crate::train::net::{Cache, TrainMlp};
use crate::train::params::ParamLayout;

/// The encoder's view into a flat parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainEncoder {
    /// Conv stem over the image part of the observation, if any.
    pub conv: Option<TrainConv>,
    /// MLP from the stem's output (or the observation) to the latent.
    pub mlp: TrainMlp,
}

/// The forward cache of one encoder evaluation; reusable across calls.
#[derive(Debug, Clone, Default)]
pub struct EncoderCache {
    conv: ConvCache,
    mlp: Cache,
}

impl EncoderCache {
    /// The latents, `(rows, latent_dim)`.
    pub fn output(&self) -> &[f32] {
        &self.mlp.output
    }
}

impl TrainEncoder {
    /// Adds the encoder's tensors to `layout` (the stem's under `{prefix}conv.`, the MLP's under
    /// `prefix`) for observations of `obs_dim` floats. `mlp` gives the hidden widths, output
    /// width, activation and LayerNorm; its input width is set here.
    pub fn new(
        conv: Option<ConvSpec>,
        mut mlp: MlpSpec,
        obs_dim: usize,
        layout: &mut ParamLayout,
        prefix: &str,
    ) -> Self {
        let conv = conv.map(|spec| {
            let slots = layout.add_conv(&spec, &format!("{prefix}conv."));
            TrainConv::new(spec, obs_dim, slots)
        });
        mlp.input_dim = conv.as_ref().map_or(obs_dim, TrainConv::output_dim);
        Self {
            conv,
            mlp: TrainMlp::new(mlp, layout, prefix),
        }
    }

    /// Forward pass over `x (rows, obs_dim)`, normalized observations.
    pub fn forward(&self, params: &[f32], x: &[f32], rows: usize, cache: &mut EncoderCache) {
        match &self.conv {
            Some(conv) => {
                conv.forward(params, x, rows, &mut cache.conv);
                self.mlp
                    .forward(params, &cache.conv.output, rows, &mut cache.mlp);
            }
            None => self.mlp.forward(params, x, rows, &mut cache.mlp),
        }
    }

    /// Backward pass: given `g_out = dL/dz`, `(rows, latent_dim)`, adds every parameter's
    /// gradient into `grads`.
    pub fn backward(&self, params: &[f32], cache: &EncoderCache, g_out: &[f32], grads: &mut [f32]) {
        match &self.conv {
            Some(conv) => {
                let mut g_in = vec![0.0f32; cache.conv.output.len()];
                self.mlp
                    .backward(params, &cache.mlp, g_out, grads, Some(&mut g_in));
                conv.backward(params, &cache.conv, &g_in, grads);
            }
            None => self.mlp.backward(params, &cache.mlp, g_out, grads, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn loss(enc: &TrainEncoder, p: &[f32], x: &[f32], rows: usize, wo: &[f32]) -> f64 {
        let mut c = EncoderCache::default();
        enc.forward(p, x, rows, &mut c);
        c.output()
            .iter()
            .zip(wo)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    }

    #[test]
    fn conv_stem_gradients_match_finite_differences() {
        // A 5x4 image plus 2 extra floats; two convolutions (5x4 -> 3x2 -> 2x1).
        let (od, rows) = (22, 3);
        let spec = ConvSpec {
            image: [5, 4],
            channels: vec![3, 2],
            activation: Activation::Tanh,
        };
        let mlp = MlpSpec {
            input_dim: 0,
            hidden: vec![6],
            output_dim: 3,
            activation: Activation::Tanh,
            layer_norm: true,
        };
        let mut layout = ParamLayout::default();
        let enc = TrainEncoder::new(Some(spec), mlp, od, &mut layout, "encoder.");
        assert_eq!(enc.mlp.spec.input_dim, 2 * 2 + 2);
        assert_eq!(
            layout
                .slot("encoder.conv.1.weight")
                .map(|s| s.shape.clone()),
            Some(vec![2, 3, 3, 3])
        );
        let p = layout.init(&mut ChaCha8Rng::seed_from_u64(5));
        let x: Vec<f32> = (0..rows * od)
            .map(|i| ((i * 37 % 19) as f32 - 9.0) / 6.0)
            .collect();
        let wo: Vec<f32> = (0..rows * 3)
            .map(|i| ((i * 11 % 7) as f32 - 3.0) / 2.0)
            .collect();
        let mut c = EncoderCache::default();
        enc.forward(&p, &x, rows, &mut c);
        let mut grads = vec![0.0; layout.len()];
        enc.backward(&p, &c, &wo, &mut grads);
        let h = 1e-2f32;
        let conv_params = layout
            .slots
            .iter()
            .filter(|s| s.name.starts_with("encoder.conv."))
            .flat_map(|s| s.range())
            .count();
        assert!(conv_params > 0);
        for k in 0..layout.len() {
            let mut pp = p.clone();
            pp[k] += h;
            let up = loss(&enc, &pp, &x, rows, &wo);
            pp[k] -= 2.0 * h;
            let down = loss(&enc, &pp, &x, rows, &wo);
            let num = (up - down) / (2.0 * h as f64);
            let ana = grads[k] as f64;
            assert!(
                (num - ana).abs() <= 2e-3 + 2e-2 * num.abs().max(ana.abs()),
                "param {k}: {num} vs {ana}"
            );
        }
    }
}
