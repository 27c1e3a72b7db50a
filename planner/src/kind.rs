//! The one place that lists every optimizer: [`OptimizerKind`], [`OptimizerConfig`] and
//! [`AnyOptimizer`].

use crate::cem::{Cem, CemConfig};
use crate::dims::Dims;
use crate::error::PlanError;
use crate::gradient::{Gradient, GradientConfig};
use crate::hybrid::{Hybrid, HybridConfig};
use crate::icem::{Icem, IcemConfig};
use crate::mppi::{Mppi, MppiConfig};
use crate::optimizer::{Optimizer, Problem, SolveStats};
use crate::rollout::{Rollout, RolloutGrad};
use serde::{Deserialize, Serialize};

/// Names of the optimizers, as used on the command line and in config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Cross-entropy method ([`Cem`]).
    Cem,
    /// Improved CEM ([`Icem`]).
    Icem,
    /// Model-predictive path integral ([`Mppi`]).
    Mppi,
    /// Multi-start Adam ([`Gradient`]).
    #[serde(rename = "grad")]
    Gradient,
    /// CEM then Adam ([`Hybrid`]).
    Hybrid,
}

impl OptimizerKind {
    /// Every kind, in a fixed order.
    pub const ALL: [OptimizerKind; 5] = [
        Self::Cem,
        Self::Icem,
        Self::Mppi,
        Self::Gradient,
        Self::Hybrid,
    ];

    /// The command-line name (`cem`, `icem`, `mppi`, `grad`, `hybrid`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Cem => "cem",
            Self::Icem => "icem",
            Self::Mppi => "mppi",
            Self::Gradient => "grad",
            Self::Hybrid => "hybrid",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Result<Self, PlanError> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| PlanError::InvalidConfig {
                key: "planner",
                message: format!(
                    "unknown planner `{name}`; expected one of cem, icem, mppi, grad, hybrid"
                ),
            })
    }

    /// The default configuration of this kind.
    pub fn default_config(self) -> OptimizerConfig {
        match self {
            Self::Cem => OptimizerConfig::Cem(CemConfig::default()),
            Self::Icem => OptimizerConfig::Icem(IcemConfig::default()),
            Self::Mppi => OptimizerConfig::Mppi(MppiConfig::default()),
            Self::Gradient => OptimizerConfig::Gradient(GradientConfig::default()),
            Self::Hybrid => OptimizerConfig::Hybrid(HybridConfig::default()),
        }
    }
}

/// Configuration of any optimizer; in TOML, `kind = "cem"` plus that optimizer's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// [`Cem`] settings.
    Cem(CemConfig),
    /// [`Icem`] settings.
    Icem(IcemConfig),
    /// [`Mppi`] settings.
    Mppi(MppiConfig),
    /// [`Gradient`] settings.
    #[serde(rename = "grad")]
    Gradient(GradientConfig),
    /// [`Hybrid`] settings.
    Hybrid(HybridConfig),
}

impl OptimizerConfig {
    /// Range-checks the settings; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        match self {
            Self::Cem(c) => c.validate(),
            Self::Icem(c) => c.validate(),
            Self::Mppi(c) => c.validate(),
            Self::Gradient(c) => c.validate(),
            Self::Hybrid(c) => c.validate(),
        }
    }

    /// Largest batch the optimizer evaluates at once (what a rollout must be sized for).
    pub fn max_batch(&self) -> usize {
        match self {
            Self::Cem(c) => c.num_samples,
            Self::Icem(c) => c.num_samples,
            Self::Mppi(c) => c.num_samples,
            Self::Gradient(c) => c.num_starts,
            Self::Hybrid(c) => c.sampler.num_samples.max(c.refine.num_starts),
        }
    }
}

/// Any optimizer, chosen at run time. Needs a differentiable rollout because two of them do.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per planner, never moved in a hot loop
pub enum AnyOptimizer {
    /// CEM, iCEM or MPPI.
    Sampling(SamplingOptimizer),
    /// See [`Gradient`].
    Gradient(Gradient),
    /// See [`Hybrid`].
    Hybrid(Hybrid),
}

impl AnyOptimizer {
    /// Builds the optimizer a config describes.
    pub fn new(config: OptimizerConfig, dims: Dims) -> Result<Self, PlanError> {
        Ok(match config {
            OptimizerConfig::Gradient(c) => Self::Gradient(Gradient::new(c, dims)?),
            OptimizerConfig::Hybrid(c) => Self::Hybrid(Hybrid::new(c, dims)?),
            sampling => Self::Sampling(SamplingOptimizer::new(sampling, dims)?),
        })
    }
}

macro_rules! each {
    ($self:expr, $o:ident => $body:expr) => {
        match $self {
            AnyOptimizer::Sampling($o) => $body,
            AnyOptimizer::Gradient($o) => $body,
            AnyOptimizer::Hybrid($o) => $body,
        }
    };
}

impl<R: RolloutGrad> Optimizer<R> for AnyOptimizer {
    fn dims(&self) -> Dims {
        each!(self, o => Optimizer::<R>::dims(o))
    }

    fn max_iterations(&self) -> usize {
        each!(self, o => Optimizer::<R>::max_iterations(o))
    }

    fn plan(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<(), PlanError> {
        each!(self, o => o.plan(rollout, problem, plan, stats))
    }

    fn reset(&mut self) {
        each!(self, o => Optimizer::<R>::reset(o))
    }
}

/// The sampling optimizers (CEM, iCEM, MPPI), chosen at run time, over any rollout: the ones
/// that need no gradient, e.g. for a rollout that steps a simulator.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per planner, never moved in a hot loop
pub enum SamplingOptimizer {
    /// See [`Cem`].
    Cem(Cem),
    /// See [`Icem`].
    Icem(Icem),
    /// See [`Mppi`].
    Mppi(Mppi),
}

impl SamplingOptimizer {
    /// Builds the optimizer a config describes; gradient and hybrid configs are an error.
    pub fn new(config: OptimizerConfig, dims: Dims) -> Result<Self, PlanError> {
        Ok(match config {
            OptimizerConfig::Cem(c) => Self::Cem(Cem::new(c, dims)?),
            OptimizerConfig::Icem(c) => Self::Icem(Icem::new(c, dims)?),
            OptimizerConfig::Mppi(c) => Self::Mppi(Mppi::new(c, dims)?),
            OptimizerConfig::Gradient(_) | OptimizerConfig::Hybrid(_) => {
                return Err(PlanError::InvalidConfig {
                    key: "optimizer",
                    message: "gradient and hybrid need a differentiable rollout; \
                              use cem, icem or mppi"
                        .into(),
                });
            }
        })
    }
}

macro_rules! each_sampling {
    ($self:expr, $o:ident => $body:expr) => {
        match $self {
            SamplingOptimizer::Cem($o) => $body,
            SamplingOptimizer::Icem($o) => $body,
            SamplingOptimizer::Mppi($o) => $body,
        }
    };
}

impl<R: Rollout> Optimizer<R> for SamplingOptimizer {
    fn dims(&self) -> Dims {
        each_sampling!(self, o => Optimizer::<R>::dims(o))
    }

    fn max_iterations(&self) -> usize {
        each_sampling!(self, o => Optimizer::<R>::max_iterations(o))
    }

    fn plan(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<(), PlanError> {
        each_sampling!(self, o => o.plan(rollout, problem, plan, stats))
    }

    fn reset(&mut self) {
        each_sampling!(self, o => Optimizer::<R>::reset(o))
    }
}
