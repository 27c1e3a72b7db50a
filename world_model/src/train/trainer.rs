//! The JEPA training step: encode the current observation, roll the predictor out `k` steps in
//! latent space, and regress each predicted latent on the target encoder's latent of the
//! observation actually reached (stop-gradient), with EMA targets and/or VICReg variance and
//! covariance terms against collapse. Gradients are hand-written end to end.
//!
//! The batch is split into `threads` fixed chunks that run in parallel and whose gradients are
//! summed in chunk order, so a run is identical for the same seed and configuration. Batches are
//! drawn from a generator seeded by `(seed, step)`, so a resumed run replays the same batches.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::mlp::MlpSpec;
use crate::train::adamw::{AdamW, lr_at};
use crate::train::config::{Collapse, TrainConfig};
use crate::train::data::{Normalizer, Sequences};
use crate::train::encoder::{EncoderCache, TrainEncoder};
use crate::train::eval::effective_rank;
use crate::train::net::{Cache, TrainMlp};
use crate::train::params::ParamLayout;
use crate::train::vicreg::vicreg;

/// Loss terms of one step or one validation pass (means).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LossTerms {
    /// Total loss.
    pub loss: f32,
    /// Multi-step latent prediction error (mean squared error per latent dimension).
    pub pred: f32,
    /// VICReg variance hinge (computed in every mode; weighted only when enabled).
    pub var: f32,
    /// VICReg covariance penalty (computed in every mode; weighted only when enabled).
    pub cov: f32,
}

/// One line of the training log, written after every epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimizer steps so far.
    pub step: u64,
    /// Learning rate at the last step.
    pub lr: f32,
    /// Mean training loss terms over the epoch.
    pub train: LossTerms,
    /// Loss terms on held-out episodes.
    pub val: LossTerms,
    /// Mean per-dimension standard deviation of held-out latents.
    pub latent_std_mean: f32,
    /// Smallest per-dimension standard deviation of held-out latents.
    pub latent_std_min: f32,
    /// Effective rank of held-out latents (exp of the entropy of the normalized singular values).
    pub effective_rank: f32,
    /// Training throughput: sequences of `k + 1` observations per second this epoch.
    pub samples_per_s: f32,
}

/// A training run in progress.
pub struct Trainer {
    /// Configuration.
    pub cfg: TrainConfig,
    /// Where every tensor sits in the flat vectors.
    pub layout: ParamLayout,
    /// Encoder view.
    pub encoder: TrainEncoder,
    /// Predictor view.
    pub predictor: TrainMlp,
    /// Online parameters.
    pub params: Vec<f32>,
    /// EMA target parameters (only the encoder part is used).
    pub target: Vec<f32>,
    /// Optimizer state.
    pub opt: AdamW,
    /// Steps taken.
    pub step: u64,
    /// Observation normalization, fitted on the training episodes.
    pub normalizer: Normalizer,
    /// No held-out episode was long enough for `rollout_steps`, so validation uses training
    /// sequences (the CLI warns).
    pub validation_on_training_data: bool,
    decay_mask: Vec<bool>,
    data: Sequences,
    starts: Vec<(u32, u32)>,
    val_starts: Vec<(u32, u32)>,
}

/// What one chunk's forward pass and predictor backward produce.
struct ChunkOut {
    z0: Vec<f32>,
    enc_cache: EncoderCache,
    g_z0: Vec<f32>,
    grads: Vec<f32>,
    pred_sq: f64,
}

