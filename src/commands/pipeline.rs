//! `ebmpc pipeline`: collect, train and evaluate in one command; how the shipped model is made.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use sim::{ObsMode, PolicyKind, TaskKind};
use world_model::train::config::TrainConfig;
use world_model::train::modelfile::{META_KEY, ModelMeta, read_meta_json};

use super::common::EpisodeArgs;
use super::{collect, eval_model, train};

/// Collect noisy-expert data, train a world model on it and evaluate it (the shipped model's
/// recipe). Steps whose output already exists are reused unless --force; a data file is reused
/// only when it holds the task, episodes, seed and observation mode asked for (else an error).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tasks whose noisy-expert episodes make the data, comma-separated (one file each, trained
    /// on together).
    #[arg(long, default_value = "reach,push,pick_place", value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Episodes to collect per task (seeds SEED ..).
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub episodes: u64,
    /// First seed of the data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Observation mode: state or depth.
    #[arg(long, default_value = "state")]
    pub obs: String,
    /// Training config.
    #[arg(long, default_value = "configs/train/tabletop.toml")]
    pub config: PathBuf,
    /// Model file to write; the data goes to `data/<file stem>.<task>.safetensors` and the
    /// evaluation (per task, on its held-out episodes) to `<out without extension>.eval.json`.
    #[arg(long, default_value = "models/tabletop_state.safetensors")]
    pub out: PathBuf,
    /// Steps each collected episode goes on after a success, recorded: the solved scene and
    /// the gripper leaving it, which the goal observation shows.
    #[arg(long, default_value_t = 10)]
    pub settle_steps: u64,
    /// Models to train, each with its own training seed (the config's, then +1, +2, ...): more
    /// than one makes an ensemble whose energies the planner averages. Member 0 is written to
    /// OUT, member i to `<OUT stem>.m<i>.safetensors` beside it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub members: u64,
    /// Redo every step even where its output exists.
    #[arg(long)]
    pub force: bool,
}

/// Fails, saying what differs, when the existing data file `file` is not what this pipeline
/// would collect (task, policy, episodes, first seed, observation mode, settle steps): a changed
/// default or flag must not train on stale data. Nothing is deleted; `--force` collects again.
fn check_reusable(file: &std::path::Path, task: TaskKind, args: &Args, obs: ObsMode) -> Result<()> {
    let meta = sim::dataset::DatasetMeta::read(file).with_context(|| {
        format!(
            "reading {} to reuse it (--force collects it again)",
            file.display()
        )
    })?;
    let have = (
        meta.task.as_str(),
        meta.policy.as_str(),
        meta.episodes as u64,
        meta.seed,
        meta.obs_layout.mode,
    );
    let want = (
        task.name(),
        PolicyKind::Noisy.name(),
        args.episodes,
        args.seed,
        obs,
    );
    anyhow::ensure!(
        have == want,
        "{} holds {} {} {} episodes from seed {} ({} observations), but this pipeline asks for {} {} {} \
         episodes from seed {} ({}); pass --force to collect it again, or match --episodes/--seed/--obs",
        file.display(),
        have.2,
        have.1,
        have.0,
        have.3,
        have.4.name(),
        want.2,
        want.1,
        want.0,
        want.3,
        want.4.name()
    );
    let settle = meta
        .settle_steps
        .map_or("not recorded".into(), |s| s.to_string());
    anyhow::ensure!(
        meta.settle_steps == Some(args.settle_steps as usize),
        "{} was collected with settle steps {settle}, but this pipeline asks for {}; pass \
         --force to collect it again, or match --settle-steps",
        file.display(),
        args.settle_steps
    );
    Ok(())
}

/// Fails when the existing model file `file` was not trained with `cfg` (the training config
/// and seed this pipeline asks for): a changed --config must not keep an old model.
fn check_model_reusable(
    file: &std::path::Path,
    cfg: &TrainConfig,
    config: &std::path::Path,
) -> Result<()> {
    let what = || {
        format!(
            "reading {} to reuse it (--force trains it again)",
            file.display()
        )
    };
    let bytes = std::fs::read(file).with_context(what)?;
    let json = read_meta_json(&bytes, META_KEY).with_context(what)?;
    let meta: ModelMeta = serde_json::from_str(&json).with_context(what)?;
    // `conv_image = [0, 0]` means "the dataset's image", which training wrote in.
    let mut cfg = cfg.clone();
    if let Some(t) = &meta.training
        && cfg.model.conv_image == [0, 0]
    {
        cfg.model.conv_image = t.model.conv_image;
    }
    anyhow::ensure!(
        meta.training.as_ref() == Some(&cfg),
        "{} was not trained with {} and seed {}; pass --force to train it again, or use \
         another --out",
        file.display(),
        config.display(),
        cfg.train.seed
    );
    Ok(())
}

