//! Packed matrix products: the compute kernel under every layer.
//!
//! A right-hand matrix `B (k, n)` is packed once, when the model is built, into column panels of
//! [`PANEL`] floats: `(num_panels, k, PANEL)`, zero-padded past `n`. A product `X (rows, k) · B`
//! then walks row tiles of `MR` rows: the tile is transposed into a small `(k, MR)` buffer that
//! stays in L1, and a register-blocked micro-kernel accumulates `MR x (NV * lanes)` outputs with
//! fused multiply-adds, broadcasting one `X` value against `NV` vectors of `B` per step. Bias and
//! the activation are applied to the accumulators while they are still in registers, so a layer
//! makes one pass over its output. The ISA (AVX-512, AVX2+FMA, scalar) is chosen at run time by
//! `pulp`; the crate itself contains no `unsafe`.

use crate::activation::tanh_simd;
use pulp::Simd;

/// Width of one packed column panel, in floats.
pub const PANEL: usize = 32;
/// Largest row tile of any micro-kernel variant; scratch for packed `X` tiles is sized for it.
pub const MAX_MR: usize = 8;

/// Rounds `n` up to a whole number of panels.
pub fn padded(n: usize) -> usize {
    n.div_ceil(PANEL) * PANEL
}

/// What the kernel does to each output before storing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// Store `x · B + bias`.
    Linear,
    /// Store `tanh(x · B + bias)`.
    Tanh,
    /// Store `max(x · B + bias, 0)`.
    Relu,
}

/// A matrix `B (k, n)` packed into column panels `(num_panels, k, PANEL)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedMatrix {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl PackedMatrix {
    /// Packs `b`, shape `(k, n)` row-major.
    pub fn from_row_major(b: &[f32], k: usize, n: usize) -> Self {
        Self::pack(k, n, |kk, j| b[kk * n + j])
    }

    /// Packs the transpose of `w`, shape `(n, k)` row-major (a PyTorch `nn.Linear` weight
    /// `[out, in]` becomes `B = W^T` with `k = in`, `n = out`).
    pub fn from_transposed(w: &[f32], n: usize, k: usize) -> Self {
        Self::pack(k, n, |kk, j| w[j * k + kk])
    }

    fn pack(k: usize, n: usize, at: impl Fn(usize, usize) -> f32) -> Self {
        let panels = padded(n) / PANEL;
        let mut data = vec![0.0; panels * k * PANEL];
        for p in 0..panels {
            for kk in 0..k {
                for c in 0..PANEL {
                    let j = p * PANEL + c;
                    if j < n {
                        data[(p * k + kk) * PANEL + c] = at(kk, j);
                    }
                }
            }
        }
        Self { k, n, data }
    }

    /// Inner dimension `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of (unpadded) output columns `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of output columns written by a product, `n` rounded up to whole panels.
    pub fn n_padded(&self) -> usize {
        padded(self.n)
    }
}

/// Arguments of one product `out = epilogue(x · B + bias)`.
pub struct Product<'a> {
    /// `(rows, x_stride)`; the first `b.k()` columns are read.
    pub x: &'a [f32],
    /// Row stride of `x`, at least `b.k()`.
    pub x_stride: usize,
    /// Number of rows to compute.
    pub rows: usize,
    /// Packed right-hand matrix.
    pub b: &'a PackedMatrix,
    /// `(n_padded,)` bias, or empty for none.
    pub bias: &'a [f32],
    /// Operation applied before storing.
    pub epilogue: Epilogue,
    /// `(rows, out_stride)`; columns `out_offset .. out_offset + n_padded` are written.
    pub out: &'a mut [f32],
    /// Row stride of `out`.
    pub out_stride: usize,
    /// First column of `out` written.
    pub out_offset: usize,
    /// Scratch of at least `MAX_MR * b.k()` floats for one transposed row tile.
    pub scratch: &'a mut [f32],
}

