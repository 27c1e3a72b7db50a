//! [`CudaRollout`]: the planner's [`Rollout`] / [`RolloutGrad`] seam on a GPU.
//!
//! One launch per call evaluates all `H` predictor steps and the whole energy for every sample
//! (`rollout_energy`, or `rollout_energy_grad` with the backward pass); only the actions go up and
//! the energies (and gradients) come back. The weights are uploaded once, at construction, and
//! every device buffer is sized then for `capacity` samples (`grad_capacity` for gradients), so a
//! plan call allocates nothing. Sampling stays on the host (the trait's default
//! `sample_and_evaluate`), so a CUDA plan draws exactly the same samples as a CPU plan. The
//! energy's action-target term is added on the host after the download ([`crate::host_terms`]).

use crate::device::Device;
use crate::error::KernelError;
use crate::host_terms::add_action_targets;
use crate::layout::PredictorLayout;
use crate::sources::{ROLLOUT, THREADS, TILE};
use cudarc::driver::{CudaFunction, CudaSlice, LaunchConfig, PushKernelArg};
use planner::error::check_len;
use planner::{Dims, Energy, Norm, PlanError, Rollout, RolloutGrad};
use world_model::{LayerNormParams, MlpWorldModel, WorldModel};

/// Sizes fixed when a [`CudaRollout`] is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudaRolloutConfig {
    /// Largest batch `K` of [`Rollout::evaluate`], >= 1.
    pub capacity: usize,
    /// Largest batch of [`RolloutGrad::evaluate_grad`]; 0 disables gradients (no tape memory).
    /// The tape takes `grad_capacity * horizon * (2 * sum(hidden) + latent_dim) * 4` bytes.
    pub grad_capacity: usize,
    /// CUDA device ordinal. Default 0.
    pub device: usize,
}

impl Default for CudaRolloutConfig {
    fn default() -> Self {
        Self {
            capacity: 512,
            grad_capacity: 0,
            device: 0,
        }
    }
}

/// Device buffers sized at construction.
#[derive(Debug)]
struct Buffers {
    params: CudaSlice<f32>,
    layers: CudaSlice<i32>,
    /// `(latent_dim,)`.
    z0: CudaSlice<f32>,
    /// `(latent_dim,)`.
    goal: CudaSlice<f32>,
    /// `(capacity, horizon, action_dim)`.
    actions: CudaSlice<f32>,
    /// `(capacity,)`.
    energies: CudaSlice<f32>,
    /// `(grad_capacity, horizon, action_dim)`.
    grads: CudaSlice<f32>,
    /// `(grad_capacity, horizon, tape_width)`.
    tape: CudaSlice<f32>,
    /// `(grad_capacity, horizon, latent_dim)`.
    zs: CudaSlice<f32>,
}

/// Batched rollouts of an [`MlpWorldModel`] on a CUDA device; see the module docs.
#[derive(Debug)]
pub struct CudaRollout {
    device: Device,
    layout: PredictorLayout,
    dims: Dims,
    config: CudaRolloutConfig,
    forward: CudaFunction,
    grad: Option<CudaFunction>,
    buf: Buffers,
}

fn sz(op: &'static str, n: usize) -> Result<i32, KernelError> {
    i32::try_from(n).map_err(|_| KernelError::Limit {
        what: op,
        value: n,
        max: i32::MAX as usize,
    })
}

impl CudaRollout {
    /// Builds a rollout for `model` (with its predictor's LayerNorms, if any) and `horizon`.
    ///
    /// Fails with a [`KernelError`] (never panics) when no CUDA driver, NVRTC or device is
    /// present, when a size exceeds the kernels' limits, or when the device is out of memory.
    pub fn new(
        model: &MlpWorldModel,
        horizon: usize,
        config: CudaRolloutConfig,
    ) -> Result<Self, KernelError> {
        Self::with_layer_norms(model, model.predictor().norms(), horizon, config)
    }

