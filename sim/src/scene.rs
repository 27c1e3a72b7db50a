//! The rapier3d tabletop: a fixed table, a cube, and a gripper (a kinematic palm moved in
//! Cartesian space with two fingers on force-driven prismatic joints).
//!
//! Frame: z up, table top at z = 0, origin at the table centre. The fingers close along x.

use rapier3d::prelude::*;

use crate::config::SceneConfig;

/// Palm half extents `(x, y, z)` in m.
pub const PALM_HALF: [f32; 3] = [0.07, 0.025, 0.01];
/// Finger half extents `(x, y, z)` in m; fingers hang below the palm.
pub const FINGER_HALF: [f32; 3] = [0.008, 0.012, 0.03];
/// Clearance kept between the fingertips and the table, in m.
pub const FINGERTIP_CLEARANCE: f32 = 0.005;

/// Largest finger-cube separation that still counts as touching, in m.
pub const TOUCH_MARGIN: f32 = 1e-3;

/// Vertical offset from the palm centre to the finger centres, in m (negative: below).
const FINGER_DROP: f32 = -(PALM_HALF[2] + FINGER_HALF[2]);

/// What the task code reads of the scene: positions and velocities of the palm and cube.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SceneState {
    /// Palm centre in m.
    pub palm_pos: [f32; 3],
    /// Palm velocity in m/s, over the last control step.
    pub palm_vel: [f32; 3],
    /// Gap between the inner faces of the fingers in m.
    pub finger_gap: f32,
    /// Cube centre in m.
    pub cube_pos: [f32; 3],
    /// Cube orientation as a unit quaternion `[x, y, z, w]`.
    pub cube_quat: [f32; 4],
    /// Cube linear velocity in m/s.
    pub cube_linvel: [f32; 3],
    /// Cube angular velocity in rad/s.
    pub cube_angvel: [f32; 3],
}

/// The physics state that a snapshot copies (everything but scratch pipelines).
#[derive(Clone)]
struct WorldState {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    impulse_joints: ImpulseJointSet,
    multibody_joints: MultibodyJointSet,
    islands: IslandManager,
    broad_phase: BroadPhaseBvh,
    narrow_phase: NarrowPhase,
    ccd_solver: CCDSolver,
}

/// A full copy of a [`Scene`]; restoring it replays bit-identically.
#[derive(Clone)]
pub struct SceneSnapshot {
    world: WorldState,
    palm_target: [f32; 3],
    palm_vel: [f32; 3],
    grip_closed: bool,
    finger_target: f32,
    finger_goal: f32,
}

/// The tabletop world with its gripper and cube.
pub struct Scene {
    cfg: SceneConfig,
    world: PhysicsWorld,
    palm: RigidBodyHandle,
    fingers: [RigidBodyHandle; 2],
    finger_colliders: [ColliderHandle; 2],
    finger_joints: [ImpulseJointHandle; 2],
    cube: RigidBodyHandle,
    cube_collider: ColliderHandle,
    /// Where the palm is commanded to be at the end of the current control step.
    palm_target: [f32; 3],
    palm_vel: [f32; 3],
    grip_closed: bool,
    /// The finger motors' position target now, and where it is headed (the commanded open or
    /// closed position); they differ only while `finger_speed` ramps the target.
    finger_target: f32,
    finger_goal: f32,
}

fn v3(a: [f32; 3]) -> Vector {
    Vector::new(a[0], a[1], a[2])
}

fn arr(v: Vector) -> [f32; 3] {
    [v.x, v.y, v.z]
}

