//! `ebmpc plan-bench`: the W1 timing protocol for one planner.
//!
//! Loads the W1 workload, builds the CPU rollout on `--threads` threads and the chosen optimizer
//! with the W1 reference settings (CEM, MPPI and gradient exactly as `shared/workload/README.md`
//! specifies; iCEM and hybrid with their defaults), runs 3 untimed warm-up calls and 20 timed
//! `plan()` calls, and reports the median and p90 time, the mean energy of the returned plans,
//! the planner's nominal GFLOP/s, and, measured in the same run on the same threads, the rate of
//! the packed product on the shape of one CEM horizon step (512x256 · 256x256) and the f32 FMA
//! peak. Every call uses a fresh seed (its index), so the energy is an average over 20 draws.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use kernels::{Backend, CudaRollout, CudaRolloutConfig};
use planner::{
    AnyOptimizer, CpuRollout, Dims, Energy, Optimizer, OptimizerConfig, OptimizerKind, Problem,
    RolloutGrad, SolveStats,
};
use serde::Serialize;
use world_model::W1Workload;
use world_model::w1::{W1_ACTION_DIM, W1_ACTION_WEIGHT, W1_HORIZON, W1_LATENT_DIM};

/// Time one planner on the W1 workload.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the W1 workload file (`w1.safetensors`).
    #[arg(long)]
    pub workload: PathBuf,
    /// Planner: cem, icem, mppi, grad or hybrid.
    #[arg(long, default_value = "cem")]
    pub planner: String,
    /// Threads of the rollout pool, the calling thread included (CPU backend).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Rollout backend: cpu, cuda, or auto (CUDA when a driver and device are present, else
    /// the CPU with one line saying why).
    #[arg(long, default_value = "cpu")]
    pub backend: Backend,
    /// Untimed warm-up calls.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Timed calls.
    #[arg(long, default_value_t = 20)]
    pub calls: usize,
    /// Skip the sgemm and FMA-peak probes (faster; those fields are then 0).
    #[arg(long)]
    pub no_probes: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `ebmpc plan-bench` prints.
#[derive(Serialize, Debug)]
pub struct PlanBenchReport {
    /// Planner name.
    pub planner: String,
    /// Backend used: cpu or cuda.
    pub backend: String,
    /// Threads used.
    pub threads: usize,
    /// Timed calls.
    pub calls: usize,
    /// Median wall time of one `plan()` call, ms.
    pub median_ms: f64,
    /// 90th-percentile wall time, ms.
    pub p90_ms: f64,
    /// Mean energy of the returned plans (lower is better; about 0.023 is optimal).
    pub final_energy: f64,
    /// Nominal FLOP of one call (2 per multiply-add of the predictor's matrix products), GFLOP.
    pub nominal_gflop: f64,
    /// `nominal_gflop / median time`.
    pub gflops: f64,
    /// Packed-product rate on 512x256 · 256x256 on the same threads, GFLOP/s.
    pub sgemm_gflops: f64,
    /// f32 FMA peak on the same threads, GFLOP/s.
    pub fma_peak_gflops: f64,
    /// `gflops / sgemm_gflops`.
    pub fraction_of_sgemm: f64,
    /// `gflops / fma_peak_gflops`.
    pub fraction_of_peak: f64,
}

fn with_seed(cfg: &OptimizerConfig, seed: u64) -> OptimizerConfig {
    let mut cfg = cfg.clone();
    match &mut cfg {
        OptimizerConfig::Cem(c) => c.seed = seed,
        OptimizerConfig::Icem(c) => c.seed = seed,
        OptimizerConfig::Mppi(c) => c.seed = seed,
        OptimizerConfig::Gradient(c) => c.seed = seed,
        OptimizerConfig::Hybrid(c) => {
            c.sampler.seed = seed;
            c.refine.seed = seed;
        }
    }
    cfg
}

