//! Reading tensors from safetensors files, with the checks the container does not make.
//!
//! `safetensors` itself rejects malformed headers, bad offsets and truncation, but accepts NaN
//! and infinite values and knows nothing of the shapes an architecture expects. A [`TensorFile`]
//! hands tensors out by name, checking dtype, shape and finiteness, and [`TensorFile::finish`]
//! reports any tensor that nobody asked for. Every error names the tensor. Pickle files are never
//! read.

use crate::error::ModelError;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;

/// One decoded tensor: shape and values widened to `f64` (exact for `f32` and `f64`).
#[derive(Debug, Clone)]
struct RawTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    values: Vec<f64>,
}

/// The tensors of one safetensors file, handed out once each by name.
#[derive(Debug, Clone)]
pub struct TensorFile {
    tensors: BTreeMap<String, RawTensor>,
}

impl TensorFile {
    /// Reads a file from disk.
    pub fn open(path: &std::path::Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes)
    }

    /// Parses a file held in memory. Only `F32` and `F64` tensors are accepted.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Format(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let data = view.data();
            let values: Vec<f64> = match view.dtype() {
                Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                    .collect(),
                Dtype::F64 => data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
                other => {
                    return Err(ModelError::DtypeMismatch {
                        name: name.to_string(),
                        expected: "F32 or F64".into(),
                        found: format!("{other:?}"),
                    });
                }
            };
            tensors.insert(
                name.to_string(),
                RawTensor {
                    dtype: view.dtype(),
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
        Ok(Self { tensors })
    }

    /// Names of the tensors not yet taken, sorted.
    pub fn remaining(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }

    /// Whether a tensor of this name is present (and not yet taken).
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn take(&mut self, name: &str, shape: &[usize], dtype: Dtype) -> Result<Vec<f64>, ModelError> {
        let t = self
            .tensors
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })?;
        if t.dtype != dtype {
            return Err(ModelError::DtypeMismatch {
                name: name.to_string(),
                expected: format!("{dtype:?}"),
                found: format!("{:?}", t.dtype),
            });
        }
        if t.shape != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape,
            });
        }
        let count = t.values.iter().filter(|v| !v.is_finite()).count();
        if count > 0 {
            let first_index = t.values.iter().position(|v| !v.is_finite()).unwrap_or(0);
            return Err(ModelError::NonFiniteTensor {
                name: name.to_string(),
                count,
                first_index,
            });
        }
        Ok(t.values)
    }

    /// Takes an `F32` tensor of exactly `shape`, all values finite.
    pub fn take_f32(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        Ok(self
            .take(name, shape, Dtype::F32)?
            .into_iter()
            .map(|v| v as f32)
            .collect())
    }

    /// Takes an `F64` tensor of exactly `shape`, all values finite.
    pub fn take_f64(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f64>, ModelError> {
        self.take(name, shape, Dtype::F64)
    }

    /// Ends loading: any tensor not taken is an error naming it (the first in sorted order).
    pub fn finish(self) -> Result<(), ModelError> {
        match self.tensors.into_keys().next() {
            Some(name) => Err(ModelError::UnexpectedTensor { name }),
            None => Ok(()),
        }
    }
}

/// Serializes named `F32` tensors `(name, shape, values)` to safetensors bytes (for tests and
/// for writing models).
pub fn to_safetensors_bytes(
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
) -> Result<Vec<u8>, ModelError> {
    use safetensors::tensor::TensorView;
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::new();
    for ((name, shape, _), data) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, shape.clone(), data)
            .map_err(|e| ModelError::Format(format!("{name}: {e}")))?;
        views.push((name.to_string(), view));
    }
    safetensors::serialize(views, None).map_err(|e| ModelError::Format(e.to_string()))
}
