//! [`CpuRollout`]: the reference rollout, a batch split across a persistent pool of threads.
//!
//! With `T` threads, `T - 1` workers are spawned once, at construction, and the calling thread is
//! worker 0. A call writes its inputs into a shared, pre-sized buffer behind an `RwLock`, sends
//! each worker a small `Copy` job through its [`Mailbox`] (a mutex and condition variable, which
//! never allocate; a channel allocates the first time a thread blocks), does its own share, and
//! waits for the others. Worker `w` always takes the contiguous range `w * ceil(K/T) ..` of samples and
//! writes into its own pre-sized output; the caller copies the outputs back. Every sample is
//! computed the same way whatever the range it falls in (the kernels are row-independent and the
//! noise is keyed per sample), so the results are bit-identical for any thread count. Nothing is
//! allocated after construction.

use crate::dims::Dims;
use crate::energy::Energy;
use crate::error::{PlanError, check_len, ensure};
use crate::mailbox::Mailbox;
use crate::rollout::{BlockScratch, Rollout, RolloutGrad, evaluate_rows, grad_rows};
use crate::sampling::{ColorFilter, NoiseKey, SampleRequest, draw_sample};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use world_model::{DifferentiableWorldModel, WorldModel};

/// Work order sent to a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// Evaluate `shared.actions[..num_samples]`.
    Evaluate { num_samples: usize },
    /// Draw per `shared`'s sample request, then evaluate.
    Sample { num_samples: usize },
    /// Evaluate with gradients.
    Grad { num_samples: usize },
    /// Exit the worker loop.
    Stop,
}

/// Inputs of the current call, written by the caller before dispatch.
#[derive(Debug)]
struct Shared {
    z0: Vec<f32>,
    energy: Energy,
    /// `(capacity, horizon, action_dim)`.
    actions: Vec<f32>,
    /// `(horizon, action_dim)`.
    mean: Vec<f32>,
    std: Vec<f32>,
    key: NoiseKey,
    filter: ColorFilter,
    fixed: usize,
}

/// Results of one worker for its range.
#[derive(Debug)]
struct Output {
    /// `(chunk, horizon, action_dim)`: drawn actions.
    actions: Vec<f32>,
    /// `(chunk,)`.
    energies: Vec<f32>,
    /// `(chunk, horizon, action_dim)`.
    grads: Vec<f32>,
}

type GradFn<M> = fn(
    &M,
    Dims,
    &Energy,
    &[f32],
    &[f32],
    &mut [f32],
    &mut [f32],
    &mut BlockScratch<<M as WorldModel>::Workspace>,
) -> Result<(), PlanError>;

struct Remote {
    mailbox: Arc<Mailbox<Job, Result<(), PlanError>>>,
    out: Arc<Mutex<Output>>,
    handle: Option<JoinHandle<()>>,
}

/// Batched rollouts on a persistent pool of CPU threads; see the module docs.
pub struct CpuRollout<M: WorldModel + 'static> {
    model: Arc<M>,
    dims: Dims,
    capacity: usize,
    threads: usize,
    shared: Arc<RwLock<Shared>>,
    local: BlockScratch<M::Workspace>,
    local_out: Output,
    remotes: Vec<Remote>,
    grad: Option<GradFn<M>>,
}

/// `(start, end)` of worker `w`'s samples among `k` split over `threads`.
fn range(k: usize, w: usize, threads: usize) -> (usize, usize) {
    let chunk = k.div_ceil(threads);
    let start = (w * chunk).min(k);
    (start, (start + chunk).min(k))
}

/// Runs worker `w`'s share of `job`.
#[allow(clippy::too_many_arguments)]
fn execute<M: WorldModel>(
    model: &M,
    dims: Dims,
    sh: &Shared,
    job: Job,
    w: usize,
    threads: usize,
    s: &mut BlockScratch<M::Workspace>,
    out: &mut Output,
    grad: Option<GradFn<M>>,
) -> Result<(), PlanError> {
    let pl = dims.plan_len();
    let (num, sample) = match job {
        Job::Evaluate { num_samples } | Job::Grad { num_samples } => (num_samples, false),
        Job::Sample { num_samples } => (num_samples, true),
        Job::Stop => return Ok(()),
    };
    let (start, end) = range(num, w, threads);
    let n = end - start;
    if n == 0 {
        return Ok(());
    }
    let energies = &mut out.energies[..n];
    if sample {
        let req = SampleRequest {
            mean: &sh.mean,
            std: &sh.std,
            key: sh.key,
            filter: &sh.filter,
            fixed: sh.fixed,
            num_samples: num,
        };
        for (i, row) in out.actions[..n * pl].chunks_exact_mut(pl).enumerate() {
            let k = start + i;
            if k < sh.fixed {
                row.copy_from_slice(&sh.actions[k * pl..(k + 1) * pl]);
            } else {
                draw_sample(&req, k, &sh.energy.lower, &sh.energy.upper, row);
            }
        }
        return evaluate_rows(
            model,
            dims,
            &sh.energy,
            &sh.z0,
            &out.actions[..n * pl],
            energies,
            s,
        );
    }
    let actions = &sh.actions[start * pl..end * pl];
    match (job, grad) {
        (Job::Grad { .. }, Some(f)) => f(
            model,
            dims,
            &sh.energy,
            &sh.z0,
            actions,
            energies,
            &mut out.grads[..n * pl],
            s,
        ),
        _ => evaluate_rows(model, dims, &sh.energy, &sh.z0, actions, energies, s),
    }
}

