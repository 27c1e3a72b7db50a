//! `ebmpc fit-head`: fit a model's heads, the linear read-outs of the palm and cube positions
//! from its latent that the planner's `palm_weight` and `cube_weight` terms use
//! (`world_model::head`). `ebmpc train` fits them too; this command adds them to models trained
//! before heads existed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use world_model::train::data::Sequences;
use world_model::train::eval::fit_heads;
use world_model::train::modelfile::{load_model, with_heads};

use super::data::{layout_json, load_datasets};
use super::eval_model::probe_targets;

/// Fit the heads (palm and cube position) of a trained model on datasets of its observation
/// layout.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file written by `ebmpc train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset file(s) written by `ebmpc collect` (the model's training data, so the held-out
    /// episodes are the ones training did not see).
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Where to write the model with its heads (atomically). Default: `--model` itself.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `bytes` (a model file) with a head for each probe target (`palm_pos`, `cube_pos`), fitted on
/// `seqs`' episodes except the last `holdout` fraction of each source, which score it; `data`
/// names the sources in each head's description.
pub fn add_heads(
    bytes: &[u8],
    seqs: &Sequences,
    holdout: f32,
    data: &[PathBuf],
) -> Result<Vec<u8>> {
    let loaded = load_model(bytes, None).context("loading the model to fit its heads")?;
    let (fit, held) = seqs.split(holdout);
    let names: Vec<String> = data.iter().map(|p| p.display().to_string()).collect();
    let targets = probe_targets();
    let fitted =
        fit_heads(&loaded.model, seqs, &fit, &held, &targets).context("fitting the heads")?;
    let mut heads = Vec::new();
    for (head, r2) in fitted {
        let fitted = format!(
            "ridge regression (lambda 1e-6) on {} episodes of {}; R^2 {r2:.4} on the {} \
             held-out episodes",
            fit.len(),
            names.join(", "),
            held.len()
        );
        eprintln!("{} head: {fitted}", head.name());
        heads.push((head, fitted));
    }
    Ok(with_heads(bytes, &heads)?)
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let (datasets, seqs) = load_datasets(&args.data)?;
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("reading model {}", args.model.display()))?;
    let loaded = load_model(&bytes, Some(&layout_json(&datasets[0])?))
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let holdout = loaded
        .meta
        .training
        .as_ref()
        .map_or(0.1, |t| t.train.val_fraction);
    let out_bytes = add_heads(&bytes, &seqs, holdout, &args.data)?;
    let out: &Path = args.out.as_deref().unwrap_or(&args.model);
    sim::dataset::write_atomic(out, &out_bytes)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
