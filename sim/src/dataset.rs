//! The dataset file: episodes of observations and actions in safetensors, written atomically.
//!
//! `docs/dataset.md` documents the format; [`Dataset::load`] checks every shape and value.
//! All metadata sits under one `__metadata__` key, `ebmpc_dataset`, as a JSON string, because
//! safetensors writes a multi-key metadata map in hash order and the file must be byte-identical
//! for the same inputs.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::config::{SceneConfig, TaskParams};
use crate::error::{Result, SimError};
use crate::obs::{ObsLayout, STATE_DIM};
use crate::rollout::EpisodeRecord;

/// Format name stored in the metadata.
pub const FORMAT: &str = "ebmpc-dataset";
/// Current format version.
pub const FORMAT_VERSION: u32 = 1;
/// The metadata key holding [`DatasetMeta`] as JSON.
pub const META_KEY: &str = "ebmpc_dataset";

/// Dataset metadata (stored as JSON under [`META_KEY`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Task name.
    pub task: String,
    /// Policy name.
    pub policy: String,
    /// Observation layout (mode, image size, named index ranges).
    pub obs_layout: ObsLayout,
    /// Floats per observation.
    pub obs_dim: usize,
    /// Floats per action (4).
    pub action_dim: usize,
    /// Seconds per control step.
    pub control_period_s: f32,
    /// Physics rate in Hz.
    pub physics_hz: u32,
    /// Seed of episode 0; episode `i` used `seed + i`.
    pub seed: u64,
    /// Number of episodes.
    pub episodes: usize,
    /// Number of transitions (actions) over all episodes.
    pub transitions: usize,
    /// Scene configuration used.
    pub scene: SceneConfig,
    /// Task parameters used.
    pub task_params: TaskParams,
    /// Steps each episode went on after a success (see `collect::RunSpec::settle_steps`);
    /// `None` in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_steps: Option<usize>,
}

impl DatasetMeta {
    /// Parses the [`META_KEY`] JSON string (`None`: the file has none) and checks the format.
    fn parse(json: Option<&String>) -> std::result::Result<Self, String> {
        let json = json.ok_or_else(|| format!("no `{META_KEY}` metadata: not an ebmpc dataset"))?;
        let meta: DatasetMeta = serde_json::from_str(json).map_err(|e| format!("metadata: {e}"))?;
        if meta.format != FORMAT || meta.format_version != FORMAT_VERSION {
            return Err(format!(
                "format {} v{} is not {FORMAT} v{FORMAT_VERSION}",
                meta.format, meta.format_version
            ));
        }
        Ok(meta)
    }

