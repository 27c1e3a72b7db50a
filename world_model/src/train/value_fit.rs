//! Training the goal-conditioned cost-to-go [`GoalValue`] on a frozen world model's latents.
//!
//! No reward and no task code: every training pair is a latent `z` of a recorded episode and a
//! goal latent relabelled from the same episode, its target the number of control steps the
//! episode took from one to the other:
//!
//! - *hindsight*: the goal is a later observation of the episode, `k` steps on; the target is
//!   `k`;
//! - *episode goal*: the goal is the episode's goal observation (the scene the episode was asked
//!   to reach); in an episode that reached it, the target is the steps left until it did
//!   (`len - settle_steps - t`). In one that did not, the steps left in the episode are a lower
//!   bound on the distance, trained with a one-sided (hinge) loss.
//!
//! The planner queries the value at *predicted* latents, which drift from encoded ones, so a
//! share of the rows replaces the encoded `z_t` by the latent the frozen predictor reaches from
//! `z_{t-j}` with the recorded actions (`j` in [`ValueFitConfig::predict_steps`]).
//!
//! The loss is an expectile regression (`|tau - 1(u < 0)| u^2`, `u = target - V`): with
//! `tau < 0.5`, over-estimates cost more than under-estimates, so the value leans toward the
//! shorter of the noisy data's paths between the same two states (IQL, HIQL).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::ModelError;
use crate::mlp::{LayerNormParams, Linear, Mlp, MlpSpec};
use crate::model::MlpWorldModel;
use crate::seam::WorldModel;
use crate::train::adamw::{AdamW, lr_at};
use crate::train::data::Sequences;
use crate::train::net::{Cache, TrainMlp};
use crate::train::params::ParamLayout;
use crate::value::GoalValue;

/// How the goal value is trained; `[value]` in a TOML file. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValueFitConfig {
    /// Hidden widths of the value MLP (`[z, g] -> V`), each >= 1. Default `[256, 256]`.
    pub hidden: Vec<usize>,
    /// Nonlinearity of the hidden layers. Default GELU.
    pub activation: Activation,
    /// LayerNorm after each hidden layer. Default true.
    pub layer_norm: bool,
    /// Control steps per unit of the network's output (> 0): targets are divided by it.
    /// Default 10.
    pub steps_per_unit: f32,
    /// Optimizer steps (1..=1_000_000). Default 6000.
    pub steps: u64,
    /// Rows per batch (1..=65536). Default 512.
    pub batch_size: usize,
    /// Peak learning rate (AdamW, warmup then cosine decay), > 0. Default 1e-3.
    pub lr: f32,
    /// Decoupled weight decay on weights (>= 0). Default 1e-4.
    pub weight_decay: f32,
    /// Expectile `tau` in (0, 1): 0.5 is the mean squared error. Default 0.3.
    pub expectile: f32,
    /// Share of rows whose goal is the episode's goal observation (the rest: hindsight goals),
    /// in [0, 1]. Default 0.5.
    pub goal_fraction: f32,
    /// Weight of the one-sided loss on episode-goal rows of episodes that did not reach their
    /// goal (>= 0; 0: such rows are skipped). Default 0.5.
    pub failure_weight: f32,
    /// Share of rows whose goal is an observation (or the goal) of another episode, trained as
    /// at least `negative_steps` away with the one-sided loss, in [0, 1]; with `goal_fraction`
    /// at most 1. It keeps the value high in states the data never connects to a goal, which
    /// a planner would otherwise seek out. Default 0.2.
    pub negative_fraction: f32,
    /// The lower bound, in control steps, of a goal from another episode (>= 0). Default 40.
    pub negative_steps: f32,
    /// Share of rows whose `z` is a predicted latent instead of an encoded one, in [0, 1].
    /// Default 0.5.
    pub predicted_fraction: f32,
    /// Predictor steps behind each predicted latent (each in 1..=64), one drawn per row.
    /// Default `[4, 8, 16]`.
    pub predict_steps: Vec<usize>,
    /// Seed of the initialization and the batch draws.
    pub seed: u64,
}

