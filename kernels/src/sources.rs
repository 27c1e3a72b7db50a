//! The embedded CUDA sources, NVRTC compilation per architecture, and the per-process PTX cache.
//!
//! Each module is `cuda/common.cuh` followed by its `.cu` files, compiled as one string (NVRTC
//! gets no include paths). Compilation is FP32-exact: no fast math, precise division and square
//! root, no flush-to-zero; FMA contraction stays on (the CPU reference uses `mul_add` in its
//! activations too).

use crate::detect::nvrtc_available;
use crate::error::KernelError;
use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Samples per block of the rollout kernels (`EBMPC_TILE` in `common.cuh`).
pub const TILE: usize = 8;
/// Threads per block of the rollout kernels (`EBMPC_THREADS` in `common.cuh`).
pub const THREADS: usize = 256;
/// Ints per row of the layer table (`EBMPC_LAYER_FIELDS` in `common.cuh`).
pub const LAYER_FIELDS: usize = 9;

const COMMON: &str = include_str!("../cuda/common.cuh");

/// One compilation unit.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// Name used in errors and in the cache.
    pub name: &'static str,
    /// `(file name, source)` of the `.cu` files after `common.cuh`.
    pub files: &'static [(&'static str, &'static str)],
    /// Kernels (`extern "C"` entry points) the module defines.
    pub kernels: &'static [&'static str],
}

/// The fused rollout kernels, forward and forward + backward.
pub const ROLLOUT: Module = Module {
    name: "rollout",
    files: &[
        ("rollout.cu", include_str!("../cuda/rollout.cu")),
        ("rollout_grad.cu", include_str!("../cuda/rollout_grad.cu")),
    ],
    kernels: &["rollout_energy", "rollout_energy_grad"],
};

/// Sampling, elite selection, CEM refit and MPPI kernels.
pub const SAMPLING: Module = Module {
    name: "sampling",
    files: &[("sampling.cu", include_str!("../cuda/sampling.cu"))],
    kernels: &[
        "philox_test",
        "sample_actions",
        "select_elites",
        "cem_update",
        "mppi_weights",
        "mppi_update",
    ],
};

/// Every module, for the compile check.
pub const MODULES: [Module; 2] = [ROLLOUT, SAMPLING];

impl Module {
    /// The full source handed to NVRTC.
    pub fn source(&self) -> String {
        let mut s = String::from(COMMON);
        for (name, src) in self.files {
            s.push_str("\n// ---- ");
            s.push_str(name);
            s.push_str(" ----\n");
            s.push_str(src);
        }
        s
    }
}

/// Compiles `module` to PTX for `arch` (`sm_80`, `sm_90`, ...), without the cache.
pub fn compile(module: &Module, arch: &str) -> Result<Ptx, KernelError> {
    nvrtc_available()?;
    let opts = CompileOptions {
        ftz: Some(false),
        prec_div: Some(true),
        prec_sqrt: Some(true),
        fmad: Some(true),
        options: vec![format!("--gpu-architecture={arch}")],
        name: Some(format!("{}.cu", module.name)),
        ..Default::default()
    };
    compile_ptx_with_opts(module.source(), opts).map_err(|e| KernelError::Compile {
        module: module.name,
        arch: arch.to_string(),
        log: match e {
            cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                log.to_string_lossy().into_owned()
            }
            other => other.to_string(),
        },
    })
}

type Cache = Mutex<HashMap<(&'static str, String), Ptx>>;

/// [`compile`], cached per process by `(module, arch)`.
pub fn compile_cached(module: &Module, arch: &str) -> Result<Ptx, KernelError> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (module.name, arch.to_string());
    if let Some(p) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(p);
    }
    let ptx = compile(module, arch)?;
    if let Ok(mut c) = cache.lock() {
        c.insert(key, ptx.clone());
    }
    Ok(ptx)
}
