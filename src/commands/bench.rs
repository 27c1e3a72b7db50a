//! `ebmpc bench`: a benchmark suite of closed-loop episodes, resumable, with a report.
//!
//! Every finished episode is appended to `OUT/results.jsonl` at once (one line: the cell key,
//! its names and the [`EpisodeResult`]). A rerun with the same `--out` reads that file and runs
//! only the (cell, seed) pairs it lacks; a last line cut short by a kill is dropped. At the end,
//! and after every cell, it writes `summary.md`, `plots/*.svg` and `index.html`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sim::Env;

use crate::closed_loop::{EpisodeResult, run_episode};
use crate::episodes::{make_replay, write_replay};
use crate::progress;
use crate::replay::Replay;
use crate::reports::{self, Cell};
use crate::setup;
use crate::suite::{CellSpec, Suite, samples_per_step};
use crate::summary::RunSummary;

/// Run a benchmark suite (tasks x models x planners x seeds) and write a report.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Suite file, e.g. configs/bench/quick.toml.
    #[arg(long)]
    pub suite: PathBuf,
    /// Output folder; an existing one is resumed (finished episodes are not repeated).
    #[arg(long)]
    pub out: PathBuf,
    /// Rollout backend for learned models: cpu, cuda, or auto (CUDA when a driver and device
    /// are present, else the CPU with one line saying why).
    #[arg(long, default_value = "cpu")]
    pub backend: kernels::Backend,
    /// Print the summaries as one JSON array at the end.
    #[arg(long)]
    pub json: bool,
}

/// One line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultLine {
    /// `task|model|planner`.
    pub cell: String,
    /// Task name.
    pub task: String,
    /// Model name.
    pub model: String,
    /// Planner name.
    pub planner: String,
    /// Rollout samples per control step, when the planner samples.
    pub samples_per_step: Option<usize>,
    /// The episode.
    pub result: EpisodeResult,
}

