//! [`RunSummary`]: what `ebmpc run`, `demo` and `bench` report for a set of episodes.

use serde::{Deserialize, Serialize};

use crate::closed_loop::EpisodeResult;

/// Summary of the episodes of one (task, model, planner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Task name.
    pub task: String,
    /// Model file, `oracle` or `expert`.
    pub model: String,
    /// Optimizer name (`expert` for the scripted expert).
    pub planner: String,
    /// Episodes run.
    pub episodes: usize,
    /// Successful episodes.
    pub successes: usize,
    /// successes / episodes.
    pub success_rate: f64,
    /// Median planning time per control step (ms).
    pub plan_ms_p50: f64,
    /// 99th percentile of the planning time per control step (ms).
    pub plan_ms_p99: f64,
    /// Mean control steps per episode.
    pub steps_mean: f64,
    /// Mean final task distance (m).
    pub final_distance_mean: f64,
    /// Control steps whose solve hit the deadline or fell back.
    pub degraded_steps: usize,
    /// Seed of the first episode.
    pub seed: u64,
    /// Whether the controller saw more than the goal observation: phase sub-goals or expert
    /// demonstrations built from the simulator's state, or the simulator itself (oracle,
    /// expert). `false`: planned from the current and the goal observation alone. Results of the
    /// two kinds are never to be mixed; summaries written before the field existed read as
    /// `true` (not known to be goal-only).
    #[serde(default = "unknown_is_privileged")]
    pub privileged_goals: bool,
    /// Rollout samples per control step (the planning budget), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_per_step: Option<usize>,
}

fn unknown_is_privileged() -> bool {
    true
}

/// The `p`-quantile (0..=1) of sorted values, nearest rank; 0 for none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

impl RunSummary {
    /// Summarizes `results`; `seed` is the first episode's.
    pub fn of(
        task: &str,
        model: &str,
        planner: &str,
        seed: u64,
        results: &[EpisodeResult],
    ) -> Self {
        let mut times: Vec<f64> = results
            .iter()
            .flat_map(|r| r.plan_ms.iter().copied())
            .collect();
        times.sort_by(f64::total_cmp);
        let n = results.len().max(1) as f64;
        let successes = results.iter().filter(|r| r.success).count();
        Self {
            task: task.into(),
            model: model.into(),
            planner: planner.into(),
            episodes: results.len(),
            successes,
            success_rate: successes as f64 / n,
            plan_ms_p50: percentile(&times, 0.5),
            plan_ms_p99: percentile(&times, 0.99),
            steps_mean: results.iter().map(|r| r.steps as f64).sum::<f64>() / n,
            final_distance_mean: results
                .iter()
                .map(|r| f64::from(r.final_distance))
                .sum::<f64>()
                / n,
            degraded_steps: results.iter().map(|r| r.degraded_steps).sum(),
            seed,
            privileged_goals: true,
            samples_per_step: None,
        }
    }

    /// One line for a terminal.
    pub fn line(&self) -> String {
        format!(
            "{} with {} / {} ({}): {}/{} succeeded ({:.1}%), {:.1} steps, final distance {:.3} m; \
             planning per step p50 {:.2} ms, p99 {:.2} ms",
            self.task,
            self.model,
            self.planner,
            self.goals_label(),
            self.successes,
            self.episodes,
            100.0 * self.success_rate,
            self.steps_mean,
            self.final_distance_mean,
            self.plan_ms_p50,
            self.plan_ms_p99
        )
    }
}

impl RunSummary {
    /// `goal only` or `privileged goals`, for tables and lines.
    pub fn goals_label(&self) -> &'static str {
        if self.privileged_goals {
            "privileged goals"
        } else {
            "goal only"
        }
    }
}

/// A Markdown table of summaries.
pub fn markdown_table(rows: &[RunSummary]) -> String {
    let mut s = String::from(
        "| task | model | planner | goals | samples/step | episodes | success | plan ms p50 | plan ms p99 | steps | final dist (m) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {}/{} ({:.1}%) | {:.2} | {:.2} | {:.1} | {:.3} |\n",
            r.task,
            r.model,
            r.planner,
            r.goals_label(),
            r.samples_per_step
                .map_or("-".to_string(), |n| n.to_string()),
            r.episodes,
            r.successes,
            r.episodes,
            100.0 * r.success_rate,
            r.plan_ms_p50,
            r.plan_ms_p99,
            r.steps_mean,
            r.final_distance_mean
        ));
    }
    s
}