    /// Reads only the metadata of the dataset file at `path` (its safetensors header), not the
    /// tensors: what a caller needs to decide whether a file is the one it wants.
    pub fn read(path: &Path) -> Result<Self> {
        use std::io::Read;
        let p = path.display().to_string();
        let io = |source| SimError::Io {
            path: p.clone(),
            source,
        };
        let err = |message: String| SimError::Dataset {
            path: p.clone(),
            message,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(io)?;
        let len = u64::from_le_bytes(len);
        let file_len = file.metadata().map_err(io)?.len();
        if len > file_len.saturating_sub(8) {
            return Err(err(format!(
                "header of {len} bytes in a file of {file_len} bytes"
            )));
        }
        let mut header = vec![0u8; len as usize];
        file.read_exact(&mut header).map_err(io)?;
        #[derive(Deserialize)]
        struct Header {
            #[serde(rename = "__metadata__")]
            metadata: Option<HashMap<String, String>>,
        }
        let h: Header = serde_json::from_slice(&header).map_err(|e| err(format!("header: {e}")))?;
        Self::parse(h.metadata.as_ref().and_then(|m| m.get(META_KEY))).map_err(err)
    }
}

/// A dataset in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Metadata.
    pub meta: DatasetMeta,
    /// Observations, shape `(episodes + transitions, obs_dim)`: episode `i` holds
    /// `episode_lengths[i] + 1` consecutive rows.
    pub observations: Vec<f32>,
    /// Privileged `state` rows for every observation row, shape `(episodes + transitions, 20)`.
    pub states: Vec<f32>,
    /// Goal observations, shape `(episodes, obs_dim)`.
    pub goal_observations: Vec<f32>,
    /// Actions, shape `(transitions, action_dim)`: episode `i` holds `episode_lengths[i]` rows.
    pub actions: Vec<f32>,
    /// Rewards, shape `(transitions,)`.
    pub rewards: Vec<f32>,
    /// Actions per episode, shape `(episodes,)`.
    pub episode_lengths: Vec<u64>,
    /// Success flag per episode, shape `(episodes,)`.
    pub success: Vec<bool>,
    /// Seed per episode, shape `(episodes,)`.
    pub episode_seeds: Vec<u64>,
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u64_bytes(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Dataset {
    /// Assembles a dataset from recorded episodes (in order).
    pub fn from_episodes(mut meta: DatasetMeta, episodes: &[EpisodeRecord]) -> Self {
        let mut d = Dataset {
            observations: Vec::new(),
            states: Vec::new(),
            goal_observations: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            episode_lengths: Vec::new(),
            success: Vec::new(),
            episode_seeds: Vec::new(),
            meta: meta.clone(),
        };
        for e in episodes {
            d.observations.extend_from_slice(&e.observations);
            d.states.extend_from_slice(&e.states);
            d.goal_observations.extend_from_slice(&e.goal_observation);
            d.actions.extend_from_slice(&e.actions);
            d.rewards.extend_from_slice(&e.rewards);
            d.episode_lengths.push(e.steps as u64);
            d.success.push(e.success);
            d.episode_seeds.push(e.seed);
        }
        meta.episodes = episodes.len();
        meta.transitions = d.rewards.len();
        d.meta = meta;
        d
    }

    /// Row range of episode `i` in `observations` (`episode_lengths[i] + 1` rows).
    pub fn obs_rows(&self, i: usize) -> std::ops::Range<usize> {
        let start: u64 = self.episode_lengths[..i].iter().map(|l| l + 1).sum();
        start as usize..(start + self.episode_lengths[i] + 1) as usize
    }

    /// Row range of episode `i` in `actions` and `rewards`.
    pub fn action_rows(&self, i: usize) -> std::ops::Range<usize> {
        let start: u64 = self.episode_lengths[..i].iter().sum();
        start as usize..(start + self.episode_lengths[i]) as usize
    }

    /// Serializes to safetensors bytes (deterministic for equal datasets).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (e, t, od) = (self.meta.episodes, self.meta.transitions, self.meta.obs_dim);
        let ad = self.meta.action_dim;
        let success: Vec<u8> = self.success.iter().map(|&s| s as u8).collect();
        let bufs: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = vec![
            (
                "observations",
                Dtype::F32,
                vec![e + t, od],
                f32_bytes(&self.observations),
            ),
            (
                "states",
                Dtype::F32,
                vec![e + t, STATE_DIM],
                f32_bytes(&self.states),
            ),
            (
                "goal_observations",
                Dtype::F32,
                vec![e, od],
                f32_bytes(&self.goal_observations),
            ),
            ("actions", Dtype::F32, vec![t, ad], f32_bytes(&self.actions)),
            ("rewards", Dtype::F32, vec![t], f32_bytes(&self.rewards)),
            (
                "episode_lengths",
                Dtype::U64,
                vec![e],
                u64_bytes(&self.episode_lengths),
            ),
            ("success", Dtype::U8, vec![e], success),
            (
                "episode_seeds",
                Dtype::U64,
                vec![e],
                u64_bytes(&self.episode_seeds),
            ),
        ];
        let err = |m: String| SimError::Dataset {
            path: "<memory>".into(),
            message: m,
        };
        let mut views = Vec::new();
        for (name, dtype, shape, data) in &bufs {
            let v = TensorView::new(*dtype, shape.clone(), data)
                .map_err(|e| err(format!("tensor {name} shape {shape:?}: {e}")))?;
            views.push((*name, v));
        }
        let json = serde_json::to_string(&self.meta).map_err(|e| err(e.to_string()))?;
        let meta = HashMap::from([(META_KEY.to_string(), json)]);
        safetensors::serialize(views, Some(meta)).map_err(|e| err(e.to_string()))
    }

    /// Writes the dataset to `path` atomically: a temporary file in the same folder, synced,
    /// then renamed over `path`. An interrupted write never leaves a partial file at `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes)
    }

