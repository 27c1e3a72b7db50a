//! Machine probes measured beside a benchmark: the f32 FMA peak and the packed-product rate.
//!
//! Both run on `threads` threads at once (scoped threads, allocation allowed: these are not part
//! of any plan call), so that a planner's GFLOP/s can be compared with the machine's limit
//! measured in the same run.

use crate::packed::{Epilogue, MAX_MR, PackedMatrix, Product, padded};
use pulp::Simd;
use std::time::Instant;

/// Independent accumulator chains: enough to cover FMA latency times issue width.
const CHAINS: usize = 16;

struct FmaLoop {
    iterations: usize,
}

impl pulp::WithSimd for FmaLoop {
    type Output = (f32, usize);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let mut acc = [simd.splat_f32s(0.0); CHAINS];
        let a = simd.splat_f32s(std::hint::black_box(0.999_99));
        let b = simd.splat_f32s(std::hint::black_box(1e-6));
        for _ in 0..self.iterations {
            for v in acc.iter_mut() {
                *v = simd.mul_add_e_f32s(*v, a, b);
            }
        }
        let mut s = simd.splat_f32s(0.0);
        for v in acc {
            s = simd.add_f32s(s, v);
        }
        (
            simd.reduce_sum_f32s(s),
            2 * CHAINS * S::F32_LANES * self.iterations,
        )
    }
}

/// Peak f32 FMA throughput in GFLOP/s on `threads` threads (best of `repeats` runs).
pub fn fma_peak_gflops(threads: usize, repeats: usize) -> f64 {
    let iterations = 2_000_000;
    let mut best = 0.0f64;
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        let flops: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads.max(1))
                .map(|_| s.spawn(move || pulp::Arch::new().dispatch(FmaLoop { iterations })))
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .map(|(v, f)| std::hint::black_box(v).is_finite() as usize * f)
                        .unwrap_or(0)
                })
                .sum()
        });
        best = best.max(flops as f64 / t0.elapsed().as_secs_f64() / 1e9);
    }
    best
}

/// Rate in GFLOP/s of the packed product `(m, k) · (k, n)` with the rows split over `threads`
/// threads (best of `repeats` runs of `inner` products each).
pub fn packed_product_gflops(
    m: usize,
    k: usize,
    n: usize,
    threads: usize,
    repeats: usize,
    inner: usize,
) -> f64 {
    let threads = threads.max(1);
    let b: Vec<f32> = (0..k * n).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
    let packed = PackedMatrix::from_row_major(&b, k, n);
    let rows = m.div_ceil(threads);
    let x: Vec<f32> = (0..rows * k)
        .map(|i| ((i % 13) as f32 - 6.0) * 0.02)
        .collect();
    let mut best = 0.0f64;
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let (x, packed) = (&x, &packed);
                s.spawn(move || {
                    let stride = padded(n);
                    let mut out = vec![0.0f32; rows * stride];
                    let mut scratch = vec![0.0f32; MAX_MR * k];
                    for _ in 0..inner {
                        Product {
                            x,
                            x_stride: k,
                            rows,
                            b: packed,
                            bias: &[],
                            epilogue: Epilogue::Linear,
                            out: &mut out,
                            out_stride: stride,
                            out_offset: 0,
                            scratch: &mut scratch,
                        }
                        .run();
                        std::hint::black_box(&mut out);
                    }
                });
            }
        });
        let flops = 2.0 * (rows * threads) as f64 * k as f64 * n as f64 * inner as f64;
        best = best.max(flops / t0.elapsed().as_secs_f64() / 1e9);
    }
    best
}