impl Product<'_> {
    /// Runs the product on the best instruction set of this CPU.
    pub fn run(self) {
        pulp::Arch::new().dispatch(self);
    }
}

impl pulp::WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        match S::F32_LANES {
            16 => tiles::<S, 8, 2>(simd, self),
            8 => tiles::<S, 6, 2>(simd, self),
            4 => tiles::<S, 4, 2>(simd, self),
            _ => tiles::<S, 4, 8>(simd, self),
        }
    }
}

#[inline(always)]
fn tiles<S: Simd, const MR: usize, const NV: usize>(simd: S, p: Product<'_>) {
    let lanes = S::F32_LANES;
    let width = NV * lanes;
    debug_assert!(PANEL.is_multiple_of(width) && MR <= MAX_MR);
    let k = p.b.k;
    let n_pad = p.b.n_padded();
    let zero = [0.0f32; PANEL];
    let apack = &mut p.scratch[..k * MR];
    let mut row0 = 0;
    while row0 < p.rows {
        let valid = MR.min(p.rows - row0);
        if valid <= SINGLE_ROW_TAIL {
            for r in row0..p.rows {
                let x = &p.x[r * p.x_stride..][..k];
                let start = r * p.out_stride + p.out_offset;
                let out = &mut p.out[start..start + n_pad];
                let row = OneRow {
                    x,
                    b: p.b,
                    bias: p.bias,
                    epilogue: p.epilogue,
                };
                single_row::<S>(simd, &row, out);
            }
            break;
        }
        // Transpose the row tile to (k, MR) so the inner loop reads it sequentially; rows past
        // the end are zero and their results are not stored.
        for r in 0..MR {
            if r < valid {
                let src = &p.x[(row0 + r) * p.x_stride..][..k];
                for (kk, &v) in src.iter().enumerate() {
                    apack[kk * MR + r] = v;
                }
            } else {
                for kk in 0..k {
                    apack[kk * MR + r] = 0.0;
                }
            }
        }
        for (panel_idx, panel) in p.b.data.chunks_exact(k * PANEL).enumerate() {
            let col_panel = panel_idx * PANEL;
            let bias_panel: &[f32] = if p.bias.is_empty() {
                &zero
            } else {
                &p.bias[col_panel..col_panel + PANEL]
            };
            for col_off in (0..PANEL).step_by(width) {
                let (bias_v, _) = S::as_simd_f32s(&bias_panel[col_off..col_off + width]);
                // No closures in this function: they would not inherit the dispatched target
                // features, and the SIMD intrinsics inside them would not be inlined.
                let mut init = [simd.splat_f32s(0.0); NV];
                init.copy_from_slice(&bias_v[..NV]);
                let mut acc = micro::<S, MR, NV>(simd, apack, panel, col_off, init);
                match p.epilogue {
                    Epilogue::Linear => {}
                    Epilogue::Tanh => {
                        for row in acc.iter_mut() {
                            for v in row.iter_mut() {
                                *v = tanh_simd(simd, *v);
                            }
                        }
                    }
                    Epilogue::Relu => {
                        for row in acc.iter_mut() {
                            for v in row.iter_mut() {
                                *v = simd.max_f32s(*v, simd.splat_f32s(0.0));
                            }
                        }
                    }
                }
                for (r, acc_row) in acc.iter().enumerate().take(valid) {
                    let start = (row0 + r) * p.out_stride + p.out_offset + col_panel + col_off;
                    let (dst, _) = S::as_mut_simd_f32s(&mut p.out[start..start + width]);
                    for (d, v) in dst.iter_mut().zip(acc_row) {
                        *d = *v;
                    }
                }
            }
        }
        row0 += MR;
    }
    debug_assert!(n_pad <= p.out_stride);
}

/// Tails of at most this many rows go through [`single_row`], one row at a time: a row tile
/// computes all `MR` rows whatever the number of valid ones, so one row (a gradient start per
/// thread, one encoding) would cost as much as `MR`.
const SINGLE_ROW_TAIL: usize = 2;