impl Default for ValueFitConfig {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            activation: Activation::Gelu,
            layer_norm: true,
            steps_per_unit: 10.0,
            steps: 6000,
            batch_size: 512,
            lr: 1e-3,
            weight_decay: 1e-4,
            expectile: 0.3,
            goal_fraction: 0.5,
            failure_weight: 0.5,
            negative_fraction: 0.2,
            negative_steps: 40.0,
            predicted_fraction: 0.5,
            predict_steps: vec![4, 8, 16],
            seed: 0,
        }
    }
}

impl ValueFitConfig {
    /// Range checks; the error names the key, the value and the limit.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad =
            |key: &str, msg: String| Err(ModelError::InvalidSpec(format!("value.{key} {msg}")));
        if let Some(i) = self.hidden.iter().position(|&w| !(1..=4096).contains(&w)) {
            return bad(
                "hidden",
                format!("[{i}] = {} is not in 1..=4096", self.hidden[i]),
            );
        }
        if !(self.steps_per_unit.is_finite() && self.steps_per_unit > 0.0) {
            return bad(
                "steps_per_unit",
                format!("= {} must be > 0", self.steps_per_unit),
            );
        }
        if !(1..=1_000_000).contains(&self.steps) {
            return bad("steps", format!("= {} is not in 1..=1000000", self.steps));
        }
        if !(1..=65536).contains(&self.batch_size) {
            return bad(
                "batch_size",
                format!("= {} is not in 1..=65536", self.batch_size),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("= {} must be > 0", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(
                "weight_decay",
                format!("= {} must be >= 0", self.weight_decay),
            );
        }
        if !(self.expectile > 0.0 && self.expectile < 1.0) {
            return bad(
                "expectile",
                format!("= {} is not in (0, 1)", self.expectile),
            );
        }
        for (key, v) in [
            ("goal_fraction", self.goal_fraction),
            ("predicted_fraction", self.predicted_fraction),
            ("negative_fraction", self.negative_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(key, format!("= {v} is not in [0, 1]"));
            }
        }
        if self.goal_fraction + self.negative_fraction > 1.0 {
            return bad(
                "negative_fraction",
                format!(
                    "= {} plus goal_fraction {} exceeds 1",
                    self.negative_fraction, self.goal_fraction
                ),
            );
        }
        if !(self.negative_steps.is_finite() && self.negative_steps >= 0.0) {
            return bad(
                "negative_steps",
                format!("= {} must be >= 0", self.negative_steps),
            );
        }
        if !(self.failure_weight.is_finite() && self.failure_weight >= 0.0) {
            return bad(
                "failure_weight",
                format!("= {} must be >= 0", self.failure_weight),
            );
        }
        if self.predicted_fraction > 0.0 && self.predict_steps.is_empty() {
            return bad(
                "predict_steps",
                "is empty but predicted_fraction > 0".into(),
            );
        }
        if let Some(&j) = self.predict_steps.iter().find(|&&j| !(1..=64).contains(&j)) {
            return bad("predict_steps", format!("holds {j}, not in 1..=64"));
        }
        Ok(())
    }
}

/// The recorded episodes a value is trained on.
#[derive(Debug, Clone, Copy)]
pub struct ValueData<'a> {
    /// Observations and actions by episode.
    pub seqs: &'a Sequences,
    /// `(episodes, obs_dim)`: each episode's goal observation.
    pub goals: &'a [f32],
    /// `(episodes,)`: whether the episode reached its goal.
    pub success: &'a [bool],
    /// `(episodes,)`: steps each successful episode went on after reaching its goal.
    pub settle: &'a [usize],
}

/// Held-out scores of a trained value, in control steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueReport {
    /// Mean absolute error on episode-goal rows of successful held-out episodes, encoded `z`.
    pub goal_mae_steps: f32,
    /// The same with `z` predicted from `max(predict_steps)` steps back.
    pub goal_mae_steps_predicted: f32,
    /// Mean absolute error on hindsight rows of held-out episodes (encoded `z`).
    pub hindsight_mae_steps: f32,
    /// Share of consecutive steps of successful held-out episodes along which the value to the
    /// episode's goal falls (1: strictly monotone).
    pub monotone_fraction: f32,
    /// Held-out rows scored.
    pub rows: usize,
}

/// Latents of every episode: encoded, and predicted from `j` steps back for each `j`.
struct Latents {
    d: usize,
    /// Per episode, `(len + 1, d)`.
    encoded: Vec<Vec<f32>>,
    /// Per `predict_steps` entry, per episode, `(len + 1, d)`; rows `t < j` copy the encoded.
    predicted: Vec<Vec<Vec<f32>>>,
    /// `(episodes, d)`.
    goals: Vec<f32>,
}

