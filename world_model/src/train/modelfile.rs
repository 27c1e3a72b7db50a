//! The trained-model file: safetensors with PyTorch `state_dict` names and JSON metadata.
//!
//! Tensors: `encoder.{i}.weight` `[out, in]`, `encoder.{i}.bias` `[out]`,
//! `encoder.{i}.norm.weight` / `.norm.bias` `[out]` (hidden layers, when LayerNorm is on), the
//! same under `predictor.`, and `normalizer.mean`, `normalizer.std` `[obs_dim]`. The encoder reads
//! normalized observations `(obs - mean) / std`; [`load_model`] folds the normalization into the
//! first encoder layer, so the loaded [`MlpWorldModel`] takes raw observations. A model with a
//! conv stem (metadata key `conv`) also has `encoder.conv.{i}.weight` `[out, in, 3, 3]` and
//! `encoder.conv.{i}.bias` `[out]`; its stem normalizes explicitly ([`crate::conv`]). Each head
//! listed in the metadata key `heads` ([`HeadMeta`]) has `head.{name}.weight` `[dim, latent_dim]`
//! and `head.{name}.bias` `[dim]` ([`crate::head`]; added by [`with_heads`]). Metadata: one
//! key, [`META_KEY`], holding [`ModelMeta`] as JSON. `docs/model_format.md` documents it.

use std::collections::HashMap;

use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::conv::{ConvSpec, ConvStem, KERNEL};
use crate::error::ModelError;
use crate::head::LinearHead;
use crate::io::TensorFile;
use crate::mlp::{LayerNormParams, Linear, Mlp, MlpSpec};
use crate::model::MlpWorldModel;
use crate::train::config::TrainConfig;
use crate::train::trainer::Trainer;
use crate::value::GoalValue;

/// Format name in the metadata.
pub const MODEL_FORMAT: &str = "ebmpc-model";
/// Current format version.
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// Metadata key holding [`ModelMeta`] as JSON.
pub const META_KEY: &str = "ebmpc_model";

/// Model metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// [`MODEL_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Observation width.
    pub obs_dim: usize,
    /// Latent width.
    pub latent_dim: usize,
    /// Action width.
    pub action_dim: usize,
    /// Encoder MLP architecture (input: the normalized observation, or the conv stem's output).
    pub encoder: MlpSpec,
    /// The encoder's conv stem, if it has one (absent in files written before stems existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvSpec>,
    /// Linear read-outs of the latent stored with the model (absent in files without heads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<HeadMeta>,
    /// Predictor architecture (input: `[z, a]`, output added to `z`).
    pub predictor: MlpSpec,
    /// The learned goal-conditioned cost-to-go stored with the model (absent in files without
    /// one; [`crate::value`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueMeta>,
    /// Observation mode (`state` or `depth`).
    pub obs_mode: String,
    /// The observation layout the model was trained on (as the dataset stores it).
    pub obs_layout: serde_json::Value,
    /// How observations are normalized before the encoder.
    pub normalization: String,
    /// Training configuration, if the model was trained here.
    pub training: Option<TrainConfig>,
    /// Optimizer steps taken.
    pub trained_steps: u64,
    /// Where the training data came from (dataset path, task, policy, episodes).
    pub source: serde_json::Value,
}

/// A head's entry in the metadata; its tensors are `head.{name}.weight` `[dim, latent_dim]` and
/// `head.{name}.bias` `[dim]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadMeta {
    /// Name, e.g. `palm_pos`.
    pub name: String,
    /// Output width.
    pub dim: usize,
    /// How it was fitted (data, episodes, held-out R^2), for people reading the file.
    pub fitted: String,
}

/// The goal value's entry in the metadata; its tensors are `value.{i}.weight` `[out, in]`,
/// `value.{i}.bias` `[out]` and, with LayerNorm, `value.{i}.norm.weight` / `.norm.bias` `[out]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMeta {
    /// Architecture: `[z, g]` (`2 * latent_dim`) in, 1 out.
    pub spec: MlpSpec,
    /// Control steps per unit of the network's output.
    pub steps_per_unit: f32,
    /// How it was trained (data, objective, held-out error), for people reading the file.
    pub fitted: String,
}