/// One row of a product: `out (n_padded,) = epilogue(x (k,) · b + bias)`, eight vectors of
/// outputs at a time (enough independent FMA chains to hide their latency), then four, then one.
/// Every output is `bias + sum_k x[k] * B[k, j]`, accumulated with one FMA per `k` in ascending
/// `k` from the bias, exactly as in [`micro`], so a row's result is bit-identical whichever
/// kernel computes it (rollouts are bit-identical for any split of a batch over threads).
#[inline(always)]
fn single_row<S: Simd>(simd: S, row: &OneRow<'_>, out: &mut [f32]) {
    let lanes = S::F32_LANES;
    let n_pad = row.b.n_padded();
    let mut col0 = 0;
    while col0 + 8 * lanes <= n_pad {
        row_chunk::<S, 8>(simd, row, out, col0);
        col0 += 8 * lanes;
    }
    while col0 + 4 * lanes <= n_pad {
        row_chunk::<S, 4>(simd, row, out, col0);
        col0 += 4 * lanes;
    }
    while col0 < n_pad {
        row_chunk::<S, 1>(simd, row, out, col0);
        col0 += lanes;
    }
}

/// The inputs of [`single_row`].
struct OneRow<'a> {
    /// `(k,)`.
    x: &'a [f32],
    b: &'a PackedMatrix,
    /// `(n_padded,)` or empty.
    bias: &'a [f32],
    epilogue: Epilogue,
}

/// `NV` vectors of outputs of one row, from column `col0` (a multiple of the lane count, so no
/// vector straddles two panels).
#[inline(always)]
fn row_chunk<S: Simd, const NV: usize>(simd: S, row: &OneRow<'_>, out: &mut [f32], col0: usize) {
    let OneRow {
        x,
        b,
        bias,
        epilogue,
    } = *row;
    let (lanes, k) = (S::F32_LANES, b.k);
    let mut acc = [simd.splat_f32s(0.0); NV];
    // Offset of each vector's first value in the packed data, at k = 0.
    let mut base = [0usize; NV];
    for (v, (a, off)) in acc.iter_mut().zip(&mut base).enumerate() {
        let j = col0 + v * lanes;
        *off = (j / PANEL) * k * PANEL + j % PANEL;
        if !bias.is_empty() {
            *a = S::as_simd_f32s(&bias[j..j + lanes]).0[0];
        }
    }
    for (kk, &xv) in x.iter().enumerate() {
        let xs = simd.splat_f32s(xv);
        let k_off = kk * PANEL;
        for (a, &off) in acc.iter_mut().zip(&base) {
            let bv = &b.data[off + k_off..][..lanes];
            *a = simd.mul_add_e_f32s(xs, S::as_simd_f32s(bv).0[0], *a);
        }
    }
    for (v, &a) in acc.iter().enumerate() {
        let r = match epilogue {
            Epilogue::Linear => a,
            Epilogue::Tanh => tanh_simd(simd, a),
            Epilogue::Relu => simd.max_f32s(a, simd.splat_f32s(0.0)),
        };
        let start = col0 + v * lanes;
        S::as_mut_simd_f32s(&mut out[start..start + lanes]).0[0] = r;
    }
}

