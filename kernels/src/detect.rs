//! Is a CUDA device usable here? Checks that never panic.
//!
//! cudarc loads `libcuda` and `libnvrtc` lazily and panics on the first call when a library is
//! missing, so every path into the driver or NVRTC in this crate goes through [`nvrtc_available`]
//! and [`cuda_available`] first. Both libraries are found through `LD_LIBRARY_PATH` (and the
//! system's loader paths) only.

use crate::error::KernelError;

/// Whether `libnvrtc.so.12` (the run-time CUDA compiler) can be loaded. Needs no GPU.
pub fn nvrtc_available() -> Result<(), KernelError> {
    // SAFETY: `is_culib_present` only tries to dlopen the library by its candidate names and
    // drops the handle; it calls no NVRTC function.
    if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        Ok(())
    } else {
        Err(KernelError::LibraryMissing {
            library: "libnvrtc.so",
            hint: "install CUDA 12.9+ NVRTC (e.g. `source scripts/cuda_tools.sh`) and add its \
                   lib folder to LD_LIBRARY_PATH",
        })
    }
}

/// Whether the CUDA driver library (`libcuda.so`, installed with the NVIDIA driver) can be
/// loaded. Needs no GPU.
pub fn driver_available() -> Result<(), KernelError> {
    // SAFETY: as above, a dlopen probe that calls no driver function.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        Ok(())
    } else {
        Err(KernelError::LibraryMissing {
            library: "libcuda.so",
            hint: "no NVIDIA driver on this machine (or its library is not on the loader path)",
        })
    }
}

/// Number of CUDA devices; an error when the driver or NVRTC is missing or fails to initialize.
pub fn device_count() -> Result<usize, KernelError> {
    driver_available()?;
    nvrtc_available()?;
    cudarc::driver::result::init().map_err(|e| KernelError::driver("cuInit", e))?;
    let n = cudarc::driver::CudaContext::device_count()
        .map_err(|e| KernelError::driver("cuDeviceGetCount", e))?;
    Ok(n.max(0) as usize)
}

/// `Ok` when the CUDA backend can run here: driver and NVRTC load and at least one device exists.
pub fn cuda_available() -> Result<(), KernelError> {
    match device_count()? {
        0 => Err(KernelError::NoDevice {
            count: 0,
            ordinal: 0,
        }),
        _ => Ok(()),
    }
}