    /// Like [`CudaRollout::new`], for a predictor with LayerNorm: `norms` holds one parameter set
    /// per hidden layer (the same values the model was built with).
    pub fn with_layer_norms(
        model: &MlpWorldModel,
        norms: &[LayerNormParams],
        horizon: usize,
        config: CudaRolloutConfig,
    ) -> Result<Self, KernelError> {
        let md = model.dims();
        let dims = Dims {
            horizon,
            action_dim: md.action_dim,
            latent_dim: md.latent_dim,
        };
        dims.validate()?;
        if config.capacity == 0 {
            return Err(PlanError::InvalidConfig {
                key: "capacity",
                message: "must be at least 1, got 0".into(),
            }
            .into());
        }
        let layout = PredictorLayout::new(model, norms)?;
        let (cap, gcap, pl) = (config.capacity, config.grad_capacity, dims.plan_len());
        // Every index the kernels compute in 32 bits must fit.
        sz("capacity * horizon * action_dim", cap * pl)?;
        sz("grad_capacity * horizon * action_dim", gcap * pl)?;

        let device = Device::open(config.device)?;
        let forward = device.function(&ROLLOUT, "rollout_energy", layout.rollout_smem_bytes())?;
        let grad = if gcap > 0 {
            Some(device.function(&ROLLOUT, "rollout_energy_grad", layout.grad_smem_bytes())?)
        } else {
            None
        };
        let s = &device.stream;
        let alloc = |n: usize| {
            s.alloc_zeros::<f32>(n.max(1))
                .map_err(|e| KernelError::driver("cuMemAlloc", e))
        };
        let buf = Buffers {
            params: s
                .clone_htod(&layout.params)
                .map_err(|e| KernelError::driver("upload weights", e))?,
            layers: s
                .clone_htod(&layout.layers)
                .map_err(|e| KernelError::driver("upload layer table", e))?,
            z0: alloc(dims.latent_dim)?,
            goal: alloc(dims.latent_dim)?,
            actions: alloc(cap.max(gcap) * pl)?,
            energies: alloc(cap.max(gcap))?,
            grads: alloc(gcap * pl)?,
            tape: alloc(gcap * horizon * layout.tape_width)?,
            zs: alloc(gcap * horizon * dims.latent_dim)?,
        };
        s.synchronize()
            .map_err(|e| KernelError::driver("synchronize after upload", e))?;
        Ok(Self {
            device,
            layout,
            dims,
            config,
            forward,
            grad,
            buf,
        })
    }

    /// The device this rollout runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Checks the call's buffers and uploads `z0`, the goal and the actions; returns `K`.
    fn upload(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &[f32],
        capacity: usize,
    ) -> Result<usize, PlanError> {
        let d = self.dims;
        energy.validate(&d)?;
        if energy.has_head() {
            return Err(KernelError::Unsupported(format!(
                "the kernels lack the energy's head term (head_weight {}, set by \
                 planner.palm_weight); plan on the CPU backend",
                energy.head_weight
            ))
            .into());
        }
        if energy.has_value() {
            return Err(KernelError::Unsupported(format!(
                "the kernels lack the energy's learned value term (value_weight {}, running {}, \
                 set by planner.value_weight); plan on the CPU backend",
                energy.value_weight, energy.value_running_weight
            ))
            .into());
        }
        let k = energies.len();
        check_len("z0", z0.len(), d.latent_dim)?;
        check_len("actions", actions.len(), k * d.plan_len())?;
        if k > capacity {
            return Err(PlanError::TooManySamples {
                requested: k,
                capacity,
            });
        }
        if k == 0 {
            return Ok(0);
        }
        let s = &self.device.stream;
        s.memcpy_htod(z0, &mut self.buf.z0)
            .map_err(|e| KernelError::driver("upload z0", e))?;
        s.memcpy_htod(&energy.goal[..], &mut self.buf.goal)
            .map_err(|e| KernelError::driver("upload goal", e))?;
        s.memcpy_htod(actions, &mut self.buf.actions.slice_mut(..actions.len()))
            .map_err(|e| KernelError::driver("upload actions", e))?;
        Ok(k)
    }

    fn launch_config(k: usize, smem: usize) -> LaunchConfig {
        LaunchConfig {
            grid_dim: (k.div_ceil(TILE) as u32, 1, 1),
            block_dim: (THREADS as u32, 1, 1),
            shared_mem_bytes: smem as u32,
        }
    }
}

/// `(code, beta)` of a norm, as `common.cuh` numbers them.
fn norm_code(n: Norm) -> (i32, f32) {
    match n {
        Norm::L1 => (0, 0.0),
        Norm::SquaredL2 => (1, 0.0),
        Norm::SmoothL1 { beta } => (2, beta),
        Norm::Cosine => (3, 0.0),
    }
}

/// Scalar kernel arguments shared by both rollout kernels, in signature order.
struct Scalars {
    num_layers: i32,
    act: i32,
    latent_dim: i32,
    action_dim: i32,
    horizon: i32,
    num_samples: i32,
    norm: i32,
    beta: f32,
    w_term: f32,
    w_run: f32,
    w_mag: f32,
    w_smooth: f32,
}

