//! Model files: malformed, incomplete or surplus content is an error that names the tensor.

use world_model::io::to_safetensors_bytes;
use world_model::{Activation, MlpSpec, MlpWorldModel, ModelError, TensorFile};

fn spec() -> MlpSpec {
    MlpSpec {
        input_dim: 3,
        hidden: vec![5],
        output_dim: 2,
        activation: Activation::Tanh,
        layer_norm: false,
    }
}

fn tensors() -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    vec![
        ("predictor.0.weight", vec![5, 3], vec![0.1; 15]),
        ("predictor.0.bias", vec![5], vec![0.0; 5]),
        ("predictor.1.weight", vec![2, 5], vec![0.2; 10]),
        ("predictor.1.bias", vec![2], vec![0.0; 2]),
    ]
}

fn load(t: &[(&str, Vec<usize>, Vec<f32>)]) -> Result<MlpWorldModel, ModelError> {
    let bytes = to_safetensors_bytes(t)?;
    let mut f = TensorFile::from_bytes(&bytes)?;
    let m = MlpWorldModel::from_tensors(&mut f, None, spec(), 2, 1)?;
    f.finish()?;
    Ok(m)
}

#[test]
fn well_formed_model_file_loads() {
    assert!(load(&tensors()).is_ok());
}

#[test]
fn missing_tensor_is_an_error_naming_it() {
    let mut t = tensors();
    t.remove(2);
    let e = load(&t).unwrap_err();
    assert_eq!(
        e,
        ModelError::MissingTensor {
            name: "predictor.1.weight".into()
        }
    );
    assert!(e.to_string().contains("predictor.1.weight"));
}

#[test]
fn extra_tensor_is_an_error_naming_it() {
    let mut t = tensors();
    t.push(("predictor.9.weight", vec![1], vec![0.0]));
    let e = load(&t).unwrap_err();
    assert_eq!(
        e,
        ModelError::UnexpectedTensor {
            name: "predictor.9.weight".into()
        }
    );
}

#[test]
fn misshaped_tensor_is_an_error_naming_it() {
    let mut t = tensors();
    t[0] = ("predictor.0.weight", vec![3, 5], vec![0.1; 15]);
    let e = load(&t).unwrap_err();
    assert!(
        matches!(&e, ModelError::ShapeMismatch { name, .. } if name == "predictor.0.weight"),
        "{e}"
    );
    assert!(e.to_string().contains("[3, 5]"));
}

#[test]
fn non_finite_tensor_is_an_error_naming_it() {
    let mut t = tensors();
    t[1].2[3] = f32::NAN;
    let e = load(&t).unwrap_err();
    assert_eq!(
        e,
        ModelError::NonFiniteTensor {
            name: "predictor.0.bias".into(),
            count: 1,
            first_index: 3
        }
    );
}

#[test]
fn malformed_model_file_is_an_error() {
    let mut bytes = to_safetensors_bytes(&tensors()).expect("serialize");
    bytes.truncate(bytes.len() - 7);
    assert!(matches!(
        TensorFile::from_bytes(&bytes),
        Err(ModelError::Format(_))
    ));
    assert!(matches!(
        TensorFile::from_bytes(b"not a model"),
        Err(ModelError::Format(_))
    ));
}
