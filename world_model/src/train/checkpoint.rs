//! Training checkpoints: everything a killed run needs to continue exactly where it stopped
//! (parameters, EMA target, AdamW moments and step count), checked against the configuration
//! and the data (through the observation statistics of its training episodes).

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::io::TensorFile;
use crate::train::config::TrainConfig;
use crate::train::modelfile::{read_meta_json, tensors_to_bytes};
use crate::train::trainer::Trainer;

/// Metadata key of a checkpoint.
pub const CHECKPOINT_KEY: &str = "ebmpc_checkpoint";

/// Checkpoint metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointMeta {
    /// Optimizer steps taken.
    pub step: u64,
    /// Epochs completed.
    pub epoch: usize,
    /// The configuration of the run.
    pub config: TrainConfig,
    /// Number of parameters.
    pub params: usize,
}

impl Trainer {
    /// Serializes the run's state after `epoch` completed epochs.
    pub fn checkpoint_bytes(&self, epoch: usize) -> Result<Vec<u8>, ModelError> {
        let n = self.params.len();
        let meta = CheckpointMeta {
            step: self.step,
            epoch,
            config: self.cfg.clone(),
            params: n,
        };
        let json = serde_json::to_string(&meta).map_err(|e| ModelError::Format(e.to_string()))?;
        let tensors = vec![
            ("params".to_string(), vec![n], self.params.clone()),
            ("target".to_string(), vec![n], self.target.clone()),
            ("adam_m".to_string(), vec![n], self.opt.m.clone()),
            ("adam_v".to_string(), vec![n], self.opt.v.clone()),
            (
                "normalizer.mean".to_string(),
                vec![self.normalizer.mean.len()],
                self.normalizer.mean.clone(),
            ),
            (
                "normalizer.std".to_string(),
                vec![self.normalizer.std.len()],
                self.normalizer.std.clone(),
            ),
        ];
        tensors_to_bytes(&tensors, CHECKPOINT_KEY, json)
    }

    /// Restores a checkpoint written by a run with the same configuration and data shape;
    /// returns the number of completed epochs.
    pub fn restore_checkpoint(&mut self, bytes: &[u8]) -> Result<usize, ModelError> {
        let json = read_meta_json(bytes, CHECKPOINT_KEY)?;
        let meta: CheckpointMeta = serde_json::from_str(&json)
            .map_err(|e| ModelError::Format(format!("checkpoint metadata: {e}")))?;
        if meta.config != self.cfg {
            return Err(ModelError::Incompatible(
                "the checkpoint was written with a different training configuration; \
                 start a new run or use the same config"
                    .into(),
            ));
        }
        let n = self.params.len();
        if meta.params != n {
            return Err(ModelError::Incompatible(format!(
                "the checkpoint has {} parameters, this model {n} (different data shape?)",
                meta.params
            )));
        }
        let mut file = TensorFile::from_bytes(bytes)?;
        let d = self.normalizer.mean.len();
        let (mean, std) = (
            file.take_f32("normalizer.mean", &[d])?,
            file.take_f32("normalizer.std", &[d])?,
        );
        if mean != self.normalizer.mean || std != self.normalizer.std {
            return Err(ModelError::Incompatible(
                "the checkpoint was trained on other data (its observation statistics differ); \
                 start a new run or resume on the same dataset"
                    .into(),
            ));
        }
        let mut take = |name: &str| file.take_f32(name, &[n]);
        self.params = take("params")?;
        self.target = take("target")?;
        self.opt.m = take("adam_m")?;
        self.opt.v = take("adam_v")?;
        self.opt.t = meta.step;
        self.step = meta.step;
        Ok(meta.epoch)
    }
}
