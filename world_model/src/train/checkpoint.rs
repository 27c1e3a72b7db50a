//! Training checkpoints: everything a killed run needs to continue exactly where it stopped
//! (parameters, EMA target, AdamW moments and step count), checked against the configuration.

use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
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
        let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Format(e.to_string()))?;
        let take = |name: &str| -> Result<Vec<f32>, ModelError> {
            let v = st.tensor(name).map_err(|_| ModelError::MissingTensor {
                name: name.to_string(),
            })?;
            if v.shape() != [n] {
                return Err(ModelError::ShapeMismatch {
                    name: name.to_string(),
                    found: v.shape().to_vec(),
                    expected: vec![n],
                });
            }
            Ok(v.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        };
        self.params = take("params")?;
        self.target = take("target")?;
        self.opt.m = take("adam_m")?;
        self.opt.v = take("adam_v")?;
        self.opt.t = meta.step;
        self.step = meta.step;
        Ok(meta.epoch)
    }
}
