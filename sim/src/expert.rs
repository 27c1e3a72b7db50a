//! Scripted experts, one per task, as small state machines over the privileged scene state.
//!
//! Motion commands are proportional: the action moves the palm straight toward a target point,
//! saturating at `max_step_m` per control step.

use crate::policy::{Policy, PolicyView};
use crate::scene::{FINGER_HALF, palm_min_z};
use crate::task::TaskKind;

/// Phases of the pick-and-place and push experts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Move above the cube (pick) or behind it (push) at hover height.
    Approach,
    /// Go down to the grasp or push height.
    Descend,
    /// Close the fingers and wait.
    Close(u8),
    /// Raise the grasped cube.
    Lift,
    /// Carry the cube above the goal.
    Transport,
    /// Lower the cube onto the table.
    Lower,
    /// Open the fingers and wait.
    Release(u8),
    /// Move up and away.
    Retreat,
    /// Push the cube toward the goal.
    Push,
    /// Open and rise before trying again.
    Reopen,
}

/// The scripted expert of one task.
pub struct Expert {
    task: TaskKind,
    phase: Phase,
}

const OPEN: f32 = -1.0;
const CLOSE: f32 = 1.0;
/// Steps the fingers get to close or open.
const GRIP_WAIT: u8 = 3;
/// Phase changes allowed within one step; past it the expert holds still for a step.
const MAX_TRANSITIONS: usize = 8;

fn move_to(view: &PolicyView, target: [f32; 3], grip: f32) -> [f32; 4] {
    let m = view.cfg.scene.max_step_m;
    let p = view.state.palm_pos;
    [
        ((target[0] - p[0]) / m).clamp(-1.0, 1.0),
        ((target[1] - p[1]) / m).clamp(-1.0, 1.0),
        ((target[2] - p[2]) / m).clamp(-1.0, 1.0),
        grip,
    ]
}

