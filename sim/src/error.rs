//! The one error type of the `sim` crate.

use thiserror::Error;

/// Everything that can go wrong in the simulator, its configuration and its data files.
#[derive(Debug, Error)]
pub enum SimError {
    /// An action had the wrong length.
    #[error("action has {got} components, expected {expected} ([dx, dy, dz, grip])")]
    ActionLength {
        /// Components received.
        got: usize,
        /// Components expected.
        expected: usize,
    },
    /// An action contained NaN or an infinity; the world was left untouched.
    #[error("action component {index} is not finite ({value}); the world was not stepped")]
    NonFiniteAction {
        /// Index of the offending component.
        index: usize,
        /// The value received.
        value: f32,
    },
    /// `step` was called before `reset`.
    #[error("step called before reset")]
    NotReset,
    /// Sub-goal observations exist for `state` observations only.
    #[error("sub-goal observations need `state` observations; this environment has `{0}`")]
    SubgoalsNeedState(&'static str),
    /// A configuration value is out of its allowed range.
    #[error("config key `{key}` = {value} is out of range: {expected}")]
    ConfigRange {
        /// Dotted key path, e.g. `scene.cube_size`.
        key: String,
        /// The value found.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A configuration file could not be parsed (unknown key, wrong type, bad TOML).
    #[error("config file {path}: {message}")]
    ConfigParse {
        /// File that failed.
        path: String,
        /// Parser message (names the key and line).
        message: String,
    },
    /// An unknown task name.
    #[error("unknown task `{0}` (expected one of: reach, push, pick_place)")]
    UnknownTask(String),
    /// An unknown policy name.
    #[error("unknown policy `{0}` (expected one of: expert, noisy, random)")]
    UnknownPolicy(String),
    /// An unknown observation mode.
    #[error("unknown observation mode `{0}` (expected state or depth)")]
    UnknownObsMode(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A dataset file is malformed (missing tensor, wrong shape, bad metadata).
    #[error("dataset {path}: {message}")]
    Dataset {
        /// The file involved.
        path: String,
        /// What is wrong, with the numbers.
        message: String,
    },
}

/// Result alias for the `sim` crate.
pub type Result<T> = std::result::Result<T, SimError>;
