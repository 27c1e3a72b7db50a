//! The one error type of the `world_model` crate.
//!
//! Every variant carries the numbers or names needed to act on it: the tensor that is missing,
//! the shape that was expected and the one found, the slice length that did not match.

use thiserror::Error;

/// Everything that can go wrong when building, loading or evaluating a world model.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    /// A tensor the model needs is not in the file.
    #[error("tensor `{name}` is missing from the model file")]
    MissingTensor {
        /// Name of the tensor that was looked up.
        name: String,
    },
    /// The file holds a tensor the model does not use (a sign of a mismatched architecture).
    #[error("tensor `{name}` in the model file is not used by this architecture")]
    UnexpectedTensor {
        /// Name of the surplus tensor.
        name: String,
    },
    /// A tensor has a different shape than the architecture requires.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Name of the tensor.
        name: String,
        /// Shape the architecture requires.
        expected: Vec<usize>,
        /// Shape found in the file.
        found: Vec<usize>,
    },
    /// A tensor has a dtype the loader does not accept.
    #[error("tensor `{name}` has dtype {found}, expected {expected}")]
    DtypeMismatch {
        /// Name of the tensor.
        name: String,
        /// Accepted dtype.
        expected: String,
        /// Dtype found in the file.
        found: String,
    },
    /// A tensor holds NaN or infinite values.
    #[error("tensor `{name}` holds {count} non-finite value(s), first at flat index {first_index}")]
    NonFiniteTensor {
        /// Name of the tensor.
        name: String,
        /// Number of NaN or infinite entries.
        count: usize,
        /// Flat index of the first offending entry.
        first_index: usize,
    },
    /// The safetensors container itself is malformed (header, offsets, truncation).
    #[error("malformed safetensors file: {0}")]
    Format(String),
    /// A file could not be read.
    #[error("cannot read `{path}`: {message}")]
    Io {
        /// Path that was opened.
        path: String,
        /// Operating-system message.
        message: String,
    },
    /// The architecture description itself is inconsistent.
    #[error("invalid architecture: {0}")]
    InvalidSpec(String),
    /// A model or checkpoint does not fit what the caller has (observation layout, config).
    #[error("incompatible: {0}")]
    Incompatible(String),
    /// A buffer passed to a model method has the wrong length.
    #[error("buffer `{name}` has length {found}, expected {expected}")]
    BufferLength {
        /// Parameter name of the buffer.
        name: &'static str,
        /// Length required by the dimensions.
        expected: usize,
        /// Length received.
        found: usize,
    },
    /// A batch is larger than the workspace was sized for.
    #[error("batch of {rows} rows exceeds the workspace capacity of {capacity} rows")]
    BatchTooLarge {
        /// Rows requested.
        rows: usize,
        /// Rows the workspace holds.
        capacity: usize,
    },
}

/// Checks that a buffer has exactly `expected` elements.
pub(crate) fn check_len(
    name: &'static str,
    found: usize,
    expected: usize,
) -> Result<(), ModelError> {
    if found == expected {
        Ok(())
    } else {
        Err(ModelError::BufferLength {
            name,
            expected,
            found,
        })
    }
}