/// Predictor steps (rows) of one call: forward and backward both count.
fn nominal_rows(cfg: &OptimizerConfig, horizon: usize) -> usize {
    let grad_rows = |c: &planner::GradientConfig| (2 * c.steps + 1) * c.num_starts;
    let rows = match cfg {
        OptimizerConfig::Cem(c) => c.num_samples * c.iterations,
        OptimizerConfig::Mppi(c) => c.num_samples * c.iterations,
        OptimizerConfig::Icem(c) => (0..c.iterations)
            .map(|i| {
                let n = (c.num_samples as f32 / c.population_decay.powi(i as i32)).round() as usize;
                n.clamp(2 * c.num_elites, c.num_samples)
            })
            .sum(),
        OptimizerConfig::Gradient(c) => grad_rows(c),
        OptimizerConfig::Hybrid(c) => {
            c.sampler.num_samples * c.sampler.iterations + grad_rows(&c.refine)
        }
    };
    rows * horizon
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the warm-up and timed calls; returns the times (ms) and the energies of the timed calls'
/// plans.
fn time_calls<R: RolloutGrad>(
    rollout: &mut R,
    args: &Args,
    w: &W1Workload,
    energy: &Energy,
    cfg: &OptimizerConfig,
    dims: Dims,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let warm = vec![0.0f32; dims.plan_len()];
    let mut plan = vec![0.0f32; dims.plan_len()];
    let mut stats = SolveStats::with_capacity(256);
    let mut times = Vec::with_capacity(args.calls);
    let mut energies = Vec::with_capacity(args.calls);
    for call in 0..args.warmup + args.calls {
        let mut opt = AnyOptimizer::new(with_seed(cfg, call as u64), dims)?;
        let problem = Problem {
            z0: &w.z0,
            energy,
            warm_start: &warm,
            deadline: None,
        };
        let t0 = Instant::now();
        opt.plan(rollout, &problem, &mut plan, &mut stats)?;
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        if call >= args.warmup {
            let mut e = [0.0f32];
            rollout.evaluate(&w.z0, energy, &plan, &mut e)?;
            times.push(dt);
            energies.push(e[0] as f64);
        }
    }
    Ok((times, energies))
}

/// Runs the protocol and prints the report.
pub fn run(args: &Args) -> Result<()> {
    let kind = OptimizerKind::from_name(&args.planner)?;
    anyhow::ensure!(args.calls >= 1, "--calls must be at least 1");
    let w = W1Workload::open(&args.workload)
        .with_context(|| format!("loading {}", args.workload.display()))?;
    let dims = Dims {
        horizon: W1_HORIZON,
        action_dim: W1_ACTION_DIM,
        latent_dim: W1_LATENT_DIM,
    };
    let mut energy = Energy::terminal_l2(w.zg.clone(), W1_ACTION_DIM);
    energy.magnitude_weight = W1_ACTION_WEIGHT;
    let cfg = kind.default_config();
    let step_flops = w.model.step_flops() as f64;
    let backend = args.backend.resolve()?;
    let (mut times, energies) = match backend {
        Backend::Cuda => {
            let mut rollout = CudaRollout::new(
                &w.model,
                W1_HORIZON,
                CudaRolloutConfig {
                    capacity: cfg.max_batch(),
                    grad_capacity: cfg.max_batch(),
                    device: 0,
                },
            )?;
            time_calls(&mut rollout, args, &w, &energy, &cfg, dims)?
        }
        _ => {
            let mut rollout = CpuRollout::new_differentiable(
                Arc::new(w.model.clone()),
                W1_HORIZON,
                cfg.max_batch(),
                args.threads,
            )?;
            time_calls(&mut rollout, args, &w, &energy, &cfg, dims)?
        }
    };
    times.sort_by(f64::total_cmp);
    let median_ms = percentile(&times, 0.5);
    let nominal_gflop = nominal_rows(&cfg, W1_HORIZON) as f64 * step_flops / 1e9;
    let gflops = nominal_gflop / (median_ms / 1e3);
    let (sgemm_gflops, fma_peak_gflops) = if args.no_probes {
        (0.0, 0.0)
    } else {
        (
            world_model::probe::packed_product_gflops(512, 256, 256, args.threads, 7, 40),
            world_model::probe::fma_peak_gflops(args.threads, 5),
        )
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let report = PlanBenchReport {
        planner: kind.name().to_string(),
        backend: backend.as_str().to_string(),
        threads: args.threads,
        calls: args.calls,
        median_ms,
        p90_ms: percentile(&times, 0.9),
        final_energy: energies.iter().sum::<f64>() / energies.len() as f64,
        nominal_gflop,
        gflops,
        sgemm_gflops,
        fma_peak_gflops,
        fraction_of_sgemm: ratio(gflops, sgemm_gflops),
        fraction_of_peak: ratio(gflops, fma_peak_gflops),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "plan-bench W1 {} backend={} threads={} calls={}: median {:.2} ms, p90 {:.2} ms, final_energy {:.4}, \
             {:.2} GFLOP/call, {:.1} GFLOP/s ({:.0}% of sgemm {:.1}, {:.0}% of FMA peak {:.1})",
            report.planner,
            report.backend,
            report.threads,
            report.calls,
            report.median_ms,
            report.p90_ms,
            report.final_energy,
            report.nominal_gflop,
            report.gflops,
            100.0 * report.fraction_of_sgemm,
            report.sgemm_gflops,
            100.0 * report.fraction_of_peak,
            report.fma_peak_gflops,
        );
    }
    Ok(())
}
