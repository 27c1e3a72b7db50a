//! Training sequences: observations and actions grouped by episode, the train/validation split,
//! and the per-dimension observation normalization.

use crate::error::{ModelError, check_len};

/// One episode's position in [`Sequences`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First observation row.
    pub obs_start: usize,
    /// First action row.
    pub act_start: usize,
    /// Actions in the episode (it has `len + 1` observations).
    pub len: usize,
}

/// Episodes of observations and actions (the content of a dataset file, without the simulator).
#[derive(Debug, Clone, PartialEq)]
pub struct Sequences {
    /// Floats per observation.
    pub obs_dim: usize,
    /// Floats per action.
    pub action_dim: usize,
    /// Observations, `(rows, obs_dim)`.
    pub obs: Vec<f32>,
    /// Actions, `(rows, action_dim)`.
    pub actions: Vec<f32>,
    /// Privileged state per observation row, `(rows, state_dim)`, for probes; may be empty.
    pub states: Vec<f32>,
    /// Floats per state row (0 when `states` is empty).
    pub state_dim: usize,
    /// Episodes in order.
    pub spans: Vec<Span>,
    /// Episodes per source (e.g. per dataset file), in order; they add up to `spans.len()`.
    /// [`Sequences::split`] holds out the last episodes of each source.
    pub groups: Vec<usize>,
}

impl Sequences {
    /// Builds the spans from per-episode action counts and checks every length.
    pub fn new(
        obs_dim: usize,
        action_dim: usize,
        obs: Vec<f32>,
        actions: Vec<f32>,
        states: Vec<f32>,
        state_dim: usize,
        lengths: &[usize],
    ) -> Result<Self, ModelError> {
        let mut spans = Vec::with_capacity(lengths.len());
        let (mut o, mut a) = (0usize, 0usize);
        for &len in lengths {
            spans.push(Span {
                obs_start: o,
                act_start: a,
                len,
            });
            o += len + 1;
            a += len;
        }
        check_len("obs", obs.len(), o * obs_dim)?;
        check_len("actions", actions.len(), a * action_dim)?;
        if !states.is_empty() {
            check_len("states", states.len(), o * state_dim)?;
        }
        Ok(Self {
            obs_dim,
            action_dim,
            obs,
            actions,
            states,
            state_dim,
            groups: vec![spans.len()],
            spans,
        })
    }

    /// Concatenates sequences from several sources (same observation, action and state widths),
    /// keeping each source as a group for [`Sequences::split`].
    pub fn concat(parts: Vec<Sequences>) -> Result<Self, ModelError> {
        let mut iter = parts.into_iter();
        let Some(mut out) = iter.next() else {
            return Err(ModelError::InvalidSpec(
                "no sequences to concatenate".into(),
            ));
        };
        for p in iter {
            for (what, a, b) in [
                ("obs_dim", out.obs_dim, p.obs_dim),
                ("action_dim", out.action_dim, p.action_dim),
                ("state_dim", out.state_dim, p.state_dim),
            ] {
                if a != b {
                    return Err(ModelError::Incompatible(format!(
                        "cannot concatenate data with {what} {a} and {b}"
                    )));
                }
            }
            let (o, a) = (
                out.obs.len() / out.obs_dim.max(1),
                out.actions.len() / out.action_dim.max(1),
            );
            out.spans.extend(p.spans.iter().map(|s| Span {
                obs_start: s.obs_start + o,
                act_start: s.act_start + a,
                len: s.len,
            }));
            out.obs.extend_from_slice(&p.obs);
            out.actions.extend_from_slice(&p.actions);
            out.states.extend_from_slice(&p.states);
            out.groups.extend_from_slice(&p.groups);
        }
        Ok(out)
    }

    /// Observation `t` of episode `e`, `(obs_dim,)`.
    pub fn obs_at(&self, e: usize, t: usize) -> &[f32] {
        let r = self.spans[e].obs_start + t;
        &self.obs[r * self.obs_dim..(r + 1) * self.obs_dim]
    }

    /// Action `t` of episode `e`, `(action_dim,)`.
    pub fn action_at(&self, e: usize, t: usize) -> &[f32] {
        let r = self.spans[e].act_start + t;
        &self.actions[r * self.action_dim..(r + 1) * self.action_dim]
    }

    /// State `t` of episode `e`, `(state_dim,)`; empty if no states were given.
    pub fn state_at(&self, e: usize, t: usize) -> &[f32] {
        if self.states.is_empty() {
            return &[];
        }
        let r = self.spans[e].obs_start + t;
        &self.states[r * self.state_dim..(r + 1) * self.state_dim]
    }

    /// Splits episode indices into (train, validation): of each group (source), the last
    /// `ceil(fraction * n)` episodes are held out (at least one when the group has two or more).
    pub fn split(&self, fraction: f32) -> (Vec<usize>, Vec<usize>) {
        let (mut train, mut val) = (Vec::new(), Vec::new());
        let mut start = 0;
        for &n in &self.groups {
            let mut held = ((fraction * n as f32).ceil() as usize).min(n.saturating_sub(1));
            if fraction > 0.0 && n >= 2 {
                held = held.max(1);
            }
            train.extend(start..start + n - held);
            val.extend(start + n - held..start + n);
            start += n;
        }
        (train, val)
    }
}

/// Per-dimension observation normalization `(obs - mean) / std`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    /// `(obs_dim,)`
    pub mean: Vec<f32>,
    /// `(obs_dim,)`, at least [`Normalizer::MIN_STD`].
    pub std: Vec<f32>,
}

impl Normalizer {
    /// Floor of the stored standard deviation (constant dimensions would divide by zero).
    pub const MIN_STD: f32 = 1e-3;

    /// Statistics of the observations of `episodes`, accumulated in f64.
    pub fn fit(seqs: &Sequences, episodes: &[usize]) -> Self {
        let d = seqs.obs_dim;
        let mut sum = vec![0.0f64; d];
        let mut sq = vec![0.0f64; d];
        let mut n = 0usize;
        for &e in episodes {
            for t in 0..=seqs.spans[e].len {
                for (j, &v) in seqs.obs_at(e, t).iter().enumerate() {
                    sum[j] += v as f64;
                    sq[j] += (v as f64) * (v as f64);
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| {
                let m = s / n;
                ((q / n - m * m).max(0.0).sqrt() as f32).max(Self::MIN_STD)
            })
            .collect();
        Self { mean, std }
    }

    /// Normalizes `obs`, `(rows, obs_dim)`, into `out` of the same shape.
    pub fn apply(&self, obs: &[f32], out: &mut [f32]) {
        let d = self.mean.len();
        for (i, (o, &x)) in out.iter_mut().zip(obs).enumerate() {
            let j = i % d;
            *o = (x - self.mean[j]) / self.std[j];
        }
    }
}