/// A loaded model: metadata plus the inference model (normalization folded in).
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// Metadata.
    pub meta: ModelMeta,
    /// Encoder (raw observations in) and residual predictor.
    pub model: MlpWorldModel,
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Serializes named tensors `(name, shape, values)` with one JSON metadata entry.
pub fn tensors_to_bytes(
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    meta_key: &str,
    meta_json: String,
) -> Result<Vec<u8>, ModelError> {
    use safetensors::tensor::{Dtype, TensorView};
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, v)| f32_bytes(v)).collect();
    let mut views = Vec::new();
    for ((name, shape, _), data) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .map_err(|e| ModelError::Format(format!("{name}: {e}")))?;
        views.push((name.clone(), view));
    }
    let meta = HashMap::from([(meta_key.to_string(), meta_json)]);
    safetensors::serialize(views, Some(meta)).map_err(|e| ModelError::Format(e.to_string()))
}

/// Reads the JSON metadata entry `key` of safetensors bytes.
pub fn read_meta_json(bytes: &[u8], key: &str) -> Result<String, ModelError> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| ModelError::Format(e.to_string()))?;
    header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(key))
        .cloned()
        .ok_or_else(|| ModelError::Format(format!("no `{key}` metadata entry")))
}

impl Trainer {
    /// The model file of the current parameters (the target encoder when EMA is on).
    pub fn model_bytes(
        &self,
        obs_mode: &str,
        obs_layout: serde_json::Value,
        source: serde_json::Value,
    ) -> Result<Vec<u8>, ModelError> {
        let mut tensors = Vec::new();
        for s in &self.layout.slots {
            let src = if s.name.starts_with("encoder.") {
                self.target_params()
            } else {
                &self.params
            };
            tensors.push((s.name.clone(), s.shape.clone(), src[s.range()].to_vec()));
        }
        let d = self.normalizer.mean.len();
        tensors.push((
            "normalizer.mean".into(),
            vec![d],
            self.normalizer.mean.clone(),
        ));
        tensors.push((
            "normalizer.std".into(),
            vec![d],
            self.normalizer.std.clone(),
        ));
        let meta = ModelMeta {
            format: MODEL_FORMAT.into(),
            format_version: MODEL_FORMAT_VERSION,
            obs_dim: d,
            latent_dim: self.cfg.model.latent_dim,
            action_dim: self.predictor.spec.input_dim - self.cfg.model.latent_dim,
            encoder: self.encoder.mlp.spec.clone(),
            conv: self.encoder.conv.as_ref().map(|c| c.spec.clone()),
            heads: Vec::new(),
            predictor: self.predictor.spec.clone(),
            value: None,
            obs_mode: obs_mode.into(),
            obs_layout,
            normalization: "per dimension (obs - normalizer.mean) / normalizer.std, std floored \
                            at 1e-3, statistics of the training episodes"
                .into(),
            training: Some(self.cfg.clone()),
            trained_steps: self.step,
            source,
        };
        let json = serde_json::to_string(&meta).map_err(|e| ModelError::Format(e.to_string()))?;
        tensors_to_bytes(&tensors, META_KEY, json)
    }
}

