//! The report page of `run`, `demo` and `bench`: the summary table, the four plots (success per
//! task and planner, plan latency distribution, energy per optimizer iteration, success against
//! planning budget) and the 3D replays, written as one offline `index.html` plus the SVG files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::closed_loop::EpisodeResult;
use crate::replay::Replay;
use crate::report::html::{ReportPage, Section, write_index};
use crate::report::svg::{Series, bar_chart, cdf_chart, line_chart};
use crate::summary::{RunSummary, markdown_table};

/// The episodes of one (task, model, planner) combination.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Their summary.
    pub summary: RunSummary,
    /// Per-episode results.
    pub episodes: Vec<EpisodeResult>,
}

impl Cell {
    /// `model / planner`, with the model's file name only.
    pub fn label(&self) -> String {
        let m = Path::new(&self.summary.model)
            .file_stem()
            .map_or(self.summary.model.clone(), |s| {
                s.to_string_lossy().into_owned()
            });
        if self.summary.planner == m {
            m
        } else {
            format!("{m} / {}", self.summary.planner)
        }
    }
}

/// The four plots as `(file name, title, svg)`.
pub fn plots(cells: &[Cell]) -> Vec<(String, String, String)> {
    let mut tasks: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for c in cells {
        if !tasks.contains(&c.summary.task) {
            tasks.push(c.summary.task.clone());
        }
        if !labels.contains(&c.label()) {
            labels.push(c.label());
        }
    }
    let series: Vec<(String, Vec<f64>)> = labels
        .iter()
        .map(|l| {
            let v = tasks
                .iter()
                .map(|t| {
                    cells
                        .iter()
                        .find(|c| &c.label() == l && &c.summary.task == t)
                        .map_or(f64::NAN, |c| c.summary.success_rate)
                })
                .collect();
            (l.clone(), v)
        })
        .collect();
    let success = bar_chart(
        "Success rate per task and planner",
        "success rate",
        &tasks,
        &series,
        Some(1.0),
    );
    let planned: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.summary.planner != "expert")
        .collect();
    let latency = cdf_chart(
        "Planning time per control step",
        "ms",
        &planned
            .iter()
            .map(|c| {
                let v = c.episodes.iter().flat_map(|e| e.plan_ms.clone()).collect();
                (format!("{} ({})", c.label(), c.summary.task), v)
            })
            .collect::<Vec<_>>(),
        true,
    );
    let energy = line_chart(
        "Best energy per optimizer iteration (relative to the first, mean over steps)",
        "iteration",
        "energy / first iteration",
        &planned
            .iter()
            .map(|c| Series {
                name: format!("{} ({})", c.label(), c.summary.task),
                points: mean_curve(&c.episodes)
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64 + 1.0, v))
                    .collect(),
            })
            .collect::<Vec<_>>(),
        false,
        false,
    );
    let budget = line_chart(
        "Success against planning budget (median ms per control step)",
        "plan ms p50",
        "success rate",
        &tasks
            .iter()
            .map(|t| {
                let mut points: Vec<(f64, f64)> = planned
                    .iter()
                    .filter(|c| &c.summary.task == t)
                    .map(|c| (c.summary.plan_ms_p50, c.summary.success_rate))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series {
                    name: t.clone(),
                    points,
                }
            })
            .collect::<Vec<_>>(),
        true,
        false,
    );
    vec![
        ("success.svg".into(), "Success rate".into(), success),
        ("latency.svg".into(), "Planning latency".into(), latency),
        ("energy.svg".into(), "Energy per iteration".into(), energy),
        ("budget.svg".into(), "Success against budget".into(), budget),
    ]
}

/// Mean over episodes of [`EpisodeResult::iteration_energy`], per iteration.
fn mean_curve(eps: &[EpisodeResult]) -> Vec<f64> {
    let n = eps
        .iter()
        .map(|e| e.iteration_energy.len())
        .max()
        .unwrap_or(0);
    (0..n)
        .map(|i| {
            let v: Vec<f64> = eps
                .iter()
                .filter_map(|e| e.iteration_energy.get(i))
                .filter(|v| v.is_finite())
                .map(|&v| f64::from(v))
                .collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect()
}

/// Writes `plots/*.svg`, `summary.md` (the table, then the paired comparisons of
/// [`crate::paired`] when a task and model has several planners) and `index.html` into `dir`;
/// returns the page's path.
pub fn write_html(dir: &Path, title: &str, cells: &[Cell], replays: &[Replay]) -> Result<PathBuf> {
    let plot_dir = dir.join("plots");
    std::fs::create_dir_all(&plot_dir)
        .with_context(|| format!("creating {}", plot_dir.display()))?;
    let summaries: Vec<RunSummary> = cells.iter().map(|c| c.summary.clone()).collect();
    let mut table = markdown_table(&summaries);
    let pairs = crate::paired::markdown(&crate::paired::paired(cells));
    if !pairs.is_empty() {
        table.push('\n');
        table.push_str(&pairs);
    }
    sim::dataset::write_atomic(&dir.join("summary.md"), table.as_bytes())?;
    let mut sections = vec![Section::Markdown(format!("# {title}\n\n{table}"))];
    for (file, name, svg) in plots(cells) {
        sim::dataset::write_atomic(&plot_dir.join(&file), svg.as_bytes())?;
        sections.push(Section::Svg { title: name, svg });
    }
    if !replays.is_empty() {
        sections.push(Section::Replays(replays.to_vec()));
    }
    write_index(
        dir,
        &ReportPage {
            title: title.into(),
            sections,
        },
    )
}
