//! Seeded, counter-based random streams and the Gaussian action sampler.
//!
//! Every sample `k` of iteration `i` of plan call `c` draws from its own stream, keyed by
//! `(seed, c, i, k)` and hashed with a SplitMix64 finalizer. No stream depends on which thread
//! draws it or in which order, so plans are bit-identical for any thread count.
//!
//! Noise can be white or colored over time (power spectral density `~ 1/f^beta`, as in iCEM):
//! colored noise is white noise passed through a fixed `(horizon, horizon)` circulant filter whose
//! rows have unit norm, so every time step keeps unit variance; `beta = 0` is the identity.

use crate::energy::clamp_action;
use crate::error::{PlanError, ensure};

/// Longest horizon for which colored noise is supported (it is filtered in a stack buffer).
pub const MAX_COLORED_HORIZON: usize = 256;

/// Identifies one batch of draws: everything but the sample index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoiseKey {
    /// User seed of the optimizer.
    pub seed: u64,
    /// Index of the plan call since the optimizer was built or reset.
    pub call: u64,
    /// Iteration within the call (optimizers may also use it as a purpose tag).
    pub iteration: u32,
}

/// A counter-based stream of uniform and normal variates.
#[derive(Debug, Clone)]
pub struct Stream {
    state: u64,
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Stream {
    /// The stream of sample `sample` under `key`.
    pub fn new(key: NoiseKey, sample: u64) -> Self {
        let mut s = mix(key.seed ^ 0x9e37_79b9_7f4a_7c15);
        s = mix(s ^ key.call.wrapping_mul(0xd6e8_feb8_6659_fd93));
        s = mix(s ^ (key.iteration as u64).wrapping_mul(0xa076_1d64_78bd_642f));
        s = mix(s ^ sample.wrapping_mul(0xe703_7ed1_a0b4_28db));
        Self { state: s }
    }

    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// Uniform in `(0, 1]`, 24 bits.
    #[inline]
    fn uniform_open0(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 + 1.0) * (1.0 / 16_777_216.0)
    }

    /// Fills `out` with independent standard normal variates (Box-Muller, two per draw).
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        let mut chunks = out.chunks_exact_mut(2);
        for pair in &mut chunks {
            let (a, b) = self.normal_pair();
            pair[0] = a;
            pair[1] = b;
        }
        if let [last] = chunks.into_remainder() {
            *last = self.normal_pair().0;
        }
    }

    #[inline]
    fn normal_pair(&mut self) -> (f32, f32) {
        let u1 = self.uniform_open0();
        let u2 = self.uniform_open0();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
        (r * c, r * s)
    }
}

/// Temporal filter turning white noise into `1/f^beta` noise (identity for `beta = 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct ColorFilter {
    horizon: usize,
    beta: f32,
    /// `(horizon, horizon)`, empty when white.
    matrix: Vec<f32>,
}

impl ColorFilter {
    /// White noise.
    pub fn white(horizon: usize) -> Self {
        Self {
            horizon,
            beta: 0.0,
            matrix: Vec::new(),
        }
    }

    /// Colored noise with exponent `beta` (0 white, 1 pink, 2 red/brown).
    pub fn new(horizon: usize, beta: f32) -> Result<Self, PlanError> {
        ensure(
            beta.is_finite() && (0.0..=4.0).contains(&beta),
            "noise_beta",
            || format!("must be in [0, 4], got {beta}"),
        )?;
        if beta == 0.0 {
            return Ok(Self::white(horizon));
        }
        ensure(horizon <= MAX_COLORED_HORIZON, "horizon", || {
            format!("colored noise supports at most {MAX_COLORED_HORIZON} steps, got {horizon}")
        })?;
        let h = horizon as f64;
        // Amplitude per rfft bin; the zero-frequency bin takes the lowest nonzero frequency's.
        let amp = |k: usize| ((k.max(1) as f64) / h).powf(-(beta as f64) / 2.0);
        let mut matrix = vec![0.0f32; horizon * horizon];
        for t in 0..horizon {
            let mut row = vec![0.0f64; horizon];
            for (s, v) in row.iter_mut().enumerate() {
                let lag = t as f64 - s as f64;
                for k in 0..=horizon / 2 {
                    let mult = if k == 0 || 2 * k == horizon { 1.0 } else { 2.0 };
                    *v += mult * amp(k) * (std::f64::consts::TAU * k as f64 * lag / h).cos() / h;
                }
            }
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            for (s, v) in row.iter().enumerate() {
                matrix[t * horizon + s] = (v / norm) as f32;
            }
        }
        Ok(Self {
            horizon,
            beta,
            matrix,
        })
    }

    /// The exponent.
    pub fn beta(&self) -> f32 {
        self.beta
    }

    /// Filters `noise` `(horizon, action_dim)` in place along time, per action dimension.
    pub fn apply(&self, noise: &mut [f32], action_dim: usize) {
        if self.matrix.is_empty() {
            return;
        }
        let h = self.horizon;
        let mut col = [0.0f32; MAX_COLORED_HORIZON];
        for j in 0..action_dim {
            for t in 0..h {
                col[t] = noise[t * action_dim + j];
            }
            for t in 0..h {
                let row = &self.matrix[t * h..(t + 1) * h];
                noise[t * action_dim + j] = row.iter().zip(&col[..h]).map(|(a, b)| a * b).sum();
            }
        }
    }
}

/// What to draw: `clamp(mean + std * noise)` per sample, leading `fixed` samples given.
#[derive(Debug, Clone, Copy)]
pub struct SampleRequest<'a> {
    /// `(horizon, action_dim)` sampling mean.
    pub mean: &'a [f32],
    /// `(horizon, action_dim)` sampling standard deviation.
    pub std: &'a [f32],
    /// Stream key of this batch.
    pub key: NoiseKey,
    /// Temporal noise filter.
    pub filter: &'a ColorFilter,
    /// Number of leading samples that are already in the action buffer and kept as they are.
    pub fixed: usize,
    /// Number of samples in the batch (`fixed` included).
    pub num_samples: usize,
}

/// Draws sample `k` of `req` into `out` `(horizon, action_dim)`, clamped to `[lower, upper]`.
pub fn draw_sample(
    req: &SampleRequest<'_>,
    k: usize,
    lower: &[f32],
    upper: &[f32],
    out: &mut [f32],
) {
    let action_dim = lower.len();
    Stream::new(req.key, k as u64).fill_normal(out);
    req.filter.apply(out, action_dim);
    for (((v, &m), &s), j) in out
        .iter_mut()
        .zip(req.mean)
        .zip(req.std)
        .zip((0..action_dim).cycle())
    {
        *v = clamp_action(m + s * *v, lower[j], upper[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_stream_has_unit_moments() {
        let mut s = Stream::new(
            NoiseKey {
                seed: 3,
                call: 0,
                iteration: 1,
            },
            5,
        );
        let mut v = vec![0.0f32; 200_001];
        s.fill_normal(&mut v);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn colored_filter_keeps_unit_variance_and_white_is_identity() {
        let f = ColorFilter::new(16, 2.0).expect("filter");
        for t in 0..16 {
            let n: f32 = f.matrix[t * 16..(t + 1) * 16].iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        let mut v = vec![1.0f32, 2.0, 3.0];
        ColorFilter::white(3).apply(&mut v, 1);
        assert_eq!(v, vec![1.0, 2.0, 3.0]);
    }
}
