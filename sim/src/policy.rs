//! Scripted policies: the [`Policy`] trait, the policy names, and the exploration policies
//! (`noisy`: the expert with random actions mixed in; `random`: smooth random motion).
//! The experts live in [`crate::expert`].

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::config::SimConfig;
use crate::env::Env;
use crate::error::SimError;
use crate::expert::Expert;
use crate::scene::SceneState;
use crate::task::TaskKind;

/// What a scripted policy may see: the privileged scene state and the episode's goal.
#[derive(Clone, Copy, Debug)]
pub struct PolicyView<'a> {
    /// Current scene state.
    pub state: SceneState,
    /// Goal point (palm target for reach, cube centre target otherwise), m.
    pub goal: [f32; 3],
    /// The task.
    pub task: TaskKind,
    /// Configuration.
    pub cfg: &'a SimConfig,
}

impl<'a> PolicyView<'a> {
    /// The view of `env`'s current episode, or `None` before a reset.
    pub fn of(env: &'a Env) -> Option<Self> {
        Some(Self {
            state: env.state()?,
            goal: env.setup()?.goal,
            task: env.task(),
            cfg: env.config(),
        })
    }
}

/// A scripted controller that maps the privileged state to an action `[dx, dy, dz, grip]`.
pub trait Policy: Send {
    /// Starts an episode; `seed` seeds any randomness of the policy.
    fn reset(&mut self, seed: u64);
    /// The action for the current state, each component in `[-1, 1]`.
    fn act(&mut self, view: &PolicyView) -> [f32; 4];
}

/// The policies offered on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// The task's scripted expert.
    Expert,
    /// The expert with random actions mixed in (data for world models).
    Noisy,
    /// Smooth random motion with random grip toggles.
    Random,
}

impl PolicyKind {
    /// The policy's name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Expert => "expert",
            PolicyKind::Noisy => "noisy",
            PolicyKind::Random => "random",
        }
    }

    /// A fresh policy of this kind for `task`.
    pub fn build(self, task: TaskKind) -> Box<dyn Policy> {
        match self {
            PolicyKind::Expert => Box::new(Expert::new(task)),
            PolicyKind::Noisy => Box::new(NoisyExpert::new(task, NoisyExpert::DEFAULT_EPSILON)),
            PolicyKind::Random => Box::new(SmoothRandom::new()),
        }
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s {
            "expert" => Ok(PolicyKind::Expert),
            "noisy" => Ok(PolicyKind::Noisy),
            "random" => Ok(PolicyKind::Random),
            other => Err(SimError::UnknownPolicy(other.to_string())),
        }
    }
}

/// Seeds a policy's generator so that it differs from the environment's stream for the same seed.
fn policy_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15)
}

/// The expert, with each step replaced by a uniform random action with probability `epsilon`
/// and Gaussian noise (std 0.2) added to its motion otherwise. The expert's state machine reads
/// the real state each step, so it recovers from the perturbations.
pub struct NoisyExpert {
    expert: Expert,
    epsilon: f32,
    rng: ChaCha8Rng,
}

impl NoisyExpert {
    /// Default probability of a random step.
    pub const DEFAULT_EPSILON: f32 = 0.2;

    /// A noisy expert for `task` with random-step probability `epsilon` in `[0, 1]`.
    pub fn new(task: TaskKind, epsilon: f32) -> Self {
        Self {
            expert: Expert::new(task),
            epsilon,
            rng: policy_rng(0),
        }
    }
}

impl Policy for NoisyExpert {
    fn reset(&mut self, seed: u64) {
        self.expert.reset(seed);
        self.rng = policy_rng(seed);
    }

    fn act(&mut self, view: &PolicyView) -> [f32; 4] {
        let mut a = self.expert.act(view);
        if self.rng.random::<f32>() < self.epsilon {
            for v in &mut a {
                *v = self.rng.random_range(-1.0..=1.0);
            }
        } else {
            for v in &mut a[..3] {
                let n: f32 = StandardNormal.sample(&mut self.rng);
                *v = (*v + 0.2 * n).clamp(-1.0, 1.0);
            }
        }
        a
    }
}

/// Smooth random motion: an Ornstein-Uhlenbeck-like process on `dx..dz` (correlation 0.8 per
/// step) and a grip command that flips with probability 0.1 per step.
pub struct SmoothRandom {
    rng: ChaCha8Rng,
    last: [f32; 4],
}

impl SmoothRandom {
    /// A smooth random policy (seeded at `reset`).
    pub fn new() -> Self {
        Self {
            rng: policy_rng(0),
            last: [0.0, 0.0, 0.0, -1.0],
        }
    }
}

impl Default for SmoothRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy for SmoothRandom {
    fn reset(&mut self, seed: u64) {
        self.rng = policy_rng(seed);
        self.last = [0.0, 0.0, 0.0, -1.0];
    }

    fn act(&mut self, _view: &PolicyView) -> [f32; 4] {
        for v in &mut self.last[..3] {
            let n: f32 = StandardNormal.sample(&mut self.rng);
            *v = (0.8 * *v + 0.6 * n).clamp(-1.0, 1.0);
        }
        if self.rng.random::<f32>() < 0.1 {
            self.last[3] = -self.last[3];
        }
        self.last
    }
}
