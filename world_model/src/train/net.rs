//! A trainable MLP: forward pass with a cache, and a hand-written backward pass that accumulates
//! the gradients of every weight and returns the gradient with respect to the input.
//!
//! Same architecture as [`crate::mlp::Mlp`]: hidden layers are `Linear -> [LayerNorm] ->
//! activation`, the last layer is linear. Parameters live in a flat vector described by
//! [`crate::train::params::ParamLayout`].

use crate::activation::Activation;
use crate::mlp::{LAYER_NORM_EPS, MlpSpec};
use crate::train::matmul::{Rhs, matmul, matmul_tn_acc};
use crate::train::params::{LayerSlots, ParamLayout};

/// One MLP's view into a flat parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainMlp {
    /// Architecture.
    pub spec: MlpSpec,
    /// Positions of each layer's tensors.
    pub layers: Vec<LayerSlots>,
}

/// What one layer's forward pass keeps for the backward pass.
#[derive(Debug, Clone, Default)]
struct LayerCache {
    /// Layer input, `(rows, in)`.
    input: Vec<f32>,
    /// Linear output before LayerNorm, `(rows, out)`.
    pre: Vec<f32>,
    /// Normalized values `(pre - mean) * rstd`, `(rows, out)`; empty without LayerNorm.
    normed: Vec<f32>,
    /// `1 / sqrt(var + eps)` per row, `(rows,)`; empty without LayerNorm.
    rstd: Vec<f32>,
    /// Activation input (after LayerNorm), `(rows, out)`.
    act_in: Vec<f32>,
}

/// The forward cache of one MLP evaluation; reusable across calls.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    rows: usize,
    layers: Vec<LayerCache>,
    /// Network output, `(rows, output_dim)`.
    pub output: Vec<f32>,
}

impl TrainMlp {
    /// Adds an MLP's tensors to `layout` under `prefix` and returns its view.
    pub fn new(spec: MlpSpec, layout: &mut ParamLayout, prefix: &str) -> Self {
        let layers = layout.add_mlp(&spec, prefix);
        Self { spec, layers }
    }

    fn is_hidden(&self, i: usize) -> bool {
        i + 1 < self.layers.len()
    }

    /// Forward pass over `rows` inputs, keeping what [`TrainMlp::backward`] needs in `cache`.
    ///
    /// - `params`: the flat parameter vector
    /// - `x`: `(rows, input_dim)`
    pub fn forward(&self, params: &[f32], x: &[f32], rows: usize, cache: &mut Cache) {
        cache.rows = rows;
        cache
            .layers
            .resize_with(self.layers.len(), LayerCache::default);
        let mut input: Vec<f32> = x.to_vec();
        for (i, l) in self.layers.iter().enumerate() {
            let c = &mut cache.layers[i];
            let (din, dout) = (l.input, l.output);
            let w = &params[l.weight..l.weight + dout * din];
            let b = &params[l.bias..l.bias + dout];
            c.pre.resize(rows * dout, 0.0);
            matmul(&input, rows, din, Rhs::Transposed(w), dout, &mut c.pre);
            for r in 0..rows {
                for (v, bv) in c.pre[r * dout..(r + 1) * dout].iter_mut().zip(b) {
                    *v += bv;
                }
            }
            c.input = input;
            if !self.is_hidden(i) {
                cache.output.clone_from(&c.pre);
                return;
            }
            c.act_in.clone_from(&c.pre);
            if let Some((g, be)) = l.norm {
                let (gamma, beta) = (&params[g..g + dout], &params[be..be + dout]);
                c.normed.resize(rows * dout, 0.0);
                c.rstd.resize(rows, 0.0);
                for r in 0..rows {
                    let h = &c.pre[r * dout..(r + 1) * dout];
                    let mean = h.iter().sum::<f32>() / dout as f32;
                    let var = h.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / dout as f32;
                    let rstd = 1.0 / (var + LAYER_NORM_EPS).sqrt();
                    c.rstd[r] = rstd;
                    for j in 0..dout {
                        let n = (h[j] - mean) * rstd;
                        c.normed[r * dout + j] = n;
                        c.act_in[r * dout + j] = gamma[j] * n + beta[j];
                    }
                }
            }
            let act = self.spec.activation;
            input = c.act_in.iter().map(|&v| act.apply(v)).collect();
        }
    }

