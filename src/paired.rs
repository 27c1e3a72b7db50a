//! Paired comparisons of success: two planners run on the same episode seeds differ only where
//! one succeeds and the other fails, so their difference is measured far more precisely than two
//! independent success rates would suggest (the seeds that both solve, or both fail, cancel).
//!
//! Every planner of a (task, model) is compared with the first planner of that (task, model) in
//! suite order, the reference, on the seeds both ran. The difference in success is
//! `(only_planner - only_reference) / n`; its standard error is that of the mean of the per-seed
//! differences `d_i` in {-1, 0, 1}: `sqrt((mean(d^2) - mean(d)^2) / n)`. The 95% interval is the
//! normal approximation, `difference +- 1.96 SE`, rough when few seeds disagree.

use std::collections::HashMap;

use crate::reports::Cell;

/// Two-sided 95% quantile of the standard normal distribution.
const Z95: f64 = 1.96;

/// One planner against the reference planner of its (task, model), on their shared seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// Task name.
    pub task: String,
    /// Model file, `oracle` or `expert`.
    pub model: String,
    /// The planner compared.
    pub planner: String,
    /// The reference planner: the first of this (task, model).
    pub reference: String,
    /// Seeds both planners ran.
    pub seeds: usize,
    /// Seeds that only `planner` solved.
    pub only_planner: usize,
    /// Seeds that only `reference` solved.
    pub only_reference: usize,
}

impl Paired {
    /// `planner`'s success minus `reference`'s on the shared seeds, in percentage points.
    pub fn difference_points(&self) -> f64 {
        if self.seeds == 0 {
            return 0.0;
        }
        100.0 * (self.only_planner as f64 - self.only_reference as f64) / self.seeds as f64
    }

    /// Standard error of [`Paired::difference_points`], in percentage points.
    pub fn standard_error_points(&self) -> f64 {
        if self.seeds == 0 {
            return 0.0;
        }
        let n = self.seeds as f64;
        let mean = (self.only_planner as f64 - self.only_reference as f64) / n;
        let mean_sq = (self.only_planner + self.only_reference) as f64 / n;
        100.0 * ((mean_sq - mean * mean).max(0.0) / n).sqrt()
    }
}

/// Every planner after the first of each (task, model) in `cells` (suite order) against that
/// first one; (task, model) pairs with one planner give nothing.
pub fn paired(cells: &[Cell]) -> Vec<Paired> {
    let mut reference: HashMap<(&str, &str), &Cell> = HashMap::new();
    let mut out = Vec::new();
    for c in cells {
        let key = (c.summary.task.as_str(), c.summary.model.as_str());
        let Some(r) = reference.get(&key) else {
            reference.insert(key, c);
            continue;
        };
        let by_seed: HashMap<u64, bool> = r.episodes.iter().map(|e| (e.seed, e.success)).collect();
        let mut p = Paired {
            task: c.summary.task.clone(),
            model: c.summary.model.clone(),
            planner: c.summary.planner.clone(),
            reference: r.summary.planner.clone(),
            seeds: 0,
            only_planner: 0,
            only_reference: 0,
        };
        for e in &c.episodes {
            let Some(&ref_success) = by_seed.get(&e.seed) else {
                continue;
            };
            p.seeds += 1;
            match (e.success, ref_success) {
                (true, false) => p.only_planner += 1,
                (false, true) => p.only_reference += 1,
                _ => {}
            }
        }
        out.push(p);
    }
    out
}

/// A Markdown section with one row per comparison; empty for none.
pub fn markdown(rows: &[Paired]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "## Paired against the first planner (same seeds)\n\n\
         | task | model | planner | against | seeds | only planner | only against | difference (points) | 95% interval |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for p in rows {
        let (d, se) = (p.difference_points(), p.standard_error_points());
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:+.1} | {:+.1} .. {:+.1} |\n",
            p.task,
            p.model,
            p.planner,
            p.reference,
            p.seeds,
            p.only_planner,
            p.only_reference,
            d,
            d - Z95 * se,
            d + Z95 * se
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::closed_loop::EpisodeResult;
    use crate::summary::RunSummary;

    fn cell(task: &str, model: &str, planner: &str, outcomes: &[(u64, bool)]) -> Cell {
        let episodes: Vec<EpisodeResult> = outcomes
            .iter()
            .map(|&(seed, success)| EpisodeResult {
                seed,
                success,
                steps: 1,
                final_distance: 0.0,
                plan_ms: vec![1.0],
                energy: vec![0.0],
                degraded_steps: 0,
                iteration_energy: Vec::new(),
            })
            .collect();
        Cell {
            summary: RunSummary::of(task, model, planner, 0, &episodes),
            episodes,
        }
    }

    #[test]
    fn planners_are_compared_with_the_first_of_their_task_and_model_on_shared_seeds() {
        let cells = [
            cell(
                "push",
                "m",
                "cem",
                &[(0, true), (1, true), (2, false), (3, true)],
            ),
            // Seed 9 is not the reference's: left out.
            cell(
                "push",
                "m",
                "grad",
                &[(0, true), (1, false), (2, true), (3, false), (9, true)],
            ),
            cell("push", "expert", "expert", &[(0, true)]),
            cell("reach", "m", "grad", &[(0, true)]),
        ];
        let rows = paired(&cells);
        assert_eq!(rows.len(), 1, "{rows:?}");
        let p = &rows[0];
        assert_eq!((p.planner.as_str(), p.reference.as_str()), ("grad", "cem"));
        assert_eq!((p.seeds, p.only_planner, p.only_reference), (4, 1, 2));
        assert!((p.difference_points() - -25.0).abs() < 1e-9);
        // d = [0, -1, 1, -1]: mean -0.25, mean of squares 0.75, var 0.6875, SE sqrt(0.6875/4).
        let se = 100.0 * (0.6875f64 / 4.0).sqrt();
        assert!((p.standard_error_points() - se).abs() < 1e-9);
        let md = markdown(&rows);
        assert!(
            md.contains("| push | m | grad | cem | 4 | 1 | 2 | -25.0 |"),
            "{md}"
        );
        assert!(markdown(&[]).is_empty());
    }

    #[test]
    fn identical_outcomes_differ_by_zero_with_zero_error() {
        let a = [(0, true), (1, false), (2, true)];
        let rows = paired(&[cell("reach", "m", "a", &a), cell("reach", "m", "b", &a)]);
        assert_eq!(rows[0].difference_points(), 0.0);
        assert_eq!(rows[0].standard_error_points(), 0.0);
    }
}