fn latents(
    model: &MlpWorldModel,
    data: &ValueData<'_>,
    predict_steps: &[usize],
) -> Result<Latents, ModelError> {
    let dims = model.dims();
    let (d, na) = (dims.latent_dim, dims.action_dim);
    let seqs = data.seqs;
    let mut ws = model.workspace(1024);
    let mut encoded = Vec::with_capacity(seqs.spans.len());
    for span in &seqs.spans {
        let rows = span.len + 1;
        let obs = &seqs.obs[span.obs_start * seqs.obs_dim..(span.obs_start + rows) * seqs.obs_dim];
        let mut z = vec![0.0f32; rows * d];
        model.encode(obs, &mut z, &mut ws)?;
        encoded.push(z);
    }
    let mut predicted = Vec::new();
    for &j in predict_steps {
        let mut per_ep = Vec::with_capacity(seqs.spans.len());
        for (e, z) in encoded.iter().enumerate() {
            let len = seqs.spans[e].len;
            let mut out = z.clone();
            if len >= j {
                // Start rows 0..=len-j, rolled j steps with the recorded actions.
                let starts = len + 1 - j;
                let mut cur = z[..starts * d].to_vec();
                let mut next = vec![0.0f32; starts * d];
                let mut a = vec![0.0f32; starts * na];
                for i in 0..j {
                    for s in 0..starts {
                        a[s * na..(s + 1) * na].copy_from_slice(seqs.action_at(e, s + i));
                    }
                    model.step(&cur, &a, &mut next, &mut ws)?;
                    std::mem::swap(&mut cur, &mut next);
                }
                out[j * d..].copy_from_slice(&cur);
            }
            per_ep.push(out);
        }
        predicted.push(per_ep);
    }
    let mut goals = vec![0.0f32; seqs.spans.len() * d];
    model.encode(data.goals, &mut goals, &mut ws)?;
    Ok(Latents {
        d,
        encoded,
        predicted,
        goals,
    })
}

/// One training or scoring row.
#[derive(Debug, Clone, Copy)]
struct Row {
    episode: usize,
    t: usize,
    /// `None`: encoded `z_t`; `Some(i)`: `predicted[i]`.
    predicted: Option<usize>,
    /// Whose goal: `(episode, None)` that episode's goal observation, `(episode, Some(i))` its
    /// observation `i`.
    goal: (usize, Option<usize>),
    /// Target in control steps.
    target: f32,
    /// 0: the target is exact; > 0: it is a lower bound, trained with a one-sided loss of this
    /// weight.
    hinge: f32,
}

fn draw_row(
    rng: &mut impl Rng,
    cfg: &ValueFitConfig,
    data: &ValueData<'_>,
    episodes: &[usize],
) -> Option<Row> {
    let e = episodes[rng.random_range(0..episodes.len())];
    let len = data.seqs.spans[e].len;
    let t = rng.random_range(0..=len);
    let predicted = (rng.random::<f32>() < cfg.predicted_fraction)
        .then(|| rng.random_range(0..cfg.predict_steps.len()))
        .filter(|&i| t >= cfg.predict_steps[i]);
    let row = |goal, target, hinge| Row {
        episode: e,
        t,
        predicted,
        goal,
        target,
        hinge,
    };
    let u = rng.random::<f32>();
    if u < cfg.negative_fraction {
        // A goal from another episode: far, as far as anyone knows (a lower bound only).
        let e2 = episodes[rng.random_range(0..episodes.len())];
        if e2 == e {
            return None;
        }
        let i = rng.random_range(0..=data.seqs.spans[e2].len + 1);
        let goal = (e2, (i <= data.seqs.spans[e2].len).then_some(i));
        return Some(row(goal, cfg.negative_steps, 1.0));
    }
    if u < cfg.negative_fraction + cfg.goal_fraction {
        if data.success[e] {
            let reached = len.saturating_sub(data.settle[e]);
            return Some(row((e, None), reached.saturating_sub(t) as f32, 0.0));
        }
        if cfg.failure_weight == 0.0 {
            return None;
        }
        return Some(row((e, None), (len - t) as f32, cfg.failure_weight));
    }
    let k = rng.random_range(0..=len - t);
    Some(row((e, Some(t + k)), k as f32, 0.0))
}