fn dxy(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

impl Expert {
    /// The current phase as a number that ignores wait counters: `Close(0)` and `Close(2)` are
    /// one stage. Phases change only inside [`Policy::act`]; demonstrations cut key frames
    /// where this number changes (see [`crate::demo`]).
    pub fn stage(&self) -> u8 {
        match self.phase {
            Phase::Approach => 0,
            Phase::Descend => 1,
            Phase::Close(_) => 2,
            Phase::Lift => 3,
            Phase::Transport => 4,
            Phase::Lower => 5,
            Phase::Release(_) => 6,
            Phase::Retreat => 7,
            Phase::Push => 8,
            Phase::Reopen => 9,
        }
    }

    /// The expert for `task`.
    pub fn new(task: TaskKind) -> Self {
        Self {
            task,
            phase: Phase::Approach,
        }
    }

    fn pick_place(&mut self, v: &PolicyView) -> [f32; 4] {
        let s = &v.state;
        let size = v.cfg.scene.cube_size;
        let half = size / 2.0;
        let (p, c, g) = (s.palm_pos, s.cube_pos, v.goal);
        let grasp_z = palm_min_z();
        let hover_z = grasp_z + size + 0.03;
        let carry_z = grasp_z + 0.08;
        let held = c[2] > half + 0.01;
        for _ in 0..MAX_TRANSITIONS {
            match self.phase {
                Phase::Approach => {
                    if p[2] < hover_z - 0.01 && dxy(p, c) > 0.01 {
                        return move_to(v, [p[0], p[1], hover_z], OPEN);
                    }
                    if dxy(p, c) < 0.004 && (p[2] - hover_z).abs() < 0.005 {
                        self.phase = Phase::Descend;
                        continue;
                    }
                    return move_to(v, [c[0], c[1], hover_z], OPEN);
                }
                Phase::Descend => {
                    if dxy(p, c) > 0.015 {
                        self.phase = Phase::Approach;
                        continue;
                    }
                    if p[2] - grasp_z < 0.002 {
                        self.phase = Phase::Close(0);
                        continue;
                    }
                    return move_to(v, [c[0], c[1], grasp_z], OPEN);
                }
                Phase::Close(n) => {
                    if n >= GRIP_WAIT {
                        self.phase = Phase::Lift;
                        continue;
                    }
                    self.phase = Phase::Close(n + 1);
                    return move_to(v, p, CLOSE);
                }
                Phase::Lift => {
                    if p[2] >= carry_z - 0.005 {
                        self.phase = if held {
                            Phase::Transport
                        } else {
                            Phase::Reopen
                        };
                        continue;
                    }
                    return move_to(v, [p[0], p[1], carry_z], CLOSE);
                }
                Phase::Transport => {
                    if !held {
                        self.phase = Phase::Reopen;
                        continue;
                    }
                    let off = [g[0] - c[0], g[1] - c[1]];
                    if (off[0] * off[0] + off[1] * off[1]).sqrt() < 0.003 {
                        self.phase = Phase::Lower;
                        continue;
                    }
                    return move_to(v, [p[0] + off[0], p[1] + off[1], carry_z], CLOSE);
                }
                Phase::Lower => {
                    let dz = c[2] - (half + 0.003);
                    if dz < 0.002 || p[2] - grasp_z < 0.001 {
                        self.phase = Phase::Release(0);
                        continue;
                    }
                    let t = [p[0] + g[0] - c[0], p[1] + g[1] - c[1], p[2] - dz];
                    return move_to(v, t, CLOSE);
                }
                Phase::Release(n) => {
                    if n >= GRIP_WAIT {
                        self.phase = Phase::Retreat;
                        continue;
                    }
                    self.phase = Phase::Release(n + 1);
                    return move_to(v, p, OPEN);
                }
                Phase::Retreat => {
                    let up = hover_z + 0.03;
                    let placed = dxy(c, g) < 0.01;
                    if p[2] >= up - 0.002 && !placed {
                        self.phase = Phase::Approach;
                        continue;
                    }
                    return move_to(v, [p[0], p[1], up], OPEN);
                }
                Phase::Reopen => {
                    if s.finger_gap > size + 0.02 && p[2] >= hover_z - 0.005 {
                        self.phase = Phase::Approach;
                        continue;
                    }
                    return move_to(v, [p[0], p[1], hover_z], OPEN);
                }
                Phase::Push => {
                    self.phase = Phase::Approach;
                    continue;
                }
            }
        }
        move_to(v, p, OPEN)
    }

    /// Pushes with the closed fingers, which form a block of half extents
    /// `(2 * FINGER_HALF[0], FINGER_HALF[1])` under the palm.
    fn push(&mut self, v: &PolicyView) -> [f32; 4] {
        let s = &v.state;
        let half = v.cfg.scene.cube_size / 2.0;
        let (p, c, g) = (s.palm_pos, s.cube_pos, v.goal);
        let push_z = palm_min_z();
        let hover_z = push_z + v.cfg.scene.cube_size + 0.03;
        let to_goal = [g[0] - c[0], g[1] - c[1]];
        let remaining = (to_goal[0].powi(2) + to_goal[1].powi(2)).sqrt();
        if remaining < 0.004 {
            return move_to(v, p, CLOSE);
        }
        let d = [to_goal[0] / remaining, to_goal[1] / remaining];
        // Distance from the cube centre to the pusher centre when they touch along d.
        let offset = half * (d[0].abs() + d[1].abs())
            + 2.0 * FINGER_HALF[0] * d[0].abs()
            + FINGER_HALF[1] * d[1].abs();
        let contact = [c[0] - d[0] * offset, c[1] - d[1] * offset];
        let rel = [p[0] - contact[0], p[1] - contact[1]];
        let along = rel[0] * d[0] + rel[1] * d[1];
        let lateral = (rel[0] * d[1] - rel[1] * d[0]).abs();
        for _ in 0..MAX_TRANSITIONS {
            match self.phase {
                Phase::Push => {
                    if lateral > 0.012 || !(-0.03..=0.01).contains(&along) || p[2] > push_z + 0.005
                    {
                        self.phase = Phase::Approach;
                        continue;
                    }
                    let adv = remaining.min(v.cfg.scene.max_step_m);
                    let t = [contact[0] + d[0] * adv, contact[1] + d[1] * adv, push_z];
                    return move_to(v, t, CLOSE);
                }
                Phase::Approach => {
                    let behind = [contact[0] - d[0] * 0.02, contact[1] - d[1] * 0.02, hover_z];
                    let err = dxy(p, behind);
                    if p[2] < hover_z - 0.01 && err > 0.01 {
                        return move_to(v, [p[0], p[1], hover_z], CLOSE);
                    }
                    if err < 0.004 {
                        self.phase = Phase::Descend;
                        continue;
                    }
                    return move_to(v, behind, CLOSE);
                }
                Phase::Descend => {
                    if p[2] - push_z < 0.002 {
                        self.phase = Phase::Push;
                        continue;
                    }
                    let behind = [contact[0] - d[0] * 0.02, contact[1] - d[1] * 0.02, push_z];
                    if dxy(p, behind) > 0.015 {
                        self.phase = Phase::Approach;
                        continue;
                    }
                    return move_to(v, behind, CLOSE);
                }
                _ => {
                    self.phase = Phase::Approach;
                    continue;
                }
            }
        }
        move_to(v, p, CLOSE)
    }
}

impl Policy for Expert {
    fn reset(&mut self, _seed: u64) {
        self.phase = Phase::Approach;
    }

    fn act(&mut self, view: &PolicyView) -> [f32; 4] {
        match self.task {
            TaskKind::Reach => move_to(view, view.goal, OPEN),
            TaskKind::Push => self.push(view),
            TaskKind::PickPlace => self.pick_place(view),
        }
    }
}
