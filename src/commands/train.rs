//! `ebmpc train`: train a JEPA-style world model on a collected dataset.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use world_model::train::config::TrainConfig;
use world_model::train::trainer::{EpochLog, LossTerms, Trainer};

use super::data::{layout_json, load_datasets};
use super::fit_head::add_heads;
use crate::progress;

/// Train a world model (encoder + latent predictor) on a dataset from `ebmpc collect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Dataset file(s) written by `ebmpc collect`, all with the same observation layout (e.g.
    /// one per task: `--data reach.safetensors push.safetensors`). The last `val_fraction` of each
    /// file's episodes is held out.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Training config (TOML with [model] and [train]; see configs/train/). Default: built-in
    /// defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output model file (.safetensors), written atomically at the end. The checkpoint goes to
    /// OUT.ckpt after every epoch, the log (one JSON line per epoch) to OUT.log.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from OUT.ckpt if it exists (same config and data); otherwise start fresh.
    #[arg(long)]
    pub resume: bool,
    /// Override `train.epochs` of the config.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub epochs: Option<u64>,
    /// Override `train.seed` of the config (e.g. to train the members of an ensemble).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many epochs of this invocation (the run stays resumable): for tests and
    /// for splitting long runs.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub stop_after: Option<u64>,
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads and validates a training config file.
pub fn read_config(path: Option<&Path>) -> Result<TrainConfig> {
    match path {
        None => Ok(TrainConfig::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading --config {}", p.display()))?;
            Ok(TrainConfig::from_toml_str(&text, &p.display().to_string())?)
        }
    }
}