    /// Reads and checks a dataset file.
    pub fn load(path: &Path) -> Result<Self> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| SimError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            SimError::Dataset { message, .. } => SimError::Dataset { path: p, message },
            other => other,
        })
    }

    /// Parses and checks safetensors bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let err = |m: String| SimError::Dataset {
            path: "<memory>".into(),
            message: m,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| err(e.to_string()))?;
        let meta = DatasetMeta::parse(header.metadata().as_ref().and_then(|m| m.get(META_KEY)))
            .map_err(err)?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
        let (e, t, od, ad) = (
            meta.episodes,
            meta.transitions,
            meta.obs_dim,
            meta.action_dim,
        );
        // Sizes come from the file: refuse any that overflow instead of wrapping.
        let rows = e
            .checked_add(t)
            .filter(|r| r.checked_mul(od.max(ad).max(STATE_DIM)).is_some())
            .ok_or_else(|| err(format!("{e} episodes + {t} transitions overflow")))?;
        if meta.obs_layout.dim() != od {
            return Err(err(format!(
                "obs_layout covers {} floats but obs_dim is {od}",
                meta.obs_layout.dim()
            )));
        }
        let get = |name: &str, dtype: Dtype, shape: &[usize]| -> Result<Vec<u8>> {
            let v = st
                .tensor(name)
                .map_err(|_| err(format!("missing tensor `{name}`")))?;
            if v.dtype() != dtype || v.shape() != shape {
                return Err(err(format!(
                    "tensor `{name}` is {:?} {:?}, expected {dtype:?} {shape:?}",
                    v.dtype(),
                    v.shape()
                )));
            }
            Ok(v.data().to_vec())
        };
        let f32s = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let raw = get(name, Dtype::F32, shape)?;
            let v: Vec<f32> = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            match v.iter().position(|x| !x.is_finite()) {
                Some(i) => Err(err(format!(
                    "tensor `{name}` has a non-finite value at {i}"
                ))),
                None => Ok(v),
            }
        };
        let u64s = |name: &str, shape: &[usize]| -> Result<Vec<u64>> {
            Ok(get(name, Dtype::U64, shape)?
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect())
        };
        let d = Dataset {
            observations: f32s("observations", &[rows, od])?,
            states: f32s("states", &[rows, STATE_DIM])?,
            goal_observations: f32s("goal_observations", &[e, od])?,
            actions: f32s("actions", &[t, ad])?,
            rewards: f32s("rewards", &[t])?,
            episode_lengths: u64s("episode_lengths", &[e])?,
            success: get("success", Dtype::U8, &[e])?
                .iter()
                .map(|&b| b != 0)
                .collect(),
            episode_seeds: u64s("episode_seeds", &[e])?,
            meta,
        };
        let total = d
            .episode_lengths
            .iter()
            .try_fold(0u64, |a, &l| a.checked_add(l))
            .unwrap_or(u64::MAX);
        if total != t as u64 {
            return Err(err(format!(
                "episode_lengths sum to {total} but there are {t} transitions"
            )));
        }
        let names = st.names().len();
        if names != 8 {
            return Err(err(format!("{names} tensors, expected 8")));
        }
        Ok(d)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| SimError::Io { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
