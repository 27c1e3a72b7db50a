//! [`Device`]: one CUDA context and stream, with the kernel modules compiled for its architecture.

use crate::detect::{device_count, nvrtc_available};
use crate::error::KernelError;
use crate::sources::{Module, compile_cached};
use cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute};
use cudarc::driver::{CudaContext, CudaFunction, CudaStream};
use std::sync::Arc;

/// A CUDA device ready to run this crate's kernels.
#[derive(Debug, Clone)]
pub struct Device {
    /// The context (primary context of the device).
    pub(crate) ctx: Arc<CudaContext>,
    /// The stream every launch and copy of this device goes to.
    pub(crate) stream: Arc<CudaStream>,
    /// `sm_XY` of the device.
    arch: String,
    /// Largest dynamic shared memory a block may opt into, bytes.
    max_smem: usize,
}

impl Device {
    /// Opens device `ordinal`; an error (never a panic) when the driver, NVRTC or the device is
    /// missing.
    pub fn open(ordinal: usize) -> Result<Self, KernelError> {
        let count = device_count()?;
        nvrtc_available()?;
        if ordinal >= count {
            return Err(KernelError::NoDevice { count, ordinal });
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| KernelError::driver("cuCtxCreate", e))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| KernelError::driver("compute capability", e))?;
        let max_smem = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
            .map_err(|e| KernelError::driver("max shared memory", e))?;
        let stream = ctx
            .new_stream()
            .map_err(|e| KernelError::driver("cuStreamCreate", e))?;
        Ok(Self {
            ctx,
            stream,
            arch: format!("sm_{major}{minor}"),
            max_smem: max_smem.max(0) as usize,
        })
    }

    /// The device's architecture, e.g. `sm_90`.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Largest dynamic shared memory per block, bytes.
    pub fn max_shared_memory(&self) -> usize {
        self.max_smem
    }

    /// Loads kernel `name` of `module`, compiled for this device (cached per process), and lets
    /// it use `smem_bytes` of dynamic shared memory (checked against the device's limit).
    pub fn function(
        &self,
        module: &Module,
        name: &'static str,
        smem_bytes: usize,
    ) -> Result<CudaFunction, KernelError> {
        if smem_bytes > self.max_smem {
            return Err(KernelError::Limit {
                what: "shared memory per block (bytes)",
                value: smem_bytes,
                max: self.max_smem,
            });
        }
        let ptx = compile_cached(module, &self.arch)?;
        let m = self
            .ctx
            .load_module(ptx)
            .map_err(|e| KernelError::driver("cuModuleLoadData", e))?;
        let f = m
            .load_function(name)
            .map_err(|e| KernelError::driver("cuModuleGetFunction", e))?;
        f.set_attribute(
            CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            smem_bytes as i32,
        )
        .map_err(|e| KernelError::driver("cuFuncSetAttribute", e))?;
        Ok(f)
    }
}
