//! Activation functions, their derivatives, and a fast vectorized `tanh`.
//!
//! The hot path of every planner is `tanh` applied to hidden layers. [`tanh_fast`] is a rational
//! approximation `x * P(x^2) / Q(x^2)` (numerator degree 11, denominator degree 6 in `x`), fitted
//! for this crate by iteratively reweighted least squares on `[0, 9]`; its maximum relative error,
//! evaluated in `f32` over `[-10, 10]`, is about 4e-7 (see the test `tanh_fast_is_accurate`).
//! Being branch-free it vectorizes: [`tanh_simd`] evaluates a whole SIMD register.

use pulp::Simd;
use serde::{Deserialize, Serialize};

/// Inputs are clamped to `[-TANH_CLAMP, TANH_CLAMP]`; `tanh(9)` rounds to 1 in `f32`.
const TANH_CLAMP: f32 = 9.0;
/// Numerator coefficients of `P(t)`, `t = x^2`, lowest degree first.
const TANH_P: [f32; 6] = [
    0.999_999_99,
    0.129_778_6,
    0.002_983_77,
    9.839_691e-6,
    -1.447_256_6e-8,
    2.248_624_3e-11,
];
/// Denominator coefficients of `Q(t)`, `t = x^2`, lowest degree first.
const TANH_Q: [f32; 4] = [1.0, 0.463_111_83, 0.024_021_218, 2.367_966e-4];

/// Element-wise nonlinearity applied after a hidden linear layer (and its optional LayerNorm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `y = x`.
    Identity,
    /// `y = tanh(x)`, evaluated with [`tanh_fast`].
    #[default]
    Tanh,
    /// `y = max(x, 0)`.
    Relu,
    /// `y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, PyTorch's `GELU(approximate="tanh")`.
    Gelu,
    /// `y = x * sigmoid(x)`.
    Silu,
}

const GELU_C: f32 = 0.797_884_6; // sqrt(2 / pi)
const GELU_K: f32 = 0.044_715;

impl Activation {
    /// Applies the activation to one value.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Tanh => tanh_fast(x),
            Activation::Relu => x.max(0.0),
            Activation::Gelu => 0.5 * x * (1.0 + tanh_fast(GELU_C * (x + GELU_K * x * x * x))),
            Activation::Silu => x / (1.0 + (-x).exp()),
        }
    }

    /// Derivative `dy/dx` at pre-activation `x`, given also the output `y = apply(x)`.
    pub fn derivative(self, x: f32, y: f32) -> f32 {
        match self {
            Activation::Identity => 1.0,
            Activation::Tanh => 1.0 - y * y,
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Gelu => {
                let inner = GELU_C * (x + GELU_K * x * x * x);
                let t = tanh_fast(inner);
                let dinner = GELU_C * (1.0 + 3.0 * GELU_K * x * x);
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner
            }
            Activation::Silu => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 + x * (1.0 - s))
            }
        }
    }

    /// Applies the activation in place to every element of `values` (any shape).
    pub fn apply_slice(self, values: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Tanh => pulp::Arch::new().dispatch(TanhSlice(values)),
            Activation::Gelu => pulp::Arch::new().dispatch(GeluSlice(values)),
            _ => values.iter_mut().for_each(|v| *v = self.apply(*v)),
        }
    }
}

/// Fast `tanh` for one value; maximum relative error about 4e-7 in `f32`.
#[inline]
pub fn tanh_fast(x: f32) -> f32 {
    let x = x.clamp(-TANH_CLAMP, TANH_CLAMP);
    let t = x * x;
    let p = TANH_P[5]
        .mul_add(t, TANH_P[4])
        .mul_add(t, TANH_P[3])
        .mul_add(t, TANH_P[2])
        .mul_add(t, TANH_P[1])
        .mul_add(t, TANH_P[0]);
    let q = TANH_Q[3]
        .mul_add(t, TANH_Q[2])
        .mul_add(t, TANH_Q[1])
        .mul_add(t, TANH_Q[0]);
    (x * p / q).clamp(-1.0, 1.0)
}