/// Sets `model.conv_image` to the dataset's image `(height, width)` when a conv stem is asked
/// for and the config leaves it `[0, 0]`; refuses a stem without an image, or an image that
/// differs from the dataset's.
fn fill_conv_image(cfg: &mut TrainConfig, image: (usize, usize)) -> Result<()> {
    let m = &mut cfg.model;
    if m.conv_channels.is_empty() {
        return Ok(());
    }
    if image == (0, 0) {
        bail!(
            "model.conv_channels asks for a conv stem, but the dataset's observations have no              image (collect with --obs depth)"
        );
    }
    if m.conv_image == [0, 0] {
        m.conv_image = [image.0, image.1];
    } else if m.conv_image != [image.0, image.1] {
        bail!(
            "model.conv_image = {:?} but the dataset's depth images are {}x{}",
            m.conv_image,
            image.0,
            image.1
        );
    }
    Ok(())
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let mut cfg = read_config(args.config.as_deref())?;
    if let Some(e) = args.epochs {
        cfg.train.epochs = e as usize;
    }
    if let Some(seed) = args.seed {
        cfg.train.seed = seed;
    }
    cfg.validate()?;
    let (datasets, seqs) = load_datasets(&args.data)?;
    let dataset = &datasets[0];
    fill_conv_image(&mut cfg, dataset.meta.obs_layout.image)?;
    let mut trainer = Trainer::new(cfg.clone(), &seqs)?;
    if trainer.validation_on_training_data {
        eprintln!(
            "warning: no held-out episode has rollout_steps = {} actions; the logged validation \
             loss is measured on training sequences",
            cfg.train.rollout_steps
        );
    }
    let ckpt = sibling(&args.out, ".ckpt");
    let log_path = sibling(&args.out, ".log.jsonl");
    let mut first_epoch = 0;
    if args.resume && ckpt.exists() {
        let bytes = std::fs::read(&ckpt).with_context(|| format!("reading {}", ckpt.display()))?;
        first_epoch = trainer
            .restore_checkpoint(&bytes)
            .with_context(|| format!("resuming from {}", ckpt.display()))?;
        eprintln!("resuming after epoch {first_epoch} (step {})", trainer.step);
    } else if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // On resume, keep only the log lines of epochs the checkpoint holds: a run killed between
    // writing an epoch's line and its checkpoint repeats that epoch.
    let kept: String = if first_epoch > 0 {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| serde_json::from_str::<EpochLog>(l).is_ok_and(|e| e.epoch <= first_epoch))
            .map(|l| format!("{l}\n"))
            .collect()
    } else {
        String::new()
    };
    std::fs::write(&log_path, kept).with_context(|| format!("writing {}", log_path.display()))?;
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let epochs = cfg.train.epochs;
    let steps = cfg.train.steps_per_epoch;
    let last_epoch = match args.stop_after {
        Some(n) => epochs.min(first_epoch + n as usize),
        None => epochs,
    };
    if first_epoch >= epochs {
        eprintln!("the checkpoint already finished all {epochs} epochs");
    }
    let pb = progress::bar((epochs * steps) as u64, "training");
    pb.set_position(trainer.step);
    let t_run = Instant::now();
    for epoch in first_epoch + 1..=last_epoch {
        let t0 = Instant::now();
        let mut sum = LossTerms::default();
        for _ in 0..steps {
            let t = trainer.train_step();
            if !t.loss.is_finite() {
                bail!(
                    "loss became {} at step {}: lower train.lr",
                    t.loss,
                    trainer.step
                );
            }
            sum.loss += t.loss / steps as f32;
            sum.pred += t.pred / steps as f32;
            sum.var += t.var / steps as f32;
            sum.cov += t.cov / steps as f32;
            pb.inc(1);
        }
        let secs = t0.elapsed().as_secs_f32();
        let (val, std_mean, std_min, erank) = trainer.validate();
        let line = EpochLog {
            epoch,
            step: trainer.step,
            lr: trainer.current_lr(),
            train: sum,
            val,
            latent_std_mean: std_mean,
            latent_std_min: std_min,
            effective_rank: erank,
            samples_per_s: (steps * cfg.train.batch_size) as f32 / secs,
        };
        writeln!(log, "{}", serde_json::to_string(&line)?)?;
        let ck = trainer.checkpoint_bytes(epoch)?;
        sim::dataset::write_atomic(&ckpt, &ck)?;
        pb.set_message(format!("val {:.4}", val.pred));
        if !pb.is_hidden() {
            pb.println(format!(
                "epoch {epoch}: train {:.4} val pred {:.4} rank {erank:.1} {:.0} seq/s",
                sum.loss, val.pred, line.samples_per_s
            ));
        }
    }
    pb.finish_and_clear();
    if last_epoch < epochs {
        eprintln!(
            "stopped after epoch {last_epoch} of {epochs}; continue with --resume ({})",
            ckpt.display()
        );
        return Ok(());
    }
    let source = serde_json::json!({
        "datasets": args.data.iter().zip(&datasets).map(|(p, d)| serde_json::json!({
            "data": p.display().to_string(),
            "task": d.meta.task,
            "policy": d.meta.policy,
            "episodes": d.meta.episodes,
            "seed": d.meta.seed,
        })).collect::<Vec<_>>(),
    });
    let bytes = trainer.model_bytes(
        dataset.meta.obs_layout.mode.name(),
        layout_json(dataset)?,
        source,
    )?;
    // A head that cannot be fitted must not cost the trained model: write it without heads.
    let bytes = match add_heads(&bytes, &seqs, cfg.train.val_fraction, &args.data) {
        Ok(with) => with,
        Err(e) => {
            eprintln!("warning: writing the model without heads: {e:#}");
            bytes
        }
    };
    sim::dataset::write_atomic(&args.out, &bytes)?;
    let (val, _, _, erank) = trainer.validate();
    eprintln!(
        "wrote {} after {} steps ({:.1} s this run): val pred {:.4}, effective rank {erank:.1}",
        args.out.display(),
        trainer.step,
        t_run.elapsed().as_secs_f32(),
        val.pred
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conv_image_comes_from_the_dataset_or_must_match_it() {
        let mut cfg = TrainConfig::default();
        fill_conv_image(&mut cfg, (0, 0)).expect("no stem, no image needed");
        assert_eq!(cfg.model.conv_image, [0, 0]);

        cfg.model.conv_channels = vec![8];
        let err = fill_conv_image(&mut cfg, (0, 0)).unwrap_err().to_string();
        assert!(err.contains("--obs depth"), "{err}");
        fill_conv_image(&mut cfg, (32, 24)).expect("filled in");
        assert_eq!(cfg.model.conv_image, [32, 24]);
        fill_conv_image(&mut cfg, (32, 24)).expect("the same image again");
        let err = fill_conv_image(&mut cfg, (16, 16)).unwrap_err().to_string();
        assert!(err.contains("[32, 24]") && err.contains("16x16"), "{err}");
    }
}
