//! Training configuration: the `[model]` and `[train]` tables of `configs/train/*.toml`.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::conv::ConvSpec;
use crate::error::ModelError;

/// Architecture of the world model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Latent width (1..=4096). Default 64.
    pub latent_dim: usize,
    /// Encoder hidden widths (each 1..=8192). Default `[256, 256]`.
    pub encoder_hidden: Vec<usize>,
    /// Predictor hidden widths (each 1..=8192). Default `[256, 256]`.
    pub predictor_hidden: Vec<usize>,
    /// Hidden activation of both networks. Default `gelu`.
    pub activation: Activation,
    /// LayerNorm after every hidden linear layer. Default true.
    pub layer_norm: bool,
    /// Output channels of the encoder's conv stem (3x3, stride 2, each 1..=256), applied to
    /// the image at the start of a `depth` observation. Default `[]`: no stem, the MLP reads
    /// the whole observation.
    pub conv_channels: Vec<usize>,
    /// `[height, width]` of that image. Default `[0, 0]`: taken from the dataset (`ebmpc
    /// train` fills it in and refuses a value that differs from the dataset's).
    pub conv_image: [usize; 2],
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            latent_dim: 64,
            encoder_hidden: vec![256, 256],
            predictor_hidden: vec![256, 256],
            activation: Activation::Gelu,
            layer_norm: true,
            conv_channels: Vec::new(),
            conv_image: [0, 0],
        }
    }
}

/// How latents are kept from collapsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collapse {
    /// Targets from an exponential moving average of the encoder; no regularizer.
    Ema,
    /// Targets from the online encoder (stop-gradient), plus VICReg variance and covariance
    /// terms on the latents.
    Vicreg,
    /// EMA targets plus the VICReg terms.
    Both,
}

/// Optimization settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    /// Seed of initialization and batch sampling. Default 0.
    pub seed: u64,
    /// Epochs (1..=100000). Default 30.
    pub epochs: usize,
    /// Optimizer steps per epoch (1..=1000000). Default 200.
    pub steps_per_epoch: usize,
    /// Sequences per batch (2..=65536). Default 256.
    pub batch_size: usize,
    /// Prediction horizon k of the multi-step latent loss (1..=64). Default 8.
    pub rollout_steps: usize,
    /// Peak learning rate (0..=1). Default 1e-3.
    pub lr: f32,
    /// Decoupled weight decay of the weights (0..=1). Default 1e-4.
    pub weight_decay: f32,
    /// Linear warmup steps (0..=10000000). Default 300.
    pub warmup_steps: usize,
    /// Final learning rate as a fraction of the peak (0..=1). Default 0.05.
    pub min_lr_ratio: f32,
    /// Anti-collapse mechanism. Default `vicreg` (see README: the measurement that decided it).
    pub collapse: Collapse,
    /// EMA decay of the target encoder per step (0..1). Default 0.99.
    pub ema_tau: f32,
    /// Weight of the VICReg variance hinge (0..=1000). Default 1.0.
    pub var_weight: f32,
    /// Weight of the VICReg covariance penalty (0..=1000). Default 0.04.
    pub cov_weight: f32,
    /// Fraction of episodes held out for validation (0..=0.9). Default 0.1.
    pub val_fraction: f32,
    /// Worker threads (1..=64). Default 2.
    pub threads: usize,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            seed: 0,
            epochs: 30,
            steps_per_epoch: 200,
            batch_size: 256,
            rollout_steps: 8,
            lr: 1e-3,
            weight_decay: 1e-4,
            warmup_steps: 300,
            min_lr_ratio: 0.05,
            collapse: Collapse::Vicreg,
            ema_tau: 0.99,
            var_weight: 1.0,
            cov_weight: 0.04,
            val_fraction: 0.1,
            threads: 2,
        }
    }
}

/// A training configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Architecture.
    pub model: ModelConfig,
    /// Optimization.
    pub train: TrainParams,
}

fn range_err(key: &str, value: impl std::fmt::Display, expected: &str) -> ModelError {
    ModelError::InvalidSpec(format!(
        "config key `{key}` = {value} is out of range: {expected}"
    ))
}

fn check_usize(key: &str, v: usize, lo: usize, hi: usize) -> Result<(), ModelError> {
    if v < lo || v > hi {
        return Err(range_err(key, v, &format!("{lo} ..= {hi}")));
    }
    Ok(())
}

fn check_f32(key: &str, v: f32, lo: f32, hi: f32) -> Result<(), ModelError> {
    if !(v.is_finite() && v >= lo && v <= hi) {
        return Err(range_err(key, v, &format!("{lo} ..= {hi}")));
    }
    Ok(())
}

impl TrainConfig {
    /// Checks every value; the error names the key.
    pub fn validate(&self) -> Result<(), ModelError> {
        let (m, t) = (&self.model, &self.train);
        check_usize("model.latent_dim", m.latent_dim, 1, 4096)?;
        for (i, &w) in m.encoder_hidden.iter().enumerate() {
            check_usize(&format!("model.encoder_hidden[{i}]"), w, 1, 8192)?;
        }
        for (i, &w) in m.predictor_hidden.iter().enumerate() {
            check_usize(&format!("model.predictor_hidden[{i}]"), w, 1, 8192)?;
        }
        for (i, &c) in m.conv_channels.iter().enumerate() {
            check_usize(&format!("model.conv_channels[{i}]"), c, 1, 256)?;
        }
        check_usize("model.conv_image[0]", m.conv_image[0], 0, 1024)?;
        check_usize("model.conv_image[1]", m.conv_image[1], 0, 1024)?;
        check_usize("train.epochs", t.epochs, 1, 100_000)?;
        check_usize("train.steps_per_epoch", t.steps_per_epoch, 1, 1_000_000)?;
        check_usize("train.batch_size", t.batch_size, 2, 65_536)?;
        check_usize("train.rollout_steps", t.rollout_steps, 1, 64)?;
        check_usize("train.warmup_steps", t.warmup_steps, 0, 10_000_000)?;
        check_f32("train.lr", t.lr, 0.0, 1.0)?;
        check_f32("train.weight_decay", t.weight_decay, 0.0, 1.0)?;
        check_f32("train.min_lr_ratio", t.min_lr_ratio, 0.0, 1.0)?;
        check_f32("train.ema_tau", t.ema_tau, 0.0, 0.999_999)?;
        check_f32("train.var_weight", t.var_weight, 0.0, 1000.0)?;
        check_f32("train.cov_weight", t.cov_weight, 0.0, 1000.0)?;
        check_f32("train.val_fraction", t.val_fraction, 0.0, 0.9)?;
        check_usize("train.threads", t.threads, 1, 64)
    }

    /// Parses TOML (unknown keys rejected) and validates; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ModelError> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| {
            ModelError::InvalidSpec(format!("{origin}: {}", e.to_string().replace('\n', " ")))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The encoder's conv stem, if `model.conv_channels` asks for one.
    pub fn conv_spec(&self) -> Option<ConvSpec> {
        let m = &self.model;
        (!m.conv_channels.is_empty()).then(|| ConvSpec {
            image: m.conv_image,
            channels: m.conv_channels.clone(),
            activation: m.activation,
        })
    }

    /// Total optimizer steps.
    pub fn total_steps(&self) -> u64 {
        (self.train.epochs * self.train.steps_per_epoch) as u64
    }
}
