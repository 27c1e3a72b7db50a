//! A convolutional stem for observations that start with a one-channel image (the `depth` mode:
//! a `height x width` depth image, row-major, then proprioceptive floats).
//!
//! The stem normalizes the whole observation per dimension (`(obs - mean) / std`), runs the image
//! through 3x3 convolutions with stride 2 and padding 1, each followed by the activation, and
//! hands the encoder MLP `concat(features, rest)`: the last convolution's output flattened in
//! `(y, x, channel)` order, then the normalized floats after the image. Activations are stored
//! channel-last, `(rows, h, w, channels)`; weights are PyTorch `nn.Conv2d` tensors
//! `(out, in, 3, 3)`. A convolution is an im2col gather plus one packed matrix product
//! ([`crate::packed`]), the same kernel as the linear layers.
//!
//! [`ConvGeom`], `im2col` and `col2im_add` are shared with training
//! (`crate::train::conv`), so inference and training compute the same function.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::{ModelError, check_len};
use crate::packed::{Epilogue, MAX_MR, PackedMatrix, Product, padded};

/// Kernel height and width of every convolution.
pub const KERNEL: usize = 3;
/// Stride of every convolution.
pub const STRIDE: usize = 2;
/// Zero padding on every side.
pub const PAD: usize = 1;

/// Architecture of a convolutional stem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    /// `[height, width]` of the one-channel image at the start of each observation.
    pub image: [usize; 2],
    /// Output channels of each convolution, first to last; at least one.
    pub channels: Vec<usize>,
    /// Activation after every convolution.
    pub activation: Activation,
}

impl ConvSpec {
    /// Checks the widths and that the image fits in an observation of `obs_dim` floats.
    pub fn validate(&self, obs_dim: usize) -> Result<(), ModelError> {
        let [h, w] = self.image;
        if h == 0 || w == 0 {
            return Err(ModelError::InvalidSpec(format!(
                "conv image {h}x{w} is empty: give its [height, width] (model.conv_image)"
            )));
        }
        if h * w > obs_dim {
            return Err(ModelError::InvalidSpec(format!(
                "conv image {h}x{w} does not fit in an observation of {obs_dim} floats"
            )));
        }
        if self.channels.is_empty() {
            return Err(ModelError::InvalidSpec(
                "a conv stem needs at least one convolution".into(),
            ));
        }
        if let Some(i) = self.channels.iter().position(|&c| c == 0) {
            return Err(ModelError::InvalidSpec(format!(
                "conv channels[{i}] must be at least 1, got 0"
            )));
        }
        Ok(())
    }

    /// Geometry of every convolution, first to last.
    pub fn geoms(&self) -> Vec<ConvGeom> {
        let [mut h, mut w] = self.image;
        let mut cin = 1;
        self.channels
            .iter()
            .map(|&cout| {
                let g = ConvGeom { h, w, cin, cout };
                (h, w, cin) = (g.ho(), g.wo(), cout);
                g
            })
            .collect()
    }

    /// Floats of the flattened features of the last convolution.
    pub fn feature_dim(&self) -> usize {
        self.geoms().last().map_or(0, ConvGeom::out_len)
    }

    /// Pixels of the image (the first floats of an observation).
    pub fn pixels(&self) -> usize {
        self.image[0] * self.image[1]
    }

    /// Width of the encoder MLP's input for observations of `obs_dim` floats.
    pub fn mlp_input_dim(&self, obs_dim: usize) -> usize {
        self.feature_dim() + obs_dim - self.pixels()
    }
}

/// Geometry of one convolution over channel-last images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
}

impl ConvGeom {
    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + 2 * PAD - KERNEL) / STRIDE + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + 2 * PAD - KERNEL) / STRIDE + 1
    }

    /// Output positions per image.
    pub fn positions(&self) -> usize {
        self.ho() * self.wo()
    }

    /// Floats of one patch, `(cin, 3, 3)` order (a row of the PyTorch weight).
    pub fn patch(&self) -> usize {
        self.cin * KERNEL * KERNEL
    }

    /// Floats of one input image.
    pub fn in_len(&self) -> usize {
        self.h * self.w * self.cin
    }

    /// Floats of one output image.
    pub fn out_len(&self) -> usize {
        self.positions() * self.cout
    }

    /// The input index `(y, x)` read by output `(oy, ox)` at kernel offset `(ky, kx)`, if it is
    /// inside the image (outside is zero padding).
    fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let y = (oy * STRIDE + ky).checked_sub(PAD)?;
        let x = (ox * STRIDE + kx).checked_sub(PAD)?;
        (y < self.h && x < self.w).then_some((y, x))
    }
}