impl Scene {
    /// Builds the scene with the palm at `palm_pos`, fingers open and the cube resting at
    /// `cube_xy` with yaw `cube_yaw` (rad). `cfg` must have passed [`SceneConfig::validate`].
    pub fn new(cfg: &SceneConfig, palm_pos: [f32; 3], cube_xy: [f32; 2], cube_yaw: f32) -> Self {
        let mut world = PhysicsWorld::new();
        world.gravity = Vector::new(0.0, 0.0, -9.81);
        world.integration_parameters.dt = 1.0 / cfg.physics_hz as f32;
        world.integration_parameters.num_solver_iterations = cfg.solver_iterations;

        world.insert(
            RigidBodyBuilder::fixed().translation(Vector::new(0.0, 0.0, -0.025)),
            ColliderBuilder::cuboid(0.6, 0.6, 0.025).friction(0.5),
        );

        let palm_pos = clamp_to_workspace(cfg, palm_pos);
        let (palm, _) = world.insert(
            RigidBodyBuilder::kinematic_position_based().translation(v3(palm_pos)),
            ColliderBuilder::cuboid(PALM_HALF[0], PALM_HALF[1], PALM_HALF[2]).friction(0.5),
        );

        let open = open_offset(cfg);
        let mut fingers = [palm; 2];
        let mut finger_colliders = [ColliderHandle::invalid(); 2];
        let mut finger_joints = [ImpulseJointHandle::invalid(); 2];
        for (i, sign) in [-1.0f32, 1.0].into_iter().enumerate() {
            let pos = [
                palm_pos[0] + sign * open,
                palm_pos[1],
                palm_pos[2] + FINGER_DROP,
            ];
            let (finger, collider) = world.insert(
                RigidBodyBuilder::dynamic()
                    .translation(v3(pos))
                    .can_sleep(false),
                ColliderBuilder::cuboid(FINGER_HALF[0], FINGER_HALF[1], FINGER_HALF[2])
                    .mass(cfg.finger_mass)
                    .friction(cfg.finger_friction),
            );
            let joint = PrismaticJointBuilder::new(Vector::new(sign, 0.0, 0.0))
                .local_anchor1(Vector::new(0.0, 0.0, FINGER_DROP))
                .local_anchor2(Vector::ZERO)
                .limits([FINGER_HALF[0], open])
                .motor_model(MotorModel::ForceBased)
                .motor_position(open, cfg.finger_stiffness, cfg.finger_damping)
                .motor_max_force(cfg.finger_max_force)
                .contacts_enabled(false);
            finger_joints[i] = world.insert_impulse_joint(palm, finger, joint);
            fingers[i] = finger;
            finger_colliders[i] = collider;
        }

        let half = cfg.cube_size / 2.0;
        let (cube, cube_collider) = world.insert(
            RigidBodyBuilder::dynamic()
                .translation(Vector::new(cube_xy[0], cube_xy[1], half))
                .rotation(Vector::new(0.0, 0.0, cube_yaw))
                .can_sleep(false),
            ColliderBuilder::cuboid(half, half, half)
                .mass(cfg.cube_mass)
                .friction(cfg.cube_friction),
        );
        // One physics step registers the new bodies with the solver and fills the broad phase, so
        // that ray casts work at once. (A bare `detect_collisions` here would consume the
        // insertion events and leave the bodies out of the simulation.)
        world.step();

        Self {
            cfg: cfg.clone(),
            world,
            palm,
            fingers,
            finger_colliders,
            finger_joints,
            cube,
            cube_collider,
            palm_target: palm_pos,
            palm_vel: [0.0; 3],
            grip_closed: false,
            finger_target: open,
            finger_goal: open,
        }
    }

    /// The scene's configuration.
    pub fn config(&self) -> &SceneConfig {
        &self.cfg
    }

    /// Applies one control step: moves the palm by `delta` (m, clamped to the workspace) along a
    /// straight line over the physics substeps, and drives the fingers closed or open.
    /// Returns the number of physics steps taken.
    pub fn control_step(&mut self, delta: [f32; 3], close: Option<bool>) -> usize {
        if let Some(c) = close {
            self.set_grip(c);
        }
        let start = self.palm_target;
        let goal = clamp_to_workspace(
            &self.cfg,
            [
                start[0] + delta[0],
                start[1] + delta[1],
                start[2] + delta[2],
            ],
        );
        let n = self.cfg.substeps();
        for k in 1..=n {
            let t = k as f32 / n as f32;
            let p = [
                start[0] + (goal[0] - start[0]) * t,
                start[1] + (goal[1] - start[1]) * t,
                start[2] + (goal[2] - start[2]) * t,
            ];
            self.world.bodies[self.palm].set_next_kinematic_translation(v3(p));
            self.ramp_fingers();
            self.world.step();
        }
        let period = self.cfg.control_period();
        for i in 0..3 {
            self.palm_vel[i] = (goal[i] - start[i]) / period;
        }
        self.palm_target = goal;
        n
    }

    fn set_grip(&mut self, close: bool) {
        if close == self.grip_closed {
            return;
        }
        self.grip_closed = close;
        self.finger_goal = if close {
            FINGER_HALF[0]
        } else {
            open_offset(&self.cfg)
        };
        if self.cfg.finger_speed == 0.0 {
            self.set_finger_target(self.finger_goal);
        }
    }