impl<M: WorldModel + 'static> CpuRollout<M> {
    /// A rollout for up to `capacity` samples per call on `threads` threads (>= 1, the calling
    /// thread included). Sizes every buffer now.
    pub fn new(
        model: Arc<M>,
        horizon: usize,
        capacity: usize,
        threads: usize,
    ) -> Result<Self, PlanError> {
        Self::build(model, horizon, capacity, threads, None, 0)
    }

    fn build(
        model: Arc<M>,
        horizon: usize,
        capacity: usize,
        threads: usize,
        grad: Option<GradFn<M>>,
        tape_width: usize,
    ) -> Result<Self, PlanError> {
        let md = model.dims();
        let dims = Dims {
            horizon,
            action_dim: md.action_dim,
            latent_dim: md.latent_dim,
        };
        dims.validate()?;
        ensure(capacity > 0, "capacity", || {
            "must be at least 1, got 0".into()
        })?;
        ensure((1..=256).contains(&threads), "threads", || {
            format!("must be in 1..=256, got {threads}")
        })?;
        let pl = dims.plan_len();
        let chunk = capacity.div_ceil(threads);
        let new_out = || Output {
            actions: vec![0.0; chunk * pl],
            energies: vec![0.0; chunk],
            grads: vec![0.0; if grad.is_some() { chunk * pl } else { 0 }],
        };
        let shared = Arc::new(RwLock::new(Shared {
            z0: vec![0.0; dims.latent_dim],
            energy: Energy::terminal_l2(vec![0.0; dims.latent_dim], dims.action_dim),
            actions: vec![0.0; capacity * pl],
            mean: vec![0.0; pl],
            std: vec![0.0; pl],
            key: NoiseKey::default(),
            filter: ColorFilter::white(horizon),
            fixed: 0,
        }));
        let mut remotes = Vec::new();
        for w in 1..threads {
            let mailbox = Arc::new(Mailbox::new());
            let out = Arc::new(Mutex::new(new_out()));
            let (m, sh, o, mb) = (
                Arc::clone(&model),
                Arc::clone(&shared),
                Arc::clone(&out),
                Arc::clone(&mailbox),
            );
            let mut scratch =
                BlockScratch::new(model.workspace(chunk), dims, grad.map(|_| tape_width));
            let handle = std::thread::Builder::new()
                .name(format!("ebmpc-rollout-{w}"))
                .spawn(move || {
                    // Marks the mailbox dead on every exit, panics included, so that the caller
                    // never waits for a worker that is gone.
                    struct Exit<'a>(&'a Mailbox<Job, Result<(), PlanError>>);
                    impl Drop for Exit<'_> {
                        fn drop(&mut self) {
                            self.0.mark_dead();
                        }
                    }
                    let _exit = Exit(&mb);
                    loop {
                        let job = mb.recv_job();
                        if job == Job::Stop {
                            break;
                        }
                        let result = {
                            let sh = sh.read().unwrap_or_else(|e| e.into_inner());
                            let mut o = o.lock().unwrap_or_else(|e| e.into_inner());
                            execute(&*m, dims, &sh, job, w, threads, &mut scratch, &mut o, grad)
                        };
                        mb.post_result(result);
                    }
                })
                .map_err(|_| PlanError::WorkerGone(w))?;
            remotes.push(Remote {
                mailbox,
                out,
                handle: Some(handle),
            });
        }
        Ok(Self {
            local: BlockScratch::new(model.workspace(chunk), dims, grad.map(|_| tape_width)),
            local_out: new_out(),
            model,
            dims,
            capacity,
            threads,
            shared,
            remotes,
            grad,
        })
    }

    /// Number of threads, the calling one included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The model evaluated.
    pub fn model(&self) -> &Arc<M> {
        &self.model
    }

    fn check(&self, z0: &[f32], energy: &Energy, num: usize) -> Result<(), PlanError> {
        check_len("z0", z0.len(), self.dims.latent_dim)?;
        energy.validate(&self.dims)?;
        if num > self.capacity {
            return Err(PlanError::TooManySamples {
                requested: num,
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    /// Sends `job` to every worker, runs worker 0's share here, waits for all, then copies the
    /// outputs (`energies (K,)`, optionally `actions` and `grads` `(K, horizon, action_dim)`).
    fn dispatch(
        &mut self,
        job: Job,
        num: usize,
        energies: &mut [f32],
        actions: Option<&mut [f32]>,
        grads: Option<&mut [f32]>,
    ) -> Result<(), PlanError> {
        for (i, r) in self.remotes.iter().enumerate() {
            r.mailbox
                .send(job)
                .map_err(|_| PlanError::WorkerGone(i + 1))?;
        }
        let local = {
            let sh = self.shared.read().unwrap_or_else(|e| e.into_inner());
            execute(
                &*self.model,
                self.dims,
                &sh,
                job,
                0,
                self.threads,
                &mut self.local,
                &mut self.local_out,
                self.grad,
            )
        };
        let mut first_err = local.err();
        for (i, r) in self.remotes.iter().enumerate() {
            match r.mailbox.recv_result() {
                Some(Ok(())) => {}
                Some(Err(e)) => first_err = first_err.or(Some(e)),
                None => first_err = first_err.or(Some(PlanError::WorkerGone(i + 1))),
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        let pl = self.dims.plan_len();
        let (mut actions, mut grads) = (actions, grads);
        for w in 0..self.threads {
            let (start, end) = range(num, w, self.threads);
            if start == end {
                continue;
            }
            let guard;
            let out: &Output = if w == 0 {
                &self.local_out
            } else {
                guard = self.remotes[w - 1]
                    .out
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                &guard
            };
            let n = end - start;
            energies[start..end].copy_from_slice(&out.energies[..n]);
            if let Some(a) = actions.as_deref_mut() {
                a[start * pl..end * pl].copy_from_slice(&out.actions[..n * pl]);
            }
            if let Some(g) = grads.as_deref_mut() {
                g[start * pl..end * pl].copy_from_slice(&out.grads[..n * pl]);
            }
        }
        Ok(())
    }

    fn write_inputs(&mut self, z0: &[f32], energy: &Energy, actions: &[f32]) {
        let mut sh = self.shared.write().unwrap_or_else(|e| e.into_inner());
        sh.z0.copy_from_slice(z0);
        sh.energy.copy_from(energy);
        sh.actions[..actions.len()].copy_from_slice(actions);
    }
}

impl<M: DifferentiableWorldModel + 'static> CpuRollout<M> {
    /// Like [`CpuRollout::new`], and also able to compute gradients ([`RolloutGrad`]).
    pub fn new_differentiable(
        model: Arc<M>,
        horizon: usize,
        capacity: usize,
        threads: usize,
    ) -> Result<Self, PlanError> {
        let tw = model.tape_width();
        Self::build(model, horizon, capacity, threads, Some(grad_rows::<M>), tw)
    }
}

impl<M: WorldModel + 'static> Rollout for CpuRollout<M> {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn evaluate(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError> {
        let num = energies.len();
        self.check(z0, energy, num)?;
        check_len("actions", actions.len(), num * self.dims.plan_len())?;
        self.write_inputs(z0, energy, actions);
        self.dispatch(
            Job::Evaluate { num_samples: num },
            num,
            energies,
            None,
            None,
        )
    }

    fn sample_and_evaluate(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        req: &SampleRequest<'_>,
        actions: &mut [f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError> {
        let (num, pl) = (req.num_samples, self.dims.plan_len());
        self.check(z0, energy, num)?;
        check_len("actions", actions.len(), num * pl)?;
        check_len("energies", energies.len(), num)?;
        check_len("mean", req.mean.len(), pl)?;
        check_len("std", req.std.len(), pl)?;
        {
            let fixed = req.fixed.min(num);
            self.write_inputs(z0, energy, &actions[..fixed * pl]);
            let mut sh = self.shared.write().unwrap_or_else(|e| e.into_inner());
            sh.mean.copy_from_slice(req.mean);
            sh.std.copy_from_slice(req.std);
            sh.key = req.key;
            if sh.filter != *req.filter {
                sh.filter.clone_from(req.filter);
            }
            sh.fixed = fixed;
        }
        self.dispatch(
            Job::Sample { num_samples: num },
            num,
            energies,
            Some(actions),
            None,
        )
    }
}

impl<M: DifferentiableWorldModel + 'static> RolloutGrad for CpuRollout<M> {
    fn evaluate_grad(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
        grads: &mut [f32],
    ) -> Result<(), PlanError> {
        let (num, pl) = (energies.len(), self.dims.plan_len());
        self.check(z0, energy, num)?;
        check_len("actions", actions.len(), num * pl)?;
        check_len("grads", grads.len(), num * pl)?;
        if self.grad.is_none() {
            return Err(PlanError::InvalidConfig {
                key: "rollout",
                message: "built without gradients; use CpuRollout::new_differentiable".into(),
            });
        }
        self.write_inputs(z0, energy, actions);
        self.dispatch(
            Job::Grad { num_samples: num },
            num,
            energies,
            None,
            Some(grads),
        )
    }
}

impl<M: WorldModel + 'static> Drop for CpuRollout<M> {
    fn drop(&mut self) {
        for r in &self.remotes {
            let _ = r.mailbox.send(Job::Stop);
        }
        for r in &mut self.remotes {
            if let Some(h) = r.handle.take() {
                let _ = h.join();
            }
        }
    }
}