/// Loads a model file. With `expected_layout`, refuses a model trained on a different
/// observation layout, saying which.
pub fn load_model(
    bytes: &[u8],
    expected_layout: Option<&serde_json::Value>,
) -> Result<LoadedModel, ModelError> {
    let json = read_meta_json(bytes, META_KEY)?;
    let meta: ModelMeta = serde_json::from_str(&json)
        .map_err(|e| ModelError::Format(format!("model metadata: {e}")))?;
    if meta.format != MODEL_FORMAT || meta.format_version != MODEL_FORMAT_VERSION {
        return Err(ModelError::Format(format!(
            "format {} v{} is not {MODEL_FORMAT} v{MODEL_FORMAT_VERSION}",
            meta.format, meta.format_version
        )));
    }
    if let Some(want) = expected_layout
        && want != &meta.obs_layout
    {
        return Err(ModelError::Incompatible(format!(
            "the model was trained on observation layout {} but this environment produces {}",
            meta.obs_layout, want
        )));
    }
    if let Some(c) = &meta.conv {
        c.validate(meta.obs_dim)?;
    }
    let encoder_input = meta
        .conv
        .as_ref()
        .map_or(meta.obs_dim, |c| c.mlp_input_dim(meta.obs_dim));
    if meta.encoder.input_dim != encoder_input
        || meta.encoder.output_dim != meta.latent_dim
        || meta.predictor.input_dim != meta.latent_dim + meta.action_dim
        || meta.predictor.output_dim != meta.latent_dim
    {
        return Err(ModelError::InvalidSpec(format!(
            "metadata is inconsistent: encoder {} -> {} (expected input {encoder_input}), \
             predictor {} -> {}, obs_dim {}, latent_dim {}, action_dim {}",
            meta.encoder.input_dim,
            meta.encoder.output_dim,
            meta.predictor.input_dim,
            meta.predictor.output_dim,
            meta.obs_dim,
            meta.latent_dim,
            meta.action_dim
        )));
    }
    let mut file = TensorFile::from_bytes(bytes)?;
    let mean = file.take_f32("normalizer.mean", &[meta.obs_dim])?;
    let std = file.take_f32("normalizer.std", &[meta.obs_dim])?;
    if let Some(i) = std.iter().position(|&s| s.is_nan() || s <= 0.0) {
        return Err(ModelError::Format(format!(
            "normalizer.std[{i}] = {} is not positive",
            std[i]
        )));
    }
    let model = match &meta.conv {
        None => {
            let encoder = take_mlp(&mut file, &meta.encoder, "encoder.", Some((&mean, &std)))?;
            let predictor = take_mlp(&mut file, &meta.predictor, "predictor.", None)?;
            MlpWorldModel::new(Some(encoder), predictor, meta.latent_dim, meta.action_dim)?
        }
        Some(spec) => {
            // A per-pixel affine does not fold into a convolution: the stem normalizes.
            let mut weights = Vec::new();
            for (i, g) in spec.geoms().iter().enumerate() {
                weights.push((
                    file.take_f32(
                        &format!("encoder.conv.{i}.weight"),
                        &[g.cout, g.cin, KERNEL, KERNEL],
                    )?,
                    file.take_f32(&format!("encoder.conv.{i}.bias"), &[g.cout])?,
                ));
            }
            let stem = ConvStem::new(spec.clone(), weights, mean, std)?;
            let encoder = take_mlp(&mut file, &meta.encoder, "encoder.", None)?;
            let predictor = take_mlp(&mut file, &meta.predictor, "predictor.", None)?;
            MlpWorldModel::with_conv_stem(
                stem,
                encoder,
                predictor,
                meta.latent_dim,
                meta.action_dim,
            )?
        }
    };
    let mut heads = Vec::new();
    for h in &meta.heads {
        let weight = file.take_f32(
            &format!("head.{}.weight", h.name),
            &[h.dim, meta.latent_dim],
        )?;
        let bias = file.take_f32(&format!("head.{}.bias", h.name), &[h.dim])?;
        heads.push(LinearHead::new(&h.name, weight, bias, meta.latent_dim)?);
    }
    let mut model = model.with_heads(heads)?;
    if let Some(v) = &meta.value {
        let mlp = take_mlp(&mut file, &v.spec, "value.", None)?;
        model = model.with_value(Some(GoalValue::new(
            mlp,
            meta.latent_dim,
            v.steps_per_unit,
        )?))?;
    }
    file.finish()?;
    Ok(LoadedModel { meta, model })
}

/// The model file `bytes` with `heads` (each with its [`HeadMeta::fitted`] text) stored in it,
/// replacing heads of the same names; every other tensor and metadata field is kept. The result
/// loads with [`load_model`], which checks the heads against the latent width.
pub fn with_heads(bytes: &[u8], heads: &[(LinearHead, String)]) -> Result<Vec<u8>, ModelError> {
    let json = read_meta_json(bytes, META_KEY)?;
    let mut meta: ModelMeta = serde_json::from_str(&json)
        .map_err(|e| ModelError::Format(format!("model metadata: {e}")))?;
    let replaced = |name: &str| heads.iter().any(|(h, _)| h.name() == name);
    meta.heads.retain(|h| !replaced(&h.name));
    let mut tensors = kept_tensors(bytes, |name| {
        name.strip_prefix("head.")
            .and_then(|r| r.rsplit_once('.'))
            .is_some_and(|(h, _)| replaced(h))
    })?;
    for (h, fitted) in heads {
        if h.latent_dim() != meta.latent_dim {
            return Err(ModelError::InvalidSpec(format!(
                "head `{}` reads {} latent values, the model's latent has {}",
                h.name(),
                h.latent_dim(),
                meta.latent_dim
            )));
        }
        let (name, dim) = (h.name().to_string(), h.out_dim());
        tensors.push((
            format!("head.{name}.weight"),
            vec![dim, meta.latent_dim],
            h.weight().to_vec(),
        ));
        tensors.push((format!("head.{name}.bias"), vec![dim], h.bias().to_vec()));
        meta.heads.push(HeadMeta {
            name,
            dim,
            fitted: fitted.clone(),
        });
    }
    let json = serde_json::to_string(&meta).map_err(|e| ModelError::Format(e.to_string()))?;
    tensors_to_bytes(&tensors, META_KEY, json)
}