    /// Backward pass: given `g_out = dL/d(output)`, `(rows, output_dim)`, adds every parameter's
    /// gradient into `grads` (same layout as `params`) and, if `g_in` is given, writes
    /// `dL/dx`, `(rows, input_dim)`.
    pub fn backward(
        &self,
        params: &[f32],
        cache: &Cache,
        g_out: &[f32],
        grads: &mut [f32],
        g_in: Option<&mut [f32]>,
    ) {
        let rows = cache.rows;
        let act: Activation = self.spec.activation;
        let mut g: Vec<f32> = g_out.to_vec();
        let mut g_in = g_in;
        for (i, l) in self.layers.iter().enumerate().rev() {
            let c = &cache.layers[i];
            let (din, dout) = (l.input, l.output);
            if self.is_hidden(i) {
                // g is dL/d(activation output); through the activation:
                for (gv, &x) in g.iter_mut().zip(&c.act_in) {
                    *gv *= act.derivative(x, act.apply(x));
                }
                if let Some((gi, bi)) = l.norm {
                    let gamma = params[gi..gi + dout].to_vec();
                    for r in 0..rows {
                        let n = &c.normed[r * dout..(r + 1) * dout];
                        let gr = &mut g[r * dout..(r + 1) * dout];
                        let mut mean_gn = 0.0;
                        let mut mean_gnn = 0.0;
                        for j in 0..dout {
                            grads[gi + j] += gr[j] * n[j];
                            grads[bi + j] += gr[j];
                            let gn = gr[j] * gamma[j];
                            mean_gn += gn;
                            mean_gnn += gn * n[j];
                        }
                        mean_gn /= dout as f32;
                        mean_gnn /= dout as f32;
                        let rstd = c.rstd[r];
                        for j in 0..dout {
                            let gn = gr[j] * gamma[j];
                            gr[j] = rstd * (gn - mean_gn - n[j] * mean_gnn);
                        }
                    }
                }
            }
            // g is now dL/d(pre), (rows, dout).
            for r in 0..rows {
                for (gb, gv) in grads[l.bias..l.bias + dout]
                    .iter_mut()
                    .zip(&g[r * dout..(r + 1) * dout])
                {
                    *gb += gv;
                }
            }
            matmul_tn_acc(
                &g,
                &c.input,
                rows,
                dout,
                din,
                &mut grads[l.weight..l.weight + dout * din],
            );
            if i == 0 && g_in.is_none() {
                break;
            }
            let w = &params[l.weight..l.weight + dout * din];
            let mut gx = vec![0.0f32; rows * din];
            matmul(&g, rows, dout, Rhs::Plain(w), din, &mut gx);
            if i == 0 {
                if let Some(out) = g_in.take() {
                    out.copy_from_slice(&gx);
                }
                break;
            }
            g = gx;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Loss = sum(output * weights_out): its gradient w.r.t. the output is `weights_out`.
    fn loss(net: &TrainMlp, p: &[f32], x: &[f32], rows: usize, wo: &[f32]) -> f64 {
        let mut c = Cache::default();
        net.forward(p, x, rows, &mut c);
        c.output
            .iter()
            .zip(wo)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum()
    }

    fn check(activation: Activation, layer_norm: bool) {
        let spec = MlpSpec {
            input_dim: 5,
            hidden: vec![7, 6],
            output_dim: 3,
            activation,
            layer_norm,
        };
        let mut layout = ParamLayout::default();
        let net = TrainMlp::new(spec, &mut layout, "net.");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut p = layout.init(&mut rng);
        // Non-trivial LayerNorm parameters.
        for s in &layout.slots {
            if s.name.contains("norm") {
                for v in &mut p[s.range()] {
                    *v += rand::Rng::random_range(&mut rng, -0.3..0.3);
                }
            }
        }
        let rows = 4;
        let x: Vec<f32> = (0..rows * 5)
            .map(|i| ((i * 37 % 17) as f32 - 8.0) / 5.0)
            .collect();
        let wo: Vec<f32> = (0..rows * 3)
            .map(|i| ((i * 11 % 7) as f32 - 3.0) / 2.0)
            .collect();
        let mut c = Cache::default();
        net.forward(&p, &x, rows, &mut c);
        let mut grads = vec![0.0; layout.len()];
        let mut gx = vec![0.0; rows * 5];
        net.backward(&p, &c, &wo, &mut grads, Some(&mut gx));
        let h = if activation == Activation::Relu {
            2e-3f32
        } else {
            1e-2
        };
        let tol = |num: f64, ana: f64| (num - ana).abs() <= 2e-3 + 2e-2 * num.abs().max(ana.abs());
        let center = loss(&net, &p, &x, rows, &wo);
        // A ReLU kink between x - h and x + h makes the central difference meaningless; such
        // points show as one-sided slopes that disagree, and are skipped.
        let kink = |up: f64, down: f64| {
            let (a, b) = ((up - center) / h as f64, (center - down) / h as f64);
            activation == Activation::Relu && (a - b).abs() > 2e-3 * (1.0 + a.abs())
        };
        let mut checked = 0;
        for k in 0..layout.len() {
            let mut pp = p.clone();
            pp[k] += h;
            let up = loss(&net, &pp, &x, rows, &wo);
            pp[k] -= 2.0 * h;
            let down = loss(&net, &pp, &x, rows, &wo);
            let num = (up - down) / (2.0 * h as f64);
            if kink(up, down) {
                continue;
            }
            checked += 1;
            assert!(
                tol(num, grads[k] as f64),
                "{activation:?} ln={layer_norm} param {k}: {num} vs {}",
                grads[k]
            );
        }
        assert!(
            checked > layout.len() * 3 / 4,
            "only {checked} parameters checked"
        );
        for k in 0..x.len() {
            let mut xx = x.clone();
            xx[k] += h;
            let up = loss(&net, &p, &xx, rows, &wo);
            xx[k] -= 2.0 * h;
            let down = loss(&net, &p, &xx, rows, &wo);
            let num = (up - down) / (2.0 * h as f64);
            if kink(up, down) {
                continue;
            }
            assert!(
                tol(num, gx[k] as f64),
                "{activation:?} input {k}: {num} vs {}",
                gx[k]
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences_for_every_activation() {
        for act in [
            Activation::Tanh,
            Activation::Gelu,
            Activation::Relu,
            Activation::Silu,
            Activation::Identity,
        ] {
            check(act, false);
        }
    }

    #[test]
    fn layer_norm_gradients_match_finite_differences() {
        check(Activation::Tanh, true);
        check(Activation::Gelu, true);
    }

    #[test]
    fn forward_matches_the_inference_mlp() {
        use crate::mlp::{LayerNormParams, Linear, Mlp};
        let spec = MlpSpec {
            input_dim: 6,
            hidden: vec![9],
            output_dim: 4,
            activation: Activation::Tanh,
            layer_norm: true,
        };
        let mut layout = ParamLayout::default();
        let net = TrainMlp::new(spec.clone(), &mut layout, "m.");
        let p = layout.init(&mut ChaCha8Rng::seed_from_u64(1));
        let get = |n: &str| p[layout.slot(n).unwrap().range()].to_vec();
        let mlp = Mlp::new(
            spec,
            vec![
                Linear::new(get("m.0.weight"), get("m.0.bias"), 6, 9).unwrap(),
                Linear::new(get("m.1.weight"), get("m.1.bias"), 9, 4).unwrap(),
            ],
            vec![LayerNormParams {
                gamma: get("m.0.norm.weight"),
                beta: get("m.0.norm.bias"),
            }],
        )
        .unwrap();
        let x: Vec<f32> = (0..3 * 6).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut c = Cache::default();
        net.forward(&p, &x, 3, &mut c);
        let mut ws = mlp.workspace();
        let stride = mlp.input_stride();
        for r in 0..3 {
            ws.input_mut()[r * stride..r * stride + 6].copy_from_slice(&x[r * 6..(r + 1) * 6]);
        }
        let out = mlp.forward_block(3, &mut ws, None).to_vec();
        let os = mlp.block_stride();
        for r in 0..3 {
            for j in 0..4 {
                let (a, b) = (c.output[r * 4 + j], out[r * os + j]);
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }
}