/// Reads `path`'s finished episodes per cell key. Drops a last line cut short (and truncates the
/// file to its last complete line so that appending stays valid); any other bad line is an error
/// naming its number.
pub fn read_results(path: &Path) -> Result<HashMap<String, Vec<ResultLine>>> {
    let mut map: HashMap<String, Vec<ResultLine>> = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(map);
    };
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    if complete.len() != text.len() {
        eprintln!(
            "{}: dropping an unfinished last line ({} bytes) from an interrupted run",
            path.display(),
            text.len() - complete.len()
        );
        std::fs::write(path, complete).with_context(|| format!("truncating {}", path.display()))?;
    }
    for (i, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: ResultLine = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not a result line", path.display(), i + 1))?;
        map.entry(r.cell.clone()).or_default().push(r);
    }
    Ok(map)
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let suite = Suite::load(&args.suite)?;
    // Resolve once: `auto` prints its fallback line once, not per cell.
    let backend = args.backend.resolve()?;
    let cells = suite.cells()?;
    // Check every cell's loop settings before the first episode, not midway.
    for c in &cells {
        c.run_config().with_context(|| format!("cell {}", c.key))?;
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let results_path = args.out.join("results.jsonl");
    let mut done = read_results(&results_path)?;
    let todo: u64 = cells
        .iter()
        .map(|c| {
            let have = done.get(&c.key).map_or(0, Vec::len) as u64;
            c.episodes.saturating_sub(have)
        })
        .sum();
    let total: u64 = cells.iter().map(|c| c.episodes).sum();
    if todo < total {
        eprintln!(
            "resuming {}: {} of {total} episodes already done",
            args.out.display(),
            total - todo
        );
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .with_context(|| format!("opening {}", results_path.display()))?;
    let pb = progress::bar(todo, "episodes");
    let mut replays: Vec<Replay> = Vec::new();
    for (ci, cell) in cells.iter().enumerate() {
        let have: std::collections::HashSet<u64> = done
            .get(&cell.key)
            .map(|v| v.iter().map(|r| r.result.seed).collect())
            .unwrap_or_default();
        let seeds: Vec<u64> = (0..cell.episodes)
            .map(|i| suite.seed.wrapping_add(i))
            .filter(|s| !have.contains(s))
            .collect();
        pb.set_message(cell.key.clone());
        if !seeds.is_empty() {
            let run_cfg = cell.run_config()?;
            let mut env = Env::new(run_cfg.sim(), cell.task, cell.obs)?;
            let mut controller = setup::build_loop(
                &cell.model,
                cell.task,
                cell.obs,
                cell.kind,
                cell.optimizer.as_ref(),
                &run_cfg,
                backend,
            )
            .with_context(|| format!("cell {}", cell.key))?;
            let budget =
                setup::effective_optimizer(&cell.model, cell.kind, cell.optimizer.as_ref())
                    .as_ref()
                    .map(samples_per_step);
            for seed in seeds {
                let record = seed < suite.seed.wrapping_add(suite.replays);
                let (r, steps) = run_episode(controller.as_mut(), &mut env, seed, record)
                    .with_context(|| format!("cell {} seed {seed}", cell.key))?;
                if let Some(steps) = steps {
                    let rp = make_replay(
                        &env,
                        (cell.task.name(), &cell.model_name, &cell.planner_name),
                        &r,
                        steps,
                    );
                    write_replay(&args.out, &file_prefix(&cell.key), &rp)?;
                }
                let line = ResultLine {
                    cell: cell.key.clone(),
                    task: cell.task.name().into(),
                    model: cell.model_name.clone(),
                    planner: cell.planner_name.clone(),
                    samples_per_step: budget,
                    result: r,
                };
                writeln!(file, "{}", serde_json::to_string(&line)?)?;
                file.flush()?;
                done.entry(cell.key.clone()).or_default().push(line);
                pb.inc(1);
            }
        }
        let page = write_report(&args.out, &suite, &cells, &done, &mut replays)?;
        if ci + 1 == cells.len() {
            pb.finish_and_clear();
            let summaries = summaries(&suite, &cells, &done);
            if args.json {
                println!("{}", serde_json::to_string(&summaries)?);
            } else {
                for s in &summaries {
                    println!("{}", s.line());
                }
                println!("report: {}", page.display());
            }
        }
    }
    Ok(())
}

/// `task|model|planner` as a file-name prefix: every character other than ASCII letters, digits,
/// `-` and `_` becomes `_`, and the parts are joined by `__`.
fn file_prefix(key: &str) -> String {
    let clean: String = key
        .chars()
        .map(|c| match c {
            '|' => '+',
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => c,
            _ => '_',
        })
        .collect();
    format!("{}__", clean.replace('+', "__"))
}

/// The cells' summaries, in suite order, for the cells with any results.
fn summaries(
    suite: &Suite,
    cells: &[CellSpec],
    done: &HashMap<String, Vec<ResultLine>>,
) -> Vec<RunSummary> {
    report_cells(suite, cells, done)
        .into_iter()
        .map(|c| c.summary)
        .collect()
}

fn report_cells(
    suite: &Suite,
    cells: &[CellSpec],
    done: &HashMap<String, Vec<ResultLine>>,
) -> Vec<Cell> {
    cells
        .iter()
        .filter_map(|c| {
            let lines = done.get(&c.key)?;
            let mut eps: Vec<EpisodeResult> = lines.iter().map(|l| l.result.clone()).collect();
            eps.sort_by_key(|e| e.seed);
            eps.dedup_by_key(|e| e.seed);
            let budget = lines.first().and_then(|l| l.samples_per_step);
            let mut summary = RunSummary::of(
                c.task.name(),
                &c.model_name,
                &c.planner_name,
                suite.seed,
                &eps,
            );
            summary.samples_per_step = budget;
            summary.privileged_goals = c
                .run_config()
                .map_or(true, |cfg| setup::privileged_goals(&c.model, &cfg));
            Some(Cell {
                summary,
                episodes: eps,
            })
        })
        .collect()
}

/// Writes the report from everything in `done`; reads the replays on disk.
fn write_report(
    out: &Path,
    suite: &Suite,
    cells: &[CellSpec],
    done: &HashMap<String, Vec<ResultLine>>,
    replays: &mut Vec<Replay>,
) -> Result<PathBuf> {
    replays.clear();
    let dir = out.join("replays");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let rp: Replay = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a replay", p.display()))?;
            replays.push(rp);
        }
    }
    let rc = report_cells(suite, cells, done);
    reports::write_html(out, &suite.title, &rc, replays)
}