fn mix(seed: u64, step: u64) -> u64 {
    // splitmix64 of the pair: independent streams per step.
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Trainer {
    /// Sets up a run on `data` (raw observations): splits episodes, fits the normalizer,
    /// initializes the parameters from the seed.
    pub fn new(cfg: TrainConfig, data: &Sequences) -> Result<Self, ModelError> {
        cfg.validate()?;
        let m = &cfg.model;
        let k = cfg.train.rollout_steps;
        let conv = cfg.conv_spec();
        if let Some(c) = &conv {
            c.validate(data.obs_dim)?;
        }
        let enc_spec = MlpSpec {
            input_dim: data.obs_dim,
            hidden: m.encoder_hidden.clone(),
            output_dim: m.latent_dim,
            activation: m.activation,
            layer_norm: m.layer_norm,
        };
        let pred_spec = MlpSpec {
            input_dim: m.latent_dim + data.action_dim,
            hidden: m.predictor_hidden.clone(),
            output_dim: m.latent_dim,
            activation: m.activation,
            layer_norm: m.layer_norm,
        };
        let mut layout = ParamLayout::default();
        let encoder = TrainEncoder::new(conv, enc_spec, data.obs_dim, &mut layout, "encoder.");
        let predictor = TrainMlp::new(pred_spec, &mut layout, "predictor.");
        let (train_eps, val_eps) = data.split(cfg.train.val_fraction);
        let collect_starts = |eps: &[usize]| -> Vec<(u32, u32)> {
            eps.iter()
                .filter(|&&e| data.spans[e].len >= k)
                .flat_map(|&e| (0..=data.spans[e].len - k).map(move |t| (e as u32, t as u32)))
                .collect()
        };
        let starts = collect_starts(&train_eps);
        if starts.is_empty() {
            return Err(ModelError::InvalidSpec(format!(
                "no training episode has at least rollout_steps = {k} actions"
            )));
        }
        let mut val_starts = collect_starts(&val_eps);
        let validation_on_training_data = val_starts.is_empty();
        if validation_on_training_data {
            val_starts = starts.clone();
        }
        // A fixed validation subset keeps the per-epoch cost bounded.
        let mut vr = ChaCha8Rng::seed_from_u64(mix(cfg.train.seed, u64::MAX));
        let val_starts: Vec<_> = (0..1024.min(val_starts.len()))
            .map(|_| val_starts[vr.random_range(0..val_starts.len())])
            .collect();
        let normalizer = Normalizer::fit(data, &train_eps);
        let mut norm = data.clone();
        normalizer.apply(&data.obs, &mut norm.obs);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.train.seed);
        let params = layout.init(&mut rng);
        let decay_mask = {
            let mut mask = vec![false; layout.len()];
            for s in &layout.slots {
                if s.shape.len() >= 2 {
                    mask[s.range()].fill(true);
                }
            }
            mask
        };
        Ok(Self {
            opt: AdamW::new(layout.len()),
            target: params.clone(),
            params,
            layout,
            encoder,
            predictor,
            step: 0,
            normalizer,
            validation_on_training_data,
            decay_mask,
            data: norm,
            starts,
            val_starts,
            cfg,
        })
    }

    fn uses_ema(&self) -> bool {
        matches!(self.cfg.train.collapse, Collapse::Ema | Collapse::Both)
    }

    fn uses_vicreg(&self) -> bool {
        matches!(self.cfg.train.collapse, Collapse::Vicreg | Collapse::Both)
    }

    /// The parameters whose encoder produces training targets (and is saved with the model).
    pub fn target_params(&self) -> &[f32] {
        if self.uses_ema() {
            &self.target
        } else {
            &self.params
        }
    }

    /// Forward over one chunk of sequences; with `grads`, also the predictor backward.
    fn chunk(&self, starts: &[(u32, u32)], batch: usize, with_grads: bool) -> ChunkOut {
        let (od, na) = (self.data.obs_dim, self.data.action_dim);
        let d = self.cfg.model.latent_dim;
        let k = self.cfg.train.rollout_steps;
        let n = starts.len();
        let mut obs0 = Vec::with_capacity(n * od);
        let mut future = vec![0.0f32; k * n * od];
        let mut acts = vec![0.0f32; k * n * na];
        for (b, &(e, t)) in starts.iter().enumerate() {
            let (e, t) = (e as usize, t as usize);
            obs0.extend_from_slice(self.data.obs_at(e, t));
            for i in 0..k {
                let row = i * n + b;
                future[row * od..(row + 1) * od].copy_from_slice(self.data.obs_at(e, t + i + 1));
                acts[row * na..(row + 1) * na].copy_from_slice(self.data.action_at(e, t + i));
            }
        }
        let mut enc_cache = EncoderCache::default();
        self.encoder.forward(&self.params, &obs0, n, &mut enc_cache);
        let z0 = enc_cache.output().to_vec();
        let mut tcache = EncoderCache::default();
        self.encoder
            .forward(self.target_params(), &future, k * n, &mut tcache);
        let targets = tcache.output();

        let mut caches: Vec<Cache> = (0..k).map(|_| Cache::default()).collect();
        let mut zs: Vec<Vec<f32>> = Vec::with_capacity(k + 1);
        zs.push(z0.clone());
        let mut input = vec![0.0f32; n * (d + na)];
        for i in 0..k {
            let z = &zs[i];
            for b in 0..n {
                input[b * (d + na)..b * (d + na) + d].copy_from_slice(&z[b * d..(b + 1) * d]);
                input[b * (d + na) + d..(b + 1) * (d + na)]
                    .copy_from_slice(&acts[(i * n + b) * na..(i * n + b + 1) * na]);
            }
            self.predictor
                .forward(&self.params, &input, n, &mut caches[i]);
            let next: Vec<f32> = z
                .iter()
                .zip(&caches[i].output)
                .map(|(a, f)| a + f)
                .collect();
            zs.push(next);
        }
        let mut pred_sq = 0.0f64;
        for i in 0..k {
            let t = &targets[i * n * d..(i + 1) * n * d];
            pred_sq += zs[i + 1]
                .iter()
                .zip(t)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>();
        }
        let mut grads = Vec::new();
        let mut g_carry = vec![0.0f32; n * d];
        if with_grads {
            grads = vec![0.0f32; self.layout.len()];
            let scale = 2.0 / (k * batch * d) as f32;
            let mut g_in = vec![0.0f32; n * (d + na)];
            for i in (0..k).rev() {
                let t = &targets[i * n * d..(i + 1) * n * d];
                for ((g, z), tv) in g_carry.iter_mut().zip(&zs[i + 1]).zip(t) {
                    *g += scale * (z - tv);
                }
                self.predictor.backward(
                    &self.params,
                    &caches[i],
                    &g_carry,
                    &mut grads,
                    Some(&mut g_in),
                );
                for b in 0..n {
                    for j in 0..d {
                        g_carry[b * d + j] += g_in[b * (d + na) + j];
                    }
                }
            }
        }
        ChunkOut {
            z0,
            enc_cache,
            g_z0: g_carry,
            grads,
            pred_sq,
        }
    }

    fn chunks<'a>(&self, starts: &'a [(u32, u32)]) -> Vec<&'a [(u32, u32)]> {
        let per = starts.len().div_ceil(self.cfg.train.threads).max(1);
        starts.chunks(per).collect()
    }

    /// Runs the chunks of `starts` in parallel.
    fn run_chunks(&self, starts: &[(u32, u32)], with_grads: bool) -> Vec<ChunkOut> {
        let batch = starts.len();
        let parts = self.chunks(starts);
        std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .iter()
                .map(|p| s.spawn(move || self.chunk(p, batch, with_grads)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    fn terms(&self, outs: &[ChunkOut], batch: usize) -> (LossTerms, Vec<f32>, Vec<f32>) {
        let d = self.cfg.model.latent_dim;
        let k = self.cfg.train.rollout_steps;
        let z0: Vec<f32> = outs.iter().flat_map(|o| o.z0.iter().copied()).collect();
        let pred = (outs.iter().map(|o| o.pred_sq).sum::<f64>() / (k * batch * d) as f64) as f32;
        let (var, cov, g_var, g_cov) = vicreg(&z0, batch, d);
        let (wv, wc) = if self.uses_vicreg() {
            (self.cfg.train.var_weight, self.cfg.train.cov_weight)
        } else {
            (0.0, 0.0)
        };
        let g_reg: Vec<f32> = g_var
            .iter()
            .zip(&g_cov)
            .map(|(a, b)| wv * a + wc * b)
            .collect();
        let terms = LossTerms {
            loss: pred + wv * var + wc * cov,
            pred,
            var,
            cov,
        };
        (terms, z0, g_reg)
    }

    /// One optimizer step; returns its loss terms.
    pub fn train_step(&mut self) -> LossTerms {
        let batch = self.cfg.train.batch_size;
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.cfg.train.seed, self.step));
        let starts: Vec<(u32, u32)> = (0..batch)
            .map(|_| self.starts[rng.random_range(0..self.starts.len())])
            .collect();
        let mut outs = self.run_chunks(&starts, true);
        let (terms, _z0, g_reg) = self.terms(&outs, batch);
        let d = self.cfg.model.latent_dim;
        // Encoder backward per chunk, in parallel, with the regularizer's gradient added.
        let mut row = 0;
        for o in &mut outs {
            let n = o.z0.len() / d;
            for (g, r) in o.g_z0.iter_mut().zip(&g_reg[row * d..(row + n) * d]) {
                *g += r;
            }
            row += n;
        }
        let (params, encoder) = (&self.params, &self.encoder);
        std::thread::scope(|s| {
            for o in outs.iter_mut() {
                s.spawn(move || {
                    encoder.backward(params, &o.enc_cache, &o.g_z0, &mut o.grads);
                });
            }
        });
        let mut grads = vec![0.0f32; self.layout.len()];
        for o in &outs {
            for (g, c) in grads.iter_mut().zip(&o.grads) {
                *g += c;
            }
        }
        let t = &self.cfg.train;
        let lr = lr_at(
            self.step,
            self.cfg.total_steps(),
            t.warmup_steps as u64,
            t.lr,
            t.min_lr_ratio,
        );
        self.opt.step(
            &mut self.params,
            &grads,
            lr,
            t.weight_decay,
            &self.decay_mask,
        );
        if self.uses_ema() {
            let tau = t.ema_tau;
            for (tv, pv) in self.target.iter_mut().zip(&self.params) {
                *tv = tau * *tv + (1.0 - tau) * pv;
            }
        }
        self.step += 1;
        terms
    }

    /// Learning rate of the last step taken (of the first step before any).
    pub fn current_lr(&self) -> f32 {
        let t = &self.cfg.train;
        lr_at(
            self.step.saturating_sub(1),
            self.cfg.total_steps(),
            t.warmup_steps as u64,
            t.lr,
            t.min_lr_ratio,
        )
    }

    /// Loss terms and latent statistics on the held-out episodes:
    /// `(terms, std_mean, std_min, effective_rank)`.
    pub fn validate(&self) -> (LossTerms, f32, f32, f32) {
        let outs = self.run_chunks(&self.val_starts, false);
        let batch = self.val_starts.len();
        let (terms, z0, _) = self.terms(&outs, batch);
        let d = self.cfg.model.latent_dim;
        let stds = column_std(&z0, batch, d);
        let mean = stds.iter().sum::<f32>() / d as f32;
        let min = stds.iter().copied().fold(f32::INFINITY, f32::min);
        (terms, mean, min, effective_rank(&z0, batch, d))
    }
}

/// Per-column standard deviation of `z`, `(rows, d)`.
pub fn column_std(z: &[f32], rows: usize, d: usize) -> Vec<f32> {
    (0..d)
        .map(|j| {
            let mean = (0..rows).map(|r| z[r * d + j] as f64).sum::<f64>() / rows as f64;
            let var = (0..rows)
                .map(|r| (z[r * d + j] as f64 - mean).powi(2))
                .sum::<f64>()
                / (rows.max(2) - 1) as f64;
            var.sqrt() as f32
        })
        .collect()
}
