//! `ebmpc eval-model`: prediction error, linear probes and collapse indicators on held-out
//! episodes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sim::obs::STATE_FIELDS;
use world_model::train::eval::{ProbeTarget, evaluate};
use world_model::train::modelfile::load_model;

use super::data::{layout_json, load_sequences};

/// Evaluate a trained model on a dataset's held-out episodes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file written by `ebmpc train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset file written by `ebmpc collect` (same observation layout as the model).
    #[arg(long)]
    pub data: PathBuf,
    /// Fraction of episodes (the last ones) held out for scoring; the probes are fitted on the
    /// rest. Default: the model's training `val_fraction`, so a training file is scored on the
    /// episodes training did not see.
    #[arg(long)]
    pub holdout: Option<f32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The probe targets: ranges of the `state` layout.
pub fn probe_targets() -> Vec<ProbeTarget> {
    let mut start = 0;
    let mut out = Vec::new();
    for (name, len) in STATE_FIELDS {
        if name == "cube_pos" || name == "palm_pos" {
            out.push(ProbeTarget {
                name: name.to_string(),
                indices: (start..start + len).collect(),
            });
        }
        start += len;
    }
    out
}

/// Evaluates `model` on `data`'s held-out episodes (`holdout`: fraction, default the model's
/// training `val_fraction`).
pub fn evaluate_report(
    model: &std::path::Path,
    data: &std::path::Path,
    holdout: Option<f32>,
) -> Result<world_model::train::eval::EvalReport> {
    let (dataset, seqs) = load_sequences(data)?;
    let bytes =
        std::fs::read(model).with_context(|| format!("reading model {}", model.display()))?;
    let loaded = load_model(&bytes, Some(&layout_json(&dataset)?))
        .with_context(|| format!("loading model {}", model.display()))?;
    let fraction = holdout.unwrap_or_else(|| {
        loaded
            .meta
            .training
            .as_ref()
            .map_or(0.1, |t| t.train.val_fraction)
    });
    if !(0.0..0.95).contains(&fraction) {
        anyhow::bail!("--holdout must be in [0, 0.95), got {fraction}");
    }
    let (fit, held) = seqs.split(fraction);
    Ok(evaluate(
        &loaded.model,
        &seqs,
        &fit,
        &held,
        &[1, 4, 8, 16],
        &probe_targets(),
    )?)
}

/// The report as JSON, with the model path and the mean latent std added.
pub fn evaluate_file(
    model: &std::path::Path,
    data: &std::path::Path,
    holdout: Option<f32>,
) -> Result<serde_json::Value> {
    let report = evaluate_report(model, data, holdout)?;
    let std_mean = report.latent_std.iter().sum::<f32>() / report.latent_dim.max(1) as f32;
    let mut v = serde_json::to_value(&report)?;
    v["model"] = serde_json::json!(model.display().to_string());
    v["latent_std_mean"] = serde_json::json!(std_mean);
    Ok(v)
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&evaluate_file(&args.model, &args.data, args.holdout)?)?
        );
        return Ok(());
    }
    let report = evaluate_report(&args.model, &args.data, args.holdout)?;
    println!(
        "{} on {} held-out episodes of {}",
        args.model.display(),
        report.episodes,
        args.data.display()
    );
    for ((k, r), (_, n)) in report.k_step_ratio.iter().zip(&report.k_step_windows) {
        println!("  {k:2}-step prediction error / copy baseline: {r:.4} ({n} windows)");
    }
    for p in &report.probes {
        println!("  linear probe R^2 {}: {:.4}", p.name, p.r2);
    }
    let min = report
        .latent_std
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min);
    let mean = report.latent_std.iter().sum::<f32>() / report.latent_dim.max(1) as f32;
    println!(
        "  latent std mean {mean:.4} min {min:.4}; effective rank {:.1} of {}",
        report.effective_rank, report.latent_dim
    );
    Ok(())
}
