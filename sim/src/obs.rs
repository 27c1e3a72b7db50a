//! Observation modes and their index layouts.
//!
//! `state`: 20 floats, see [`STATE_FIELDS`]. `depth`: a `height x width` depth image (row-major,
//! metres along each pixel's ray, `max_depth` where nothing is hit) followed by the proprioceptive
//! part of `state` (palm position, palm velocity, finger gap). `docs/observations.md` documents
//! the same layouts; a test asserts they agree.

use serde::{Deserialize, Serialize};

use crate::camera::DepthCamera;
use crate::config::SceneConfig;
use crate::error::SimError;
use crate::scene::{Scene, SceneState};

/// Which observation the environment returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsMode {
    /// Low-dimensional state vector.
    State,
    /// Depth image plus proprioception.
    Depth,
}

impl ObsMode {
    /// The mode's name as used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            ObsMode::State => "state",
            ObsMode::Depth => "depth",
        }
    }
}

impl std::str::FromStr for ObsMode {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s {
            "state" => Ok(ObsMode::State),
            "depth" => Ok(ObsMode::Depth),
            other => Err(SimError::UnknownObsMode(other.to_string())),
        }
    }
}

/// One named field of an observation: `len` floats starting at `start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObsField {
    /// Field name (e.g. `cube_pos`).
    pub name: String,
    /// First index.
    pub start: usize,
    /// Number of floats.
    pub len: usize,
}

/// `state` fields in order, with their lengths.
pub const STATE_FIELDS: [(&str, usize); 7] = [
    ("palm_pos", 3),
    ("palm_vel", 3),
    ("finger_gap", 1),
    ("cube_pos", 3),
    ("cube_quat", 4),
    ("cube_linvel", 3),
    ("cube_angvel", 3),
];

/// Floats in a `state` observation.
pub const STATE_DIM: usize = 20;

/// Proprioceptive fields appended to the depth image, in order.
pub const PROPRIO_FIELDS: [(&str, usize); 3] =
    [("palm_pos", 3), ("palm_vel", 3), ("finger_gap", 1)];

/// The index layout of an observation vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObsLayout {
    /// The mode this layout describes.
    pub mode: ObsMode,
    /// Depth image `(height, width)`; `(0, 0)` in state mode.
    pub image: (usize, usize),
    /// Fields in order; they tile `0..dim` without gaps.
    pub fields: Vec<ObsField>,
}

impl ObsLayout {
    /// The layout of `mode` under `cfg`.
    pub fn new(mode: ObsMode, cfg: &SceneConfig) -> Self {
        let mut fields = Vec::new();
        let mut start = 0;
        let mut push = |name: &str, len: usize| {
            fields.push(ObsField {
                name: name.to_string(),
                start,
                len,
            });
            start += len;
        };
        let image = match mode {
            ObsMode::State => {
                STATE_FIELDS.iter().for_each(|&(n, l)| push(n, l));
                (0, 0)
            }
            ObsMode::Depth => {
                push("depth", cfg.depth_height * cfg.depth_width);
                PROPRIO_FIELDS.iter().for_each(|&(n, l)| push(n, l));
                (cfg.depth_height, cfg.depth_width)
            }
        };
        Self {
            mode,
            image,
            fields,
        }
    }

    /// Total number of floats.
    pub fn dim(&self) -> usize {
        self.fields.last().map_or(0, |f| f.start + f.len)
    }

    /// Index range of a named field, if the layout has it.
    pub fn range(&self, name: &str) -> Option<std::ops::Range<usize>> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.start..f.start + f.len)
    }
}

/// Writes the proprioceptive floats (palm position, velocity, finger gap) into `out[..7]`.
fn write_proprio(s: &SceneState, out: &mut [f32]) {
    out[0..3].copy_from_slice(&s.palm_pos);
    out[3..6].copy_from_slice(&s.palm_vel);
    out[6] = s.finger_gap;
}

/// Writes the `state` observation of `s` into `out`, shape `(20,)`.
pub fn write_state(s: &SceneState, out: &mut [f32]) {
    write_proprio(s, &mut out[0..7]);
    out[7..10].copy_from_slice(&s.cube_pos);
    out[10..14].copy_from_slice(&s.cube_quat);
    out[14..17].copy_from_slice(&s.cube_linvel);
    out[17..20].copy_from_slice(&s.cube_angvel);
}

/// Renders the observation of `scene` in `layout`'s mode into `out`, shape `(layout.dim(),)`.
pub fn observe(scene: &Scene, layout: &ObsLayout, camera: &DepthCamera, out: &mut [f32]) {
    let s = scene.state();
    match layout.mode {
        ObsMode::State => write_state(&s, out),
        ObsMode::Depth => {
            let n = layout.image.0 * layout.image.1;
            camera.render(scene, &mut out[..n]);
            write_proprio(&s, &mut out[n..n + 7]);
        }
    }
}
