//! Plain row-major matrix products for training, on the crate's packed kernel
//! ([`crate::packed`]). Training changes the weights every step, so right-hand matrices are
//! packed per call; that costs `O(k * n)` against the product's `O(rows * k * n)`.

use crate::packed::{Epilogue, MAX_MR, PackedMatrix, Product, padded};

/// Which way the right-hand matrix is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rhs<'a> {
    /// `B (k, n)` row-major.
    Plain(&'a [f32]),
    /// `W (n, k)` row-major, used as `B = W^T` (a PyTorch `nn.Linear` weight `[out, in]`).
    Transposed(&'a [f32]),
}

/// `out (rows, n) = x (rows, k) · B (k, n)`, overwriting `out`.
///
/// - `x`: `(rows, k)` row-major
/// - `out`: `(rows, n)` row-major
pub fn matmul(x: &[f32], rows: usize, k: usize, rhs: Rhs<'_>, n: usize, out: &mut [f32]) {
    debug_assert_eq!(x.len(), rows * k);
    debug_assert_eq!(out.len(), rows * n);
    if rows == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    let b = match rhs {
        Rhs::Plain(b) => PackedMatrix::from_row_major(b, k, n),
        Rhs::Transposed(w) => PackedMatrix::from_transposed(w, n, k),
    };
    let np = padded(n);
    let mut wide = vec![0.0f32; rows * np];
    let mut scratch = vec![0.0f32; MAX_MR * k];
    Product {
        x,
        x_stride: k,
        rows,
        b: &b,
        bias: &[],
        epilogue: Epilogue::Linear,
        out: &mut wide,
        out_stride: np,
        out_offset: 0,
        scratch: &mut scratch,
    }
    .run();
    for r in 0..rows {
        out[r * n..(r + 1) * n].copy_from_slice(&wide[r * np..r * np + n]);
    }
}

/// `out (k, n) += x^T · y` for `x (rows, k)` and `y (rows, n)`: the weight gradient of a linear
/// layer, `dW^T`, accumulated. Computed as `(y^T · x)^T` would need a transpose; instead this
/// transposes `x` once and runs one product.
///
/// - `x`: `(rows, k)`, `y`: `(rows, n)`, `out`: `(k, n)`
pub fn matmul_tn_acc(x: &[f32], y: &[f32], rows: usize, k: usize, n: usize, out: &mut [f32]) {
    let mut xt = vec![0.0f32; k * rows];
    for r in 0..rows {
        for c in 0..k {
            xt[c * rows + r] = x[r * k + c];
        }
    }
    let mut prod = vec![0.0f32; k * n];
    matmul(&xt, k, rows, Rhs::Plain(y), n, &mut prod);
    for (o, p) in out.iter_mut().zip(&prod) {
        *o += p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], rows: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
        let mut out = vec![0.0; rows * n];
        for r in 0..rows {
            for j in 0..n {
                out[r * n + j] = (0..k).map(|c| x[r * k + c] * b[c * n + j]).sum();
            }
        }
        out
    }

    #[test]
    fn matmul_matches_naive_product_for_odd_shapes() {
        for &(rows, k, n) in &[(1, 1, 1), (7, 5, 3), (13, 37, 45), (50, 68, 64)] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0)
                .collect();
            let want = naive(&x, rows, k, &b, n);
            let mut got = vec![0.0; rows * n];
            matmul(&x, rows, k, Rhs::Plain(&b), n, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                    "{rows}x{k}x{n}: {g} vs {w}"
                );
            }
            // The same through a transposed weight.
            let mut wt = vec![0.0; n * k];
            for c in 0..k {
                for j in 0..n {
                    wt[j * k + c] = b[c * n + j];
                }
            }
            let mut got_t = vec![0.0; rows * n];
            matmul(&x, rows, k, Rhs::Transposed(&wt), n, &mut got_t);
            assert_eq!(got, got_t);
            // x^T y accumulation.
            let mut acc = vec![1.0; k * n];
            let y: Vec<f32> = (0..rows * n).map(|i| (i % 3) as f32 - 1.0).collect();
            matmul_tn_acc(&x, &y, rows, k, n, &mut acc);
            for c in 0..k {
                for j in 0..n {
                    let w: f32 = 1.0 + (0..rows).map(|r| x[r * k + c] * y[r * n + j]).sum::<f32>();
                    let g = acc[c * n + j];
                    assert!((g - w).abs() < 1e-3 * (1.0 + w.abs()), "{g} vs {w}");
                }
            }
        }
    }
}