/// A tensor as `(name, shape, values)`.
type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Every tensor of the model file `bytes` whose name `dropped` does not pick, sorted by name,
/// as `(name, shape, values)`.
fn kept_tensors(
    bytes: &[u8],
    dropped: impl Fn(&str) -> bool,
) -> Result<Vec<NamedTensor>, ModelError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Format(e.to_string()))?;
    let mut file = TensorFile::from_bytes(bytes)?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut tensors = Vec::new();
    for name in names.into_iter().filter(|n| !dropped(n)) {
        let shape = st
            .tensor(&name)
            .map_err(|e| ModelError::Format(e.to_string()))?
            .shape()
            .to_vec();
        let values = file.take_f32(&name, &shape)?;
        tensors.push((name, shape, values));
    }
    Ok(tensors)
}

/// The model file `bytes` with `value` (and its [`ValueMeta::fitted`] text) stored in it,
/// replacing any goal value it had; every other tensor and metadata field is kept.
pub fn with_value(bytes: &[u8], value: &GoalValue, fitted: &str) -> Result<Vec<u8>, ModelError> {
    let json = read_meta_json(bytes, META_KEY)?;
    let mut meta: ModelMeta = serde_json::from_str(&json)
        .map_err(|e| ModelError::Format(format!("model metadata: {e}")))?;
    if value.latent_dim() != meta.latent_dim {
        return Err(ModelError::InvalidSpec(format!(
            "the goal value reads {} latent values, the model's latent has {}",
            value.latent_dim(),
            meta.latent_dim
        )));
    }
    let mut tensors = kept_tensors(bytes, |name| name.starts_with("value."))?;
    let mlp = value.mlp();
    for (i, (l, (din, dout))) in mlp
        .linears()
        .iter()
        .zip(mlp.spec().layer_dims())
        .enumerate()
    {
        tensors.push((
            format!("value.{i}.weight"),
            vec![dout, din],
            l.weight.clone(),
        ));
        tensors.push((format!("value.{i}.bias"), vec![dout], l.bias.clone()));
        if let Some(n) = mlp.norms().get(i) {
            tensors.push((
                format!("value.{i}.norm.weight"),
                vec![dout],
                n.gamma.clone(),
            ));
            tensors.push((format!("value.{i}.norm.bias"), vec![dout], n.beta.clone()));
        }
    }
    meta.value = Some(ValueMeta {
        spec: mlp.spec().clone(),
        steps_per_unit: value.steps_per_unit(),
        fitted: fitted.to_string(),
    });
    let json = serde_json::to_string(&meta).map_err(|e| ModelError::Format(e.to_string()))?;
    tensors_to_bytes(&tensors, META_KEY, json)
}

/// Reads an MLP; with `normalize = (mean, std)`, folds `(x - mean) / std` into layer 0.
fn take_mlp(
    file: &mut TensorFile,
    spec: &MlpSpec,
    prefix: &str,
    normalize: Option<(&[f32], &[f32])>,
) -> Result<Mlp, ModelError> {
    spec.validate()?;
    let n_hidden = spec.hidden.len();
    let mut linears = Vec::new();
    let mut norms = Vec::new();
    for (i, (din, dout)) in spec.layer_dims().into_iter().enumerate() {
        let mut w = file.take_f32(&format!("{prefix}{i}.weight"), &[dout, din])?;
        let mut b = file.take_f32(&format!("{prefix}{i}.bias"), &[dout])?;
        if let (0, Some((mean, std))) = (i, normalize) {
            for o in 0..dout {
                let row = &mut w[o * din..(o + 1) * din];
                let mut shift = 0.0f64;
                for c in 0..din {
                    row[c] /= std[c];
                    shift += row[c] as f64 * mean[c] as f64;
                }
                b[o] -= shift as f32;
            }
        }
        linears.push(Linear::new(w, b, din, dout)?);
        if spec.layer_norm && i < n_hidden {
            norms.push(LayerNormParams {
                gamma: file.take_f32(&format!("{prefix}{i}.norm.weight"), &[dout])?,
                beta: file.take_f32(&format!("{prefix}{i}.norm.bias"), &[dout])?,
            });
        }
    }
    Mlp::new(spec.clone(), linears, norms)
}