/// The file of ensemble member `i` of a model written to `out`: `out` itself for member 0,
/// `<stem>.m<i>.safetensors` beside it for the others.
pub fn member_path(out: &std::path::Path, i: u64) -> PathBuf {
    if i == 0 {
        return out.to_path_buf();
    }
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}.m{i}.safetensors"))
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let tasks: Vec<TaskKind> = args
        .tasks
        .iter()
        .map(|t| t.parse())
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(!tasks.is_empty(), "--tasks needs at least one task");
    let obs: ObsMode = args.obs.parse()?;
    let stem = args
        .out
        .file_stem()
        .context("--out needs a file name")?
        .to_string_lossy()
        .into_owned();
    let data: Vec<PathBuf> = tasks
        .iter()
        .map(|t| PathBuf::from("data").join(format!("{stem}.{}.safetensors", t.name())))
        .collect();
    let t0 = Instant::now();
    for (task, file) in tasks.iter().zip(&data) {
        if args.force || !file.exists() {
            std::fs::create_dir_all("data").context("creating data/")?;
            eprintln!(
                "[1/3] collecting {} noisy-expert {} episodes -> {}",
                args.episodes,
                task.name(),
                file.display()
            );
            collect::run(&collect::Args {
                episodes: EpisodeArgs {
                    task: *task,
                    policy: PolicyKind::Noisy,
                    episodes: args.episodes,
                    seed: args.seed,
                    obs,
                    config: None,
                    threads: None,
                    settle_steps: args.settle_steps,
                },
                out: file.clone(),
            })?;
        } else {
            check_reusable(file, *task, args, obs)?;
            eprintln!("[1/3] reusing {}", file.display());
        }
    }
    let t1 = Instant::now();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let train_cfg = train::read_config(Some(&args.config))?;
    let members: Vec<PathBuf> = (0..args.members)
        .map(|i| member_path(&args.out, i))
        .collect();
    for (i, out) in members.iter().enumerate() {
        let seed = train_cfg.train.seed + i as u64;
        if args.force || !out.exists() {
            eprintln!(
                "[2/3] training {} (seed {seed}, member {} of {}) -> {}",
                args.config.display(),
                i + 1,
                members.len(),
                out.display()
            );
            train::run(&train::Args {
                data: data.clone(),
                config: Some(args.config.clone()),
                out: out.clone(),
                resume: !args.force,
                epochs: None,
                seed: Some(seed),
                stop_after: None,
            })?;
        } else {
            let mut cfg = train_cfg.clone();
            cfg.train.seed = seed;
            check_model_reusable(out, &cfg, &args.config)?;
            eprintln!("[2/3] reusing {}", out.display());
        }
    }
    let t2 = Instant::now();
    eprintln!("[3/3] evaluating on each task's held-out episodes");
    let mut eval_paths = Vec::new();
    for out in &members {
        let mut report = serde_json::Map::new();
        for (task, file) in tasks.iter().zip(&data) {
            report.insert(
                task.name().into(),
                eval_model::evaluate_file(out, file, None)?,
            );
        }
        let report = serde_json::Value::Object(report);
        let eval_path = out.with_extension("eval.json");
        sim::dataset::write_atomic(
            &eval_path,
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        if members.len() > 1 {
            println!("{}:", out.display());
        }
        print_eval(&report);
        eval_paths.push(eval_path.display().to_string());
    }
    let model_arg = members
        .iter()
        .map(|m| m.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    eprintln!(
        "pipeline done in {:.0} s (collect {:.0} s, train {:.0} s, evaluate {:.0} s): model(s) {}, \
         evaluation {} (plan with it: --model {model_arg})",
        t0.elapsed().as_secs_f64(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        t2.elapsed().as_secs_f64(),
        model_arg,
        eval_paths.join(", ")
    );
    Ok(())
}

/// Prints one line per task of a model's evaluation report.
fn print_eval(report: &serde_json::Value) {
    for (task, r) in report.as_object().into_iter().flatten() {
        let ratio8 = r["k_step_ratio"]
            .as_array()
            .and_then(|v| v.iter().find(|p| p[0] == 8))
            .map_or(f64::NAN, |p| p[1].as_f64().unwrap_or(f64::NAN));
        let probes: Vec<String> = r["probes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{} {:.3}",
                    p["name"].as_str().unwrap_or("?"),
                    p["r2"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        println!(
            "{task}: 8-step error / copy baseline {ratio8:.3}, probe R^2 {}, effective rank {:.1}",
            probes.join(", "),
            r["effective_rank"].as_f64().unwrap_or(f64::NAN)
        );
    }
}
