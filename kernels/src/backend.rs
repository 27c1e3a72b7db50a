//! [`Backend`]: which rollout implementation runs the plan, as a CLI/config value.

use crate::detect::cuda_available;
use crate::error::KernelError;
use std::fmt;
use std::str::FromStr;

/// Where rollouts run. Parsed from `cpu`, `cuda` or `auto` (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The CPU thread pool (`planner::CpuRollout`), the reference.
    Cpu,
    /// The fused CUDA kernels ([`crate::CudaRollout`]); an error when no GPU is usable.
    Cuda,
    /// CUDA when a device is usable, otherwise the CPU (with one line on stderr saying why).
    #[default]
    Auto,
}

impl Backend {
    /// Every value, in the order the CLI lists them.
    pub const ALL: [Backend; 3] = [Backend::Cpu, Backend::Cuda, Backend::Auto];

    /// The backend to use here: `Cpu` or `Cuda`, never `Auto`.
    ///
    /// `Cuda` fails with the reason when no device is usable; `Auto` falls back to `Cpu` and
    /// prints one line to stderr with the reason.
    pub fn resolve(self) -> Result<Backend, KernelError> {
        match self {
            Backend::Cpu => Ok(Backend::Cpu),
            Backend::Cuda => cuda_available().map(|()| Backend::Cuda),
            Backend::Auto => Ok(match cuda_available() {
                Ok(()) => Backend::Cuda,
                Err(e) => {
                    eprintln!("backend auto: using the CPU ({e})");
                    Backend::Cpu
                }
            }),
        }
    }

    /// The name accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Cuda => "cuda",
            Backend::Auto => "auto",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Backend::from_str`]: the text that was not a backend name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend `{0}`; expected one of: cpu, cuda, auto")]
pub struct ParseBackendError(pub String);

impl FromStr for Backend {
    type Err = ParseBackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseBackendError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.to_string().parse::<Backend>(), Ok(b));
        }
        assert_eq!("CUDA".parse::<Backend>(), Ok(Backend::Cuda));
        let err = "gpu".parse::<Backend>().unwrap_err();
        assert!(err.to_string().contains("`gpu`"), "{err}");
    }

    #[test]
    fn cpu_resolves_to_cpu_and_auto_never_stays_auto() {
        assert_eq!(Backend::Cpu.resolve(), Ok(Backend::Cpu));
        let r = Backend::Auto.resolve().expect("auto always resolves");
        assert_ne!(r, Backend::Auto);
    }
}