    /// With a `finger_speed` limit: moves the finger motors' target one physics step's travel
    /// toward the commanded position.
    fn ramp_fingers(&mut self) {
        if self.finger_target == self.finger_goal {
            return;
        }
        let step = self.cfg.finger_speed / self.cfg.physics_hz as f32;
        let d = self.finger_goal - self.finger_target;
        let next = if d.abs() <= step {
            self.finger_goal
        } else {
            self.finger_target + step.copysign(d)
        };
        self.set_finger_target(next);
    }

    fn set_finger_target(&mut self, target: f32) {
        self.finger_target = target;
        for h in self.finger_joints {
            if let Some(j) = self.world.impulse_joints.get_mut(h, true) {
                j.data.set_motor_position(
                    JointAxis::LinX,
                    target,
                    self.cfg.finger_stiffness,
                    self.cfg.finger_damping,
                );
            }
        }
    }

    /// Whether the fingers are commanded closed.
    pub fn grip_closed(&self) -> bool {
        self.grip_closed
    }

    /// Reads positions and velocities.
    pub fn state(&self) -> SceneState {
        let palm = &self.world.bodies[self.palm];
        let cube = &self.world.bodies[self.cube];
        let q = cube.rotation();
        SceneState {
            palm_pos: arr(palm.translation()),
            palm_vel: self.palm_vel,
            finger_gap: self.finger_gap(),
            cube_pos: arr(cube.translation()),
            cube_quat: [q.x, q.y, q.z, q.w],
            cube_linvel: arr(cube.linvel()),
            cube_angvel: arr(cube.angvel()),
        }
    }

    /// Gap between the inner faces of the fingers, in m.
    pub fn finger_gap(&self) -> f32 {
        let a = self.world.bodies[self.fingers[0]].translation().x;
        let b = self.world.bodies[self.fingers[1]].translation().x;
        ((b - a).abs() - 2.0 * FINGER_HALF[0]).max(0.0)
    }

    /// Whether either finger touches the cube: their shapes, at the current poses, are within
    /// [`TOUCH_MARGIN`] of each other.
    ///
    /// Measured geometrically, not read from the narrow phase: rapier 0.36 can leave a
    /// finger-cube contact pair flagged active with frozen contact points after the finger has
    /// moved away, which made a released cube count as touched for the rest of the episode.
    pub fn fingers_touch_cube(&self) -> bool {
        let cube = &self.world.colliders[self.cube_collider];
        self.finger_colliders.iter().any(|&f| {
            let finger = &self.world.colliders[f];
            rapier3d::parry::query::distance(
                finger.position(),
                finger.shape(),
                cube.position(),
                cube.shape(),
            )
            .is_ok_and(|d| d.distance <= TOUCH_MARGIN)
        })
    }

    /// Places the cube at `pos` with orientation `quat` (`[x, y, z, w]`) and at rest, and refreshes
    /// the collision structures for rendering. Used to pose goal scenes, which are rendered and
    /// never stepped.
    pub fn place_cube(&mut self, pos: [f32; 3], quat: [f32; 4]) {
        let body = &mut self.world.bodies[self.cube];
        let rot = Rotation::from_xyzw(quat[0], quat[1], quat[2], quat[3]).normalize();
        body.set_position(Pose::from_parts(v3(pos), rot), true);
        body.set_linvel(Vector::ZERO, true);
        body.set_angvel(Vector::ZERO, true);
        self.world.detect_collisions(&(), &());
    }

    /// Casts a ray from `origin` along the unit vector `dir`; the distance to the first hit, if
    /// any within `max_dist`.
    pub fn cast_ray(&self, origin: [f32; 3], dir: [f32; 3], max_dist: f32) -> Option<f32> {
        let ray = Ray::new(v3(origin), v3(dir));
        self.world
            .cast_ray(&ray, max_dist, true, QueryFilter::default())
            .map(|(_, toi)| toi)
    }

    /// Copies the full physics state.
    pub fn snapshot(&self) -> SceneSnapshot {
        let w = &self.world;
        SceneSnapshot {
            world: WorldState {
                bodies: w.bodies.clone(),
                colliders: w.colliders.clone(),
                impulse_joints: w.impulse_joints.clone(),
                multibody_joints: w.multibody_joints.clone(),
                islands: w.islands.clone(),
                broad_phase: w.broad_phase.clone(),
                narrow_phase: w.narrow_phase.clone(),
                ccd_solver: w.ccd_solver.clone(),
            },
            palm_target: self.palm_target,
            palm_vel: self.palm_vel,
            grip_closed: self.grip_closed,
            finger_target: self.finger_target,
            finger_goal: self.finger_goal,
        }
    }