/// Writes the `[z, g]` input of `row` into `x` (`(2 d,)`).
fn input_of(lat: &Latents, row: &Row, x: &mut [f32]) {
    let d = lat.d;
    let src = match row.predicted {
        None => &lat.encoded[row.episode],
        Some(i) => &lat.predicted[i][row.episode],
    };
    x[..d].copy_from_slice(&src[row.t * d..(row.t + 1) * d]);
    match row.goal {
        (e, None) => x[d..].copy_from_slice(&lat.goals[e * d..(e + 1) * d]),
        (e, Some(i)) => x[d..].copy_from_slice(&lat.encoded[e][i * d..(i + 1) * d]),
    }
}

/// Trains a [`GoalValue`] for `model` on the `fit` episodes of `data`, scores it on `held`, and
/// calls `progress(step)` after each optimizer step.
pub fn fit_value(
    model: &MlpWorldModel,
    data: &ValueData<'_>,
    fit: &[usize],
    held: &[usize],
    cfg: &ValueFitConfig,
    mut progress: impl FnMut(u64),
) -> Result<(GoalValue, ValueReport), ModelError> {
    cfg.validate()?;
    let n = data.seqs.spans.len();
    let od = data.seqs.obs_dim;
    if data.goals.len() != n * od || data.success.len() != n || data.settle.len() != n {
        return Err(ModelError::InvalidSpec(format!(
            "value data: {n} episodes but {} goal values ({od} per goal), {} success flags, \
             {} settle counts",
            data.goals.len(),
            data.success.len(),
            data.settle.len()
        )));
    }
    if fit.is_empty() {
        return Err(ModelError::InvalidSpec(
            "no episodes to fit the value on".into(),
        ));
    }
    let lat = latents(model, data, &cfg.predict_steps)?;
    let d = lat.d;
    let spec = MlpSpec {
        input_dim: 2 * d,
        hidden: cfg.hidden.clone(),
        output_dim: 1,
        activation: cfg.activation,
        layer_norm: cfg.layer_norm,
    };
    let mut layout = ParamLayout::default();
    let net = TrainMlp::new(spec.clone(), &mut layout, "value.");
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut params = layout.init(&mut rng);
    let mut decay = vec![false; layout.len()];
    for s in &layout.slots {
        if s.shape.len() >= 2 {
            decay[s.range()].fill(true);
        }
    }
    let mut opt = AdamW::new(layout.len());
    let mut grads = vec![0.0f32; layout.len()];
    let b = cfg.batch_size;
    let mut x = vec![0.0f32; b * 2 * d];
    let mut rows = Vec::with_capacity(b);
    let mut g_out = vec![0.0f32; b];
    let mut cache = Cache::default();
    let warmup = (cfg.steps / 20).max(1);
    for step in 0..cfg.steps {
        rows.clear();
        while rows.len() < b {
            if let Some(r) = draw_row(&mut rng, cfg, data, fit) {
                rows.push(r);
            }
        }
        for (r, xr) in rows.iter().zip(x.chunks_exact_mut(2 * d)) {
            input_of(&lat, r, xr);
        }
        net.forward(&params, &x, b, &mut cache);
        for ((g, r), v) in g_out.iter_mut().zip(&rows).zip(&cache.output) {
            let u = r.target / cfg.steps_per_unit - v;
            // d/dv of |tau - 1(u<0)| u^2 is -2 |tau - 1(u<0)| u.
            let w = if u < 0.0 {
                1.0 - cfg.expectile
            } else {
                cfg.expectile
            };
            let scale = match (r.hinge, u > 0.0) {
                (0.0, _) => 1.0,
                (h, true) => h,
                (_, false) => 0.0,
            };
            *g = -2.0 * w * scale * u / b as f32;
        }
        grads.fill(0.0);
        net.backward(&params, &cache, &g_out, &mut grads, None);
        let lr = lr_at(step, cfg.steps, warmup, cfg.lr, 0.05);
        opt.step(&mut params, &grads, lr, cfg.weight_decay, &decay);
        progress(step + 1);
    }
    let value = to_value(&net, &params, d, cfg.steps_per_unit)?;
    let report = score(&value, &lat, data, held, cfg)?;
    Ok((value, report))
}

