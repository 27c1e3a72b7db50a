//! Without a CUDA driver, building a `CudaRollout` is an error value, never a panic.

use kernels::{Backend, CudaRollout, CudaRolloutConfig, KernelError};
use world_model::{Activation, Linear, Mlp, MlpSpec, MlpWorldModel};

fn tiny_model() -> MlpWorldModel {
    let spec = MlpSpec {
        input_dim: 3,
        hidden: vec![4],
        output_dim: 2,
        activation: Activation::Tanh,
        layer_norm: false,
    };
    let linears = spec
        .layer_dims()
        .into_iter()
        .map(|(i, o)| Linear::new(vec![0.1; i * o], vec![0.0; o], i, o).expect("linear"))
        .collect();
    let mlp = Mlp::new(spec, linears, Vec::new()).expect("mlp");
    MlpWorldModel::new(None, mlp, 2, 1).expect("model")
}

#[test]
fn cuda_rollout_without_driver_is_an_error_not_a_panic() {
    if kernels::driver_available().is_ok() {
        println!("skipped: a CUDA driver is present on this machine");
        return;
    }
    let err = CudaRollout::new(&tiny_model(), 4, CudaRolloutConfig::default()).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::LibraryMissing {
                library: "libcuda.so",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("libcuda"), "{err}");
    let plan_err: planner::PlanError = err.into();
    assert!(plan_err.to_string().contains("backend"), "{plan_err}");
    assert!(Backend::Cuda.resolve().is_err());
    assert_eq!(Backend::Auto.resolve(), Ok(Backend::Cpu));
}