/// The register-blocked inner loop: `MR` rows times `NV` vectors, over the whole `k`.
#[inline(always)]
fn micro<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    apack: &[f32],
    panel: &[f32],
    col_off: usize,
    init: [S::f32s; NV],
) -> [[S::f32s; NV]; MR] {
    let width = NV * S::F32_LANES;
    let mut acc = [init; MR];
    for (a, b) in apack.chunks_exact(MR).zip(panel.chunks_exact(PANEL)) {
        let (bv, _) = S::as_simd_f32s(&b[col_off..col_off + width]);
        let mut b_regs = [simd.splat_f32s(0.0); NV];
        b_regs.copy_from_slice(&bv[..NV]);
        for r in 0..MR {
            let ar = simd.splat_f32s(a[r]);
            for j in 0..NV {
                acc[r][j] = simd.mul_add_e_f32s(ar, b_regs[j], acc[r][j]);
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], rows: usize, k: usize, b: &[f32], n: usize, bias: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; rows * n];
        for r in 0..rows {
            for j in 0..n {
                let mut s = bias[j] as f64;
                for kk in 0..k {
                    s += x[r * k + kk] as f64 * b[kk * n + j] as f64;
                }
                out[r * n + j] = s as f32;
            }
        }
        out
    }

    /// `(len,)` test values `((i * step % modulus) - modulus / 2) * scale`, signed and varied.
    fn pattern(len: usize, step: usize, modulus: usize, scale: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * step % modulus) as f32 - (modulus / 2) as f32) * scale)
            .collect()
    }

    /// `epilogue(x · b + bias)` for `rows` rows of `x (rows, k)`, `(rows, padded(n))`.
    fn product(x: &[f32], rows: usize, b: &PackedMatrix, bias: &[f32], e: Epilogue) -> Vec<f32> {
        let stride = b.n_padded();
        let mut out = vec![f32::NAN; rows * stride];
        let mut scratch = vec![0.0; MAX_MR * b.k()];
        Product {
            x,
            x_stride: b.k(),
            rows,
            b,
            bias,
            epilogue: e,
            out: &mut out,
            out_stride: stride,
            out_offset: 0,
            scratch: &mut scratch,
        }
        .run();
        out
    }

    #[test]
    fn a_row_alone_is_bit_identical_to_the_same_row_in_a_tile() {
        // 17 rows: whole row tiles, then one row (the single-row kernel, with 8- or 4-row tiles)
        // or a partial tile of five (6-row tiles, AVX2); each row computed alone takes the
        // single-row kernel, so every row is compared across the two kernels.
        let (rows, k, n) = (17, 68, 96);
        let x = pattern(rows * k, 7, 29, 0.03);
        let b = pattern(k * n, 5, 31, 0.02);
        let packed = PackedMatrix::from_row_major(&b, k, n);
        let bias: Vec<f32> = (0..padded(n)).map(|j| j as f32 * 0.003 - 0.1).collect();
        for e in [Epilogue::Linear, Epilogue::Tanh, Epilogue::Relu] {
            let all = product(&x, rows, &packed, &bias, e);
            let stride = packed.n_padded();
            for r in 0..rows {
                let alone = product(&x[r * k..(r + 1) * k], 1, &packed, &bias, e);
                for j in 0..n {
                    assert_eq!(
                        all[r * stride + j].to_bits(),
                        alone[j].to_bits(),
                        "{e:?} row {r} column {j}: {} in the batch, {} alone",
                        all[r * stride + j],
                        alone[j]
                    );
                }
            }
        }
    }

    #[test]
    fn packed_product_matches_reference() {
        for &(rows, k, n) in &[
            (1, 1, 1),
            (1, 68, 256),
            (2, 256, 96),
            (7, 68, 256),
            (8, 64, 40),
            (13, 256, 64),
            (25, 33, 40),
        ] {
            let x = pattern(rows * k, 7, 13, 0.1);
            let b = pattern(k * n, 5, 11, 0.05);
            let mut bias = vec![0.0f32; padded(n)];
            for (j, v) in bias.iter_mut().enumerate().take(n) {
                *v = j as f32 * 0.01;
            }
            let packed = PackedMatrix::from_row_major(&b, k, n);
            let stride = padded(n);
            let out = product(&x, rows, &packed, &bias, Epilogue::Linear);
            let expected = reference(&x, rows, k, &b, n, &bias);
            for r in 0..rows {
                for j in 0..n {
                    let (g, e) = (out[r * stride + j], expected[r * n + j]);
                    assert!(
                        (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                        "({r},{j}): {g} vs {e}"
                    );
                }
            }
        }
    }
}