/// The inference form of the trained network.
fn to_value(
    net: &TrainMlp,
    params: &[f32],
    d: usize,
    steps_per_unit: f32,
) -> Result<GoalValue, ModelError> {
    let mut linears = Vec::new();
    let mut norms = Vec::new();
    for l in &net.layers {
        let (din, dout) = (l.input, l.output);
        linears.push(Linear::new(
            params[l.weight..l.weight + dout * din].to_vec(),
            params[l.bias..l.bias + dout].to_vec(),
            din,
            dout,
        )?);
        if let Some((g, be)) = l.norm {
            norms.push(LayerNormParams {
                gamma: params[g..g + dout].to_vec(),
                beta: params[be..be + dout].to_vec(),
            });
        }
    }
    if let Some(i) = linears
        .iter()
        .flat_map(|l| l.weight.iter().chain(&l.bias))
        .position(|v| !v.is_finite())
    {
        return Err(ModelError::InvalidSpec(format!(
            "value training diverged: parameter {i} is not finite (lower value.lr)"
        )));
    }
    GoalValue::new(
        Mlp::new(net.spec.clone(), linears, norms)?,
        d,
        steps_per_unit,
    )
}

fn score(
    value: &GoalValue,
    lat: &Latents,
    data: &ValueData<'_>,
    held: &[usize],
    cfg: &ValueFitConfig,
) -> Result<ValueReport, ModelError> {
    let d = lat.d;
    let longest = cfg
        .predict_steps
        .iter()
        .enumerate()
        .max_by_key(|(_, j)| **j)
        .map(|(i, _)| i);
    let (mut goal_err, mut goal_n) = (0.0f64, 0usize);
    let (mut pred_err, mut pred_n) = (0.0f64, 0usize);
    let (mut hind_err, mut hind_n) = (0.0f64, 0usize);
    let (mut falls, mut pairs) = (0usize, 0usize);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut x = vec![0.0f32; 2 * d];
    let mut v = [0.0f32; 1];
    // One workspace for every scored row (`GoalValue::eval` would allocate one per call).
    let mut ws = value.workspace();
    let mut eval_row = |row: &Row, x: &mut [f32]| -> Result<f32, ModelError> {
        input_of(lat, row, x);
        value.eval_block(&x[..d], &x[d..], &mut ws, None, &mut v)?;
        Ok(v[0])
    };
    for &e in held {
        let len = data.seqs.spans[e].len;
        if data.success[e] {
            let reached = len.saturating_sub(data.settle[e]);
            let mut prev = f32::INFINITY;
            for t in 0..=reached {
                let mut row = Row {
                    episode: e,
                    t,
                    predicted: None,
                    goal: (e, None),
                    target: (reached - t) as f32,
                    hinge: 0.0,
                };
                let got = eval_row(&row, &mut x)?;
                goal_err += (got - row.target).abs() as f64;
                goal_n += 1;
                if t > 0 {
                    pairs += 1;
                    falls += usize::from(got < prev);
                }
                prev = got;
                if let Some(i) = longest.filter(|&i| t >= cfg.predict_steps[i]) {
                    row.predicted = Some(i);
                    pred_err += (eval_row(&row, &mut x)? - row.target).abs() as f64;
                    pred_n += 1;
                }
            }
        }
        for _ in 0..8 {
            let t = rng.random_range(0..=len);
            let k = rng.random_range(0..=len - t);
            let row = Row {
                episode: e,
                t,
                predicted: None,
                goal: (e, Some(t + k)),
                target: k as f32,
                hinge: 0.0,
            };
            hind_err += (eval_row(&row, &mut x)? - row.target).abs() as f64;
            hind_n += 1;
        }
    }
    let mean = |s: f64, n: usize| {
        if n == 0 {
            f32::NAN
        } else {
            (s / n as f64) as f32
        }
    };
    Ok(ValueReport {
        goal_mae_steps: mean(goal_err, goal_n),
        goal_mae_steps_predicted: mean(pred_err, pred_n),
        hindsight_mae_steps: mean(hind_err, hind_n),
        monotone_fraction: if pairs == 0 {
            f32::NAN
        } else {
            falls as f32 / pairs as f32
        },
        rows: goal_n + pred_n + hind_n,
    })
}