impl Scalars {
    fn new(layout: &PredictorLayout, dims: Dims, energy: &Energy, k: usize) -> Self {
        let (norm, beta) = norm_code(energy.norm);
        Self {
            num_layers: layout.num_layers as i32,
            act: layout.activation,
            latent_dim: dims.latent_dim as i32,
            action_dim: dims.action_dim as i32,
            horizon: dims.horizon as i32,
            num_samples: k as i32,
            norm,
            beta,
            w_term: energy.terminal_weight,
            w_run: energy.running_weight,
            w_mag: energy.magnitude_weight,
            w_smooth: energy.smoothness_weight,
        }
    }
}

impl Rollout for CudaRollout {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn capacity(&self) -> usize {
        self.config.capacity
    }

    fn evaluate(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError> {
        let k = self.upload(z0, energy, actions, energies, self.config.capacity)?;
        if k == 0 {
            return Ok(());
        }
        let sc = Scalars::new(&self.layout, self.dims, energy, k);
        let width = self.layout.width as i32;
        let cfg = Self::launch_config(k, self.layout.rollout_smem_bytes());
        let s = &self.device.stream;
        let b = &mut self.buf;
        let mut l = s.launch_builder(&self.forward);
        l.arg(&b.params).arg(&b.layers);
        l.arg(&sc.num_layers).arg(&sc.act).arg(&sc.latent_dim);
        l.arg(&sc.action_dim).arg(&sc.horizon).arg(&sc.num_samples);
        l.arg(&width).arg(&b.z0).arg(&b.goal).arg(&b.actions);
        l.arg(&sc.norm).arg(&sc.beta).arg(&sc.w_term).arg(&sc.w_run);
        l.arg(&sc.w_mag).arg(&sc.w_smooth).arg(&mut b.energies);
        // SAFETY: the arguments match `rollout_energy` in cuda/rollout.cu in order and type;
        // every buffer was sized at construction for `capacity >= k` samples of these dims, the
        // layer table and parameters come from one `PredictorLayout`, and the dynamic shared
        // memory is the size that layout computes (allowed on the function at construction).
        unsafe { l.launch(cfg) }.map_err(|e| KernelError::driver("launch rollout_energy", e))?;
        s.memcpy_dtoh(&b.energies.slice(..k), energies)
            .map_err(|e| KernelError::driver("download energies", e))?;
        s.synchronize()
            .map_err(|e| KernelError::driver("rollout_energy", e))?;
        add_action_targets(energy, self.dims, actions, energies, None);
        Ok(())
    }
}

impl RolloutGrad for CudaRollout {
    fn evaluate_grad(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
        grads: &mut [f32],
    ) -> Result<(), PlanError> {
        check_len("grads", grads.len(), actions.len())?;
        let k = self.upload(z0, energy, actions, energies, self.config.grad_capacity)?;
        if k == 0 {
            return Ok(());
        }
        let Some(f) = self.grad.as_ref() else {
            return Err(PlanError::TooManySamples {
                requested: k,
                capacity: 0,
            });
        };
        let sc = Scalars::new(&self.layout, self.dims, energy, k);
        let width = self.layout.grad_width as i32;
        let tape_w = self.layout.tape_width as i32;
        let cfg = Self::launch_config(k, self.layout.grad_smem_bytes());
        let s = &self.device.stream;
        let b = &mut self.buf;
        let mut l = s.launch_builder(f);
        l.arg(&b.params).arg(&b.layers);
        l.arg(&sc.num_layers).arg(&sc.act).arg(&sc.latent_dim);
        l.arg(&sc.action_dim).arg(&sc.horizon).arg(&sc.num_samples);
        l.arg(&width)
            .arg(&tape_w)
            .arg(&b.z0)
            .arg(&b.goal)
            .arg(&b.actions);
        l.arg(&sc.norm).arg(&sc.beta).arg(&sc.w_term).arg(&sc.w_run);
        l.arg(&sc.w_mag).arg(&sc.w_smooth);
        l.arg(&mut b.tape)
            .arg(&mut b.zs)
            .arg(&mut b.energies)
            .arg(&mut b.grads);
        // SAFETY: the arguments match `rollout_energy_grad` in cuda/rollout_grad.cu in order and
        // type; `k <= grad_capacity`, for which tape, zs, grads, energies and actions were sized
        // at construction; shared memory as in `evaluate`.
        unsafe { l.launch(cfg) }
            .map_err(|e| KernelError::driver("launch rollout_energy_grad", e))?;
        s.memcpy_dtoh(&b.energies.slice(..k), energies)
            .map_err(|e| KernelError::driver("download energies", e))?;
        s.memcpy_dtoh(&b.grads.slice(..grads.len()), grads)
            .map_err(|e| KernelError::driver("download gradients", e))?;
        s.synchronize()
            .map_err(|e| KernelError::driver("rollout_energy_grad", e))?;
        add_action_targets(energy, self.dims, actions, energies, Some(grads));
        Ok(())
    }
}