    /// Restores a snapshot taken from this scene (or one built with the same configuration).
    pub fn restore(&mut self, snap: &SceneSnapshot) {
        let s = snap.world.clone();
        let w = &mut self.world;
        w.bodies = s.bodies;
        w.colliders = s.colliders;
        w.impulse_joints = s.impulse_joints;
        w.multibody_joints = s.multibody_joints;
        w.islands = s.islands;
        w.broad_phase = s.broad_phase;
        w.narrow_phase = s.narrow_phase;
        w.ccd_solver = s.ccd_solver;
        w.physics_pipeline = PhysicsPipeline::new();
        self.palm_target = snap.palm_target;
        self.palm_vel = snap.palm_vel;
        self.grip_closed = snap.grip_closed;
        self.finger_target = snap.finger_target;
        self.finger_goal = snap.finger_goal;
    }
}

/// Joint coordinate (finger centre distance from the palm axis) of a fully open finger, in m.
fn open_offset(cfg: &SceneConfig) -> f32 {
    cfg.max_gap / 2.0 + FINGER_HALF[0]
}

/// Lowest palm height that keeps the fingertips [`FINGERTIP_CLEARANCE`] above the table, in m.
pub fn palm_min_z() -> f32 {
    FINGERTIP_CLEARANCE + 2.0 * FINGER_HALF[2] + PALM_HALF[2]
}

/// Clamps a palm position into the configured workspace (and above [`palm_min_z`]).
pub fn clamp_to_workspace(cfg: &SceneConfig, p: [f32; 3]) -> [f32; 3] {
    let mut out = [0.0; 3];
    for i in 0..3 {
        let lo = if i == 2 {
            cfg.workspace_min[2].max(palm_min_z())
        } else {
            cfg.workspace_min[i]
        };
        let hi = cfg.workspace_max[i].max(lo);
        out[i] = p[i].clamp(lo, hi);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scene with the palm at grasp height and the cube out of the fingers' way.
    fn scene(finger_speed: f32) -> Scene {
        let cfg = SceneConfig {
            finger_speed,
            ..SceneConfig::default()
        };
        let far = cfg.workspace_max[0];
        Scene::new(&cfg, [0.0, 0.0, palm_min_z()], [far, far], 0.0)
    }

    #[test]
    fn a_finger_speed_limit_slows_the_fingers_to_it() {
        let open = SceneConfig::default().max_gap;
        // Both fingers move, so the gap closes at most twice the speed: 2 cm in one control
        // step (0.1 s) at 0.1 m/s, plus what the motor's lag cannot account for.
        let mut slow = scene(0.1);
        slow.control_step([0.0; 3], Some(true));
        let after_one = slow.finger_gap();
        assert!(after_one >= open - 0.02 - 1e-3, "{after_one}");
        assert!(after_one < open - 0.01, "{after_one}: barely moved");
        // Without the limit the fingers cross the whole gap within the same step.
        let mut fast = scene(0.0);
        fast.control_step([0.0; 3], Some(true));
        assert!(fast.finger_gap() < 0.005, "{}", fast.finger_gap());
        // The limit delays the fingers, it does not stop them: closed after 4 more steps.
        for _ in 0..4 {
            slow.control_step([0.0; 3], None);
        }
        assert!(slow.finger_gap() < 0.005, "{}", slow.finger_gap());
    }

    #[test]
    fn a_snapshot_taken_while_the_fingers_ramp_replays_bit_identically() {
        let mut s = scene(0.1);
        s.control_step([0.0; 3], Some(true));
        let snap = s.snapshot();
        let run = |s: &mut Scene| -> Vec<u32> {
            (0..3)
                .flat_map(|i| {
                    s.control_step([0.0, 0.0, 0.005], Some(i != 1));
                    let st = s.state();
                    [st.finger_gap, st.palm_pos[2]]
                })
                .map(f32::to_bits)
                .collect()
        };
        let first = run(&mut s);
        s.restore(&snap);
        assert_eq!(run(&mut s), first);
    }
}
