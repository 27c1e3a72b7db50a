//! `ebmpc fit-value`: train a model's learned goal value (`world_model::GoalValue`), the
//! goal-conditioned cost-to-go that `planner.value_weight` adds to the planning energy, on
//! recorded episodes (no reward, no task code: goals relabelled from the episodes themselves).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use world_model::train::modelfile::{load_model, with_value};
use world_model::train::value_fit::{ValueData, ValueFitConfig, fit_value};

use super::data::{layout_json, load_datasets};

/// Train a model's learned goal value on datasets of its observation layout.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file written by `ebmpc train` (a single model, not an ensemble member list).
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset file(s) written by `ebmpc collect`; the last `val_fraction` of each file's
    /// episodes (the model's own hold-out, else 10%) score the value and are not trained on.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// TOML file with a `[value]` table (`world_model::train::value_fit::ValueFitConfig`;
    /// unknown keys are errors). Default: the built-in settings.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write the model with its value (atomically). Default: `--model` itself.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the held-out report as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    value: ValueFitConfig,
}

/// Reads a `[value]` config file.
pub fn read_config(path: &Path) -> Result<ValueFitConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading value config {}", path.display()))?;
    let file: File = toml::from_str(&text)
        .with_context(|| format!("parsing value config {}", path.display()))?;
    file.value
        .validate()
        .with_context(|| format!("value config {}", path.display()))?;
    Ok(file.value)
}

/// `bytes` (a model file) with a goal value trained on `data` under `cfg`; returns the new file
/// and the held-out report.
pub fn add_value(
    bytes: &[u8],
    data: &[PathBuf],
    cfg: &ValueFitConfig,
) -> Result<(Vec<u8>, world_model::train::value_fit::ValueReport)> {
    let (datasets, seqs) = load_datasets(data)?;
    let loaded = load_model(bytes, Some(&layout_json(&datasets[0])?))
        .context("loading the model to fit its goal value")?;
    let holdout = loaded
        .meta
        .training
        .as_ref()
        .map_or(0.1, |t| t.train.val_fraction);
    let mut goals = Vec::new();
    let mut success = Vec::new();
    let mut settle = Vec::new();
    for d in &datasets {
        goals.extend_from_slice(&d.goal_observations);
        success.extend_from_slice(&d.success);
        let s = d.meta.settle_steps.unwrap_or(0);
        settle.extend(std::iter::repeat_n(s, d.success.len()));
    }
    let vd = ValueData {
        seqs: &seqs,
        goals: &goals,
        success: &success,
        settle: &settle,
    };
    let (fit, held) = seqs.split(holdout);
    let pb = crate::progress::bar(cfg.steps, "value");
    let (value, report) = fit_value(&loaded.model, &vd, &fit, &held, cfg, |s| pb.set_position(s))
        .context("training the goal value")?;
    pb.finish_and_clear();
    let names: Vec<String> = data.iter().map(|p| p.display().to_string()).collect();
    let fitted = format!(
        "expectile {} regression of control steps to goals relabelled from {} episodes of {} \
         ({} steps, batch {}, seed {}); held-out ({} episodes): episode-goal MAE {:.2} steps \
         ({:.2} from predicted latents), hindsight MAE {:.2}, falling along {:.1}% of successful \
         steps",
        cfg.expectile,
        fit.len(),
        names.join(", "),
        cfg.steps,
        cfg.batch_size,
        cfg.seed,
        held.len(),
        report.goal_mae_steps,
        report.goal_mae_steps_predicted,
        report.hindsight_mae_steps,
        100.0 * report.monotone_fraction
    );
    eprintln!("goal value: {fitted}");
    Ok((with_value(bytes, &value, &fitted)?, report))
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let cfg = match &args.config {
        Some(p) => read_config(p)?,
        None => ValueFitConfig::default(),
    };
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("reading model {}", args.model.display()))?;
    let (out_bytes, report) = add_value(&bytes, &args.data, &cfg)?;
    let out: &Path = args.out.as_deref().unwrap_or(&args.model);
    sim::dataset::write_atomic(out, &out_bytes)?;
    eprintln!("wrote {}", out.display());
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_value_config_lists_the_defaults() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cfg = read_config(&root.join("configs/train/value.toml")).expect("parses");
        assert_eq!(cfg, ValueFitConfig::default());
    }
}