/// Gathers every patch: `cols (rows * positions, patch)` from `x (rows, h, w, cin)`, in
/// `(cin, ky, kx)` order, zeros where a patch overhangs the image.
pub(crate) fn im2col(x: &[f32], rows: usize, g: &ConvGeom, cols: &mut [f32]) {
    let (pos, patch) = (g.positions(), g.patch());
    debug_assert_eq!(x.len(), rows * g.in_len());
    debug_assert_eq!(cols.len(), rows * pos * patch);
    for r in 0..rows {
        let img = &x[r * g.in_len()..(r + 1) * g.in_len()];
        for oy in 0..g.ho() {
            for ox in 0..g.wo() {
                let row = &mut cols[((r * pos) + oy * g.wo() + ox) * patch..][..patch];
                for ky in 0..KERNEL {
                    for kx in 0..KERNEL {
                        let src = g.source(oy, ox, ky, kx);
                        for c in 0..g.cin {
                            row[(c * KERNEL + ky) * KERNEL + kx] =
                                src.map_or(0.0, |(y, xx)| img[(y * g.w + xx) * g.cin + c]);
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds each patch gradient of `g_cols (rows * positions, patch)`
/// back onto `g_x (rows, h, w, cin)`.
pub(crate) fn col2im_add(g_cols: &[f32], rows: usize, g: &ConvGeom, g_x: &mut [f32]) {
    let (pos, patch) = (g.positions(), g.patch());
    debug_assert_eq!(g_x.len(), rows * g.in_len());
    debug_assert_eq!(g_cols.len(), rows * pos * patch);
    for r in 0..rows {
        let img = &mut g_x[r * g.in_len()..(r + 1) * g.in_len()];
        for oy in 0..g.ho() {
            for ox in 0..g.wo() {
                let row = &g_cols[((r * pos) + oy * g.wo() + ox) * patch..][..patch];
                for ky in 0..KERNEL {
                    for kx in 0..KERNEL {
                        if let Some((y, xx)) = g.source(oy, ox, ky, kx) {
                            for c in 0..g.cin {
                                img[(y * g.w + xx) * g.cin + c] +=
                                    row[(c * KERNEL + ky) * KERNEL + kx];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Weights of one convolution plus their packed form.
#[derive(Debug, Clone, PartialEq)]
struct ConvLayer {
    geom: ConvGeom,
    packed: PackedMatrix,
    bias_padded: Vec<f32>,
}

/// An inference conv stem (normalization included); see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvStem {
    spec: ConvSpec,
    /// `(obs_dim,)` normalizer mean; its length is the observation width.
    mean: Vec<f32>,
    /// `(obs_dim,)` `1 / std` of the normalizer.
    inv_std: Vec<f32>,
    layers: Vec<ConvLayer>,
}

/// Scratch of one thread running a [`ConvStem`]; grows to the largest batch seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConvWorkspace {
    /// Normalized images, then each layer's activations, `(rows, h, w, c)`.
    acts: [Vec<f32>; 2],
    /// `(rows * positions, patch)`.
    cols: Vec<f32>,
    /// `(rows * positions, padded(cout))`.
    wide: Vec<f32>,
    scratch: Vec<f32>,
}

impl ConvStem {
    /// Builds a stem from `(weight (cout, cin, 3, 3), bias (cout,))` per convolution and the
    /// per-dimension normalization of observations of `obs_dim = mean.len()` floats.
    pub fn new(
        spec: ConvSpec,
        weights: Vec<(Vec<f32>, Vec<f32>)>,
        mean: Vec<f32>,
        std: Vec<f32>,
    ) -> Result<Self, ModelError> {
        let obs_dim = mean.len();
        spec.validate(obs_dim)?;
        check_len("normalizer std", std.len(), obs_dim)?;
        if let Some(i) = std.iter().position(|&s| s.is_nan() || s <= 0.0) {
            return Err(ModelError::InvalidSpec(format!(
                "normalizer std[{i}] = {} is not positive",
                std[i]
            )));
        }
        let geoms = spec.geoms();
        if weights.len() != geoms.len() {
            return Err(ModelError::InvalidSpec(format!(
                "expected {} convolutions, got {}",
                geoms.len(),
                weights.len()
            )));
        }
        let mut layers = Vec::new();
        for (g, (w, b)) in geoms.into_iter().zip(weights) {
            check_len("conv weight", w.len(), g.cout * g.patch())?;
            check_len("conv bias", b.len(), g.cout)?;
            let mut bias_padded = b;
            bias_padded.resize(padded(g.cout), 0.0);
            layers.push(ConvLayer {
                geom: g,
                packed: PackedMatrix::from_transposed(&w, g.cout, g.patch()),
                bias_padded,
            });
        }
        Ok(Self {
            spec,
            inv_std: std.iter().map(|s| 1.0 / s).collect(),
            mean,
            layers,
        })
    }

    /// Architecture.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// Floats per observation.
    pub fn obs_dim(&self) -> usize {
        self.mean.len()
    }

    /// Width of what [`ConvStem::forward`] writes per row.
    pub fn output_dim(&self) -> usize {
        self.spec.mlp_input_dim(self.obs_dim())
    }

    /// Runs the stem on `obs (rows, obs_dim)` and writes each row's MLP input,
    /// `(features, normalized rest)`, into `out (rows, out_stride)`; the caller checks the lengths
    /// (`MlpWorldModel::encode` does).
    pub(crate) fn forward(
        &self,
        obs: &[f32],
        rows: usize,
        out: &mut [f32],
        out_stride: usize,
        ws: &mut ConvWorkspace,
    ) {
        let (od, px) = (self.obs_dim(), self.spec.pixels());
        debug_assert_eq!(obs.len(), rows * od);
        let feat = self.spec.feature_dim();
        let [a, b] = &mut ws.acts;
        a.resize(rows * px, 0.0);
        for r in 0..rows {
            let o = &obs[r * od..(r + 1) * od];
            for (j, v) in o.iter().enumerate() {
                let n = (v - self.mean[j]) * self.inv_std[j];
                if j < px {
                    a[r * px + j] = n;
                } else {
                    out[r * out_stride + feat + j - px] = n;
                }
            }
        }
        let (mut src, mut dst) = (a, b);
        for l in &self.layers {
            let g = &l.geom;
            let m = rows * g.positions();
            ws.cols.resize(m * g.patch(), 0.0);
            im2col(src, rows, g, &mut ws.cols);
            let np = padded(g.cout);
            ws.wide.resize(m * np, 0.0);
            ws.scratch.resize(MAX_MR * g.patch(), 0.0);
            Product {
                x: &ws.cols,
                x_stride: g.patch(),
                rows: m,
                b: &l.packed,
                bias: &l.bias_padded,
                epilogue: Epilogue::Linear,
                out: &mut ws.wide,
                out_stride: np,
                out_offset: 0,
                scratch: &mut ws.scratch,
            }
            .run();
            dst.resize(m * g.cout, 0.0);
            for p in 0..m {
                dst[p * g.cout..(p + 1) * g.cout]
                    .copy_from_slice(&ws.wide[p * np..p * np + g.cout]);
            }
            self.spec.activation.apply_slice(dst);
            std::mem::swap(&mut src, &mut dst);
        }
        for r in 0..rows {
            out[r * out_stride..r * out_stride + feat]
                .copy_from_slice(&src[r * feat..(r + 1) * feat]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct convolution, `(rows, h, w, cin)` -> `(rows, ho, wo, cout)`, no activation.
    fn naive(x: &[f32], rows: usize, g: &ConvGeom, w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; rows * g.out_len()];
        for r in 0..rows {
            for oy in 0..g.ho() {
                for ox in 0..g.wo() {
                    for o in 0..g.cout {
                        let mut s = b[o];
                        for c in 0..g.cin {
                            for ky in 0..KERNEL {
                                for kx in 0..KERNEL {
                                    let (y, xx) = (
                                        (oy * STRIDE + ky) as isize - PAD as isize,
                                        (ox * STRIDE + kx) as isize - PAD as isize,
                                    );
                                    if y < 0 || xx < 0 || y >= g.h as isize || xx >= g.w as isize {
                                        continue;
                                    }
                                    let v = x[r * g.in_len()
                                        + (y as usize * g.w + xx as usize) * g.cin
                                        + c];
                                    s += v * w[o * g.patch() + (c * KERNEL + ky) * KERNEL + kx];
                                }
                            }
                        }
                        out[r * g.out_len() + (oy * g.wo() + ox) * g.cout + o] = s;
                    }
                }
            }
        }
        out
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 31 + seed * 17) % 23) as f32 - 11.0) / 7.0)
            .collect()
    }

    #[test]
    fn output_sizes_round_up_odd_images() {
        let spec = ConvSpec {
            image: [7, 32],
            channels: vec![4, 8],
            activation: Activation::Gelu,
        };
        let g = spec.geoms();
        assert_eq!((g[0].ho(), g[0].wo(), g[1].ho(), g[1].wo()), (4, 16, 2, 8));
        assert_eq!(g[1].cin, 4);
        assert_eq!(spec.feature_dim(), 2 * 8 * 8);
        assert_eq!(spec.mlp_input_dim(7 * 32 + 5), 128 + 5);
        assert!(spec.validate(7 * 32 - 1).is_err());
        let empty = ConvSpec {
            image: [0, 32],
            ..spec
        };
        assert!(
            empty
                .validate(100)
                .unwrap_err()
                .to_string()
                .contains("conv_image")
        );
    }

    #[test]
    fn the_stem_matches_a_direct_convolution() {
        let spec = ConvSpec {
            image: [5, 6],
            channels: vec![3, 2],
            activation: Activation::Tanh,
        };
        let od = 30 + 2;
        let rows = 3;
        let geoms = spec.geoms();
        let weights: Vec<(Vec<f32>, Vec<f32>)> = geoms
            .iter()
            .enumerate()
            .map(|(i, g)| (values(g.cout * g.patch(), i), values(g.cout, i + 5)))
            .collect();
        let mean = values(od, 9);
        let std: Vec<f32> = values(od, 4).iter().map(|v| 0.5 + v.abs()).collect();
        let stem = ConvStem::new(spec.clone(), weights.clone(), mean.clone(), std.clone()).unwrap();
        let obs = values(rows * od, 2);
        let stride = stem.output_dim() + 3;
        let mut out = vec![f32::NAN; rows * stride];
        stem.forward(&obs, rows, &mut out, stride, &mut ConvWorkspace::default());

        let norm: Vec<f32> = obs
            .iter()
            .enumerate()
            .map(|(i, v)| (v - mean[i % od]) / std[i % od])
            .collect();
        let mut x: Vec<f32> = (0..rows)
            .flat_map(|r| norm[r * od..r * od + 30].to_vec())
            .collect();
        for (g, (w, b)) in geoms.iter().zip(&weights) {
            x = naive(&x, rows, g, w, b);
            x.iter_mut().for_each(|v| *v = v.tanh());
        }
        let feat = spec.feature_dim();
        for r in 0..rows {
            for j in 0..feat {
                let (a, b) = (out[r * stride + j], x[r * feat + j]);
                assert!((a - b).abs() < 1e-4, "row {r} feature {j}: {a} vs {b}");
            }
            for j in 0..2 {
                let (a, b) = (out[r * stride + feat + j], norm[r * od + 30 + j]);
                assert!(
                    (a - b).abs() < 1e-5 * (1.0 + b.abs()),
                    "row {r} rest {j}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for any x and c.
        let g = ConvGeom {
            h: 5,
            w: 4,
            cin: 2,
            cout: 1,
        };
        let rows = 2;
        let x = values(rows * g.in_len(), 1);
        let c = values(rows * g.positions() * g.patch(), 3);
        let mut cols = vec![0.0; c.len()];
        im2col(&x, rows, &g, &mut cols);
        let mut gx = vec![0.0; x.len()];
        col2im_add(&c, rows, &g, &mut gx);
        let lhs: f32 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&gx).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-3 * (1.0 + lhs.abs()),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn a_model_with_a_stem_reads_whole_observations_and_checks_the_mlp_width() {
        use crate::mlp::{Linear, Mlp, MlpSpec};
        use crate::model::MlpWorldModel;
        use crate::seam::WorldModel;
        let linear = |din: usize, dout: usize| {
            let spec = MlpSpec {
                input_dim: din,
                hidden: vec![],
                output_dim: dout,
                activation: Activation::Tanh,
                layer_norm: false,
            };
            let l = Linear::new(values(din * dout, din), vec![0.1; dout], din, dout).unwrap();
            Mlp::new(spec, vec![l], vec![]).unwrap()
        };
        // A 4x4 image and 3 more floats: 4x4 -> 2x2x2 = 8 features, MLP input 11.
        let spec = ConvSpec {
            image: [4, 4],
            channels: vec![2],
            activation: Activation::Relu,
        };
        let stem = || {
            ConvStem::new(
                spec.clone(),
                vec![(values(2 * 9, 1), vec![0.0, 0.5])],
                vec![0.0; 19],
                vec![1.0; 19],
            )
            .unwrap()
        };
        let err = MlpWorldModel::with_conv_stem(stem(), linear(10, 5), linear(7, 5), 5, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("outputs 11") && err.contains("reads 10"),
            "{err}"
        );
        let m = MlpWorldModel::with_conv_stem(stem(), linear(11, 5), linear(7, 5), 5, 2).unwrap();
        assert_eq!(m.dims().obs_dim, 19);
        let mut ws = m.workspace(2);
        let obs = values(2 * 19, 6);
        let mut z = vec![0.0; 2 * 5];
        m.encode(&obs, &mut z, &mut ws).unwrap();
        assert!(z.iter().all(|v| v.is_finite()));
        assert!(m.encode(&obs[..18], &mut z[..5], &mut ws).is_err());
    }
}