/// Fast `tanh` of every lane of a SIMD register (same formula as [`tanh_fast`]).
#[inline(always)]
pub fn tanh_simd<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let x = simd.min_f32s(
        simd.max_f32s(x, simd.splat_f32s(-TANH_CLAMP)),
        simd.splat_f32s(TANH_CLAMP),
    );
    let t = simd.mul_f32s(x, x);
    let mut p = simd.splat_f32s(TANH_P[5]);
    for c in [TANH_P[4], TANH_P[3], TANH_P[2], TANH_P[1], TANH_P[0]] {
        p = simd.mul_add_e_f32s(p, t, simd.splat_f32s(c));
    }
    let mut q = simd.splat_f32s(TANH_Q[3]);
    for c in [TANH_Q[2], TANH_Q[1], TANH_Q[0]] {
        q = simd.mul_add_e_f32s(q, t, simd.splat_f32s(c));
    }
    let y = simd.div_f32s(simd.mul_f32s(x, p), q);
    simd.min_f32s(
        simd.max_f32s(y, simd.splat_f32s(-1.0)),
        simd.splat_f32s(1.0),
    )
}

/// Applies [`tanh_simd`] to a slice under runtime ISA dispatch.
struct TanhSlice<'a>(&'a mut [f32]);

impl pulp::WithSimd for TanhSlice<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let (head, tail) = S::as_mut_simd_f32s(self.0);
        for v in head {
            *v = tanh_simd(simd, *v);
        }
        for v in tail {
            *v = tanh_fast(*v);
        }
    }
}

/// GELU (tanh approximation) over a slice, whole SIMD registers at a time:
/// `0.5 x (1 + tanh(x (c + c k x^2)))`, the same formula as [`Activation::apply`].
struct GeluSlice<'a>(&'a mut [f32]);

impl pulp::WithSimd for GeluSlice<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let (head, tail) = S::as_mut_simd_f32s(self.0);
        let c = simd.splat_f32s(GELU_C);
        let ck = simd.splat_f32s(GELU_C * GELU_K);
        let half = simd.splat_f32s(0.5);
        for v in head {
            let x = *v;
            let inner = simd.mul_f32s(x, simd.mul_add_e_f32s(simd.mul_f32s(x, x), ck, c));
            let t = tanh_simd(simd, inner);
            let hx = simd.mul_f32s(half, x);
            *v = simd.mul_add_e_f32s(hx, t, hx);
        }
        for v in tail {
            *v = Activation::Gelu.apply(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_fast_is_accurate() {
        let mut worst = 0.0f64;
        let n = 400_000;
        for i in 0..=n {
            let x = -10.0 + 20.0 * (i as f64) / (n as f64);
            let exact = (x).tanh();
            let got = tanh_fast(x as f32) as f64;
            if exact != 0.0 {
                worst = worst.max(((got - exact) / exact).abs());
            }
        }
        assert!(worst < 1e-6, "max relative error {worst:e}");
    }

    #[test]
    fn gelu_slice_matches_scalar() {
        let mut v: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.017).collect();
        let expected: Vec<f32> = v.iter().map(|&x| Activation::Gelu.apply(x)).collect();
        Activation::Gelu.apply_slice(&mut v);
        for (a, b) in v.iter().zip(&expected) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn tanh_simd_matches_scalar() {
        let mut v: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.023).collect();
        let expected: Vec<f32> = v.iter().map(|&x| tanh_fast(x)).collect();
        Activation::Tanh.apply_slice(&mut v);
        for (a, b) in v.iter().zip(&expected) {
            assert!((a - b).abs() <= 2e-7, "{a} vs {b}");
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for act in [
            Activation::Identity,
            Activation::Tanh,
            Activation::Relu,
            Activation::Gelu,
            Activation::Silu,
        ] {
            for &x in &[-2.3f32, -0.7, 0.31, 1.9] {
                let h = 1e-3f32;
                let fd = (act.apply(x + h) - act.apply(x - h)) / (2.0 * h);
                let an = act.derivative(x, act.apply(x));
                assert!((fd - an).abs() < 2e-3, "{act:?} at {x}: fd {fd} vs {an}");
            }
        }
    }
}
