//! Each task's success test, the experts, and goal observations.

use sim::collect::{RunSpec, run_episodes};
use sim::scene::SceneState;
use sim::task::Progress;
use sim::{Env, ObsMode, PolicyKind, SimConfig, TaskKind};

fn rest_state(palm: [f32; 3], cube: [f32; 3], gap: f32) -> SceneState {
    SceneState {
        palm_pos: palm,
        palm_vel: [0.0; 3],
        finger_gap: gap,
        cube_pos: cube,
        cube_quat: [0.0, 0.0, 0.0, 1.0],
        cube_linvel: [0.0; 3],
        cube_angvel: [0.0; 3],
    }
}

#[test]
fn reach_succeeds_within_one_centimetre_only() {
    let cfg = SimConfig::default();
    let goal = [0.1, 0.0, 0.15];
    let p = Progress::default();
    let near = rest_state([0.1, 0.009, 0.15], [0.0, 0.0, 0.02], 0.09);
    let far = rest_state([0.1, 0.011, 0.15], [0.0, 0.0, 0.02], 0.09);
    assert!(TaskKind::Reach.success(&cfg, &near, goal, &p));
    assert!(!TaskKind::Reach.success(&cfg, &far, goal, &p));
}

#[test]
fn push_succeeds_within_two_centimetres_only() {
    let cfg = SimConfig::default();
    let goal = [0.1, 0.0, 0.02];
    let p = Progress::default();
    let near = rest_state([0.0, 0.0, 0.2], [0.1, 0.019, 0.02], 0.0);
    let far = rest_state([0.0, 0.0, 0.2], [0.1, 0.021, 0.02], 0.0);
    assert!(TaskKind::Push.success(&cfg, &near, goal, &p));
    assert!(!TaskKind::Push.success(&cfg, &far, goal, &p));
}

#[test]
fn pick_place_needs_lift_rest_open_gripper_and_clearance() {
    let cfg = SimConfig::default();
    let goal = [0.1, 0.0, 0.02];
    let ok = Progress {
        lifted: true,
        touching: false,
    };
    let placed = rest_state([0.1, 0.0, 0.2], [0.105, 0.0, 0.02], 0.09);
    assert!(TaskKind::PickPlace.success(&cfg, &placed, goal, &ok));
    // Never lifted (pushed there): no success.
    let pushed = Progress {
        lifted: false,
        ..ok
    };
    assert!(!TaskKind::PickPlace.success(&cfg, &placed, goal, &pushed));
    // Still touching the fingers.
    let touching = Progress {
        touching: true,
        ..ok
    };
    assert!(!TaskKind::PickPlace.success(&cfg, &placed, goal, &touching));
    // Gripper closed.
    let closed = rest_state([0.1, 0.0, 0.2], [0.105, 0.0, 0.02], 0.03);
    assert!(!TaskKind::PickPlace.success(&cfg, &closed, goal, &ok));
    // Still moving.
    let mut moving = placed;
    moving.cube_linvel = [0.2, 0.0, 0.0];
    assert!(!TaskKind::PickPlace.success(&cfg, &moving, goal, &ok));
    // Held in the air above the goal.
    let held = rest_state([0.1, 0.0, 0.2], [0.1, 0.0, 0.035], 0.09);
    assert!(!TaskKind::PickPlace.success(&cfg, &held, goal, &ok));
}

#[test]
fn pick_place_goals_are_at_least_ten_centimetres_away() {
    let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
    for seed in 0..200 {
        env.reset(seed);
        let s = env.setup().unwrap();
        let d = ((s.goal[0] - s.cube_xy[0]).powi(2) + (s.goal[1] - s.cube_xy[1]).powi(2)).sqrt();
        assert!(d >= 0.10, "seed {seed}: goal {d} m from start");
    }
}

fn expert_rate(task: TaskKind, episodes: usize) -> f64 {
    let spec = RunSpec {
        cfg: SimConfig::default(),
        task,
        policy: PolicyKind::Expert,
        obs: ObsMode::State,
        episodes,
        seed: 1000,
        threads: 2,
        record: false,
        settle_steps: 0,
    };
    let recs = run_episodes(&spec, &|_| {}).unwrap();
    recs.iter().filter(|r| r.success).count() as f64 / episodes as f64
}

#[test]
fn pick_place_expert_succeeds_in_95_percent_of_200_episodes() {
    let rate = expert_rate(TaskKind::PickPlace, 200);
    assert!(rate >= 0.95, "pick_place expert success rate {rate}");
}

#[test]
fn reach_and_push_experts_succeed() {
    for task in [TaskKind::Reach, TaskKind::Push] {
        let rate = expert_rate(task, 40);
        assert!(rate >= 0.95, "{task:?} expert success rate {rate}");
    }
}

#[test]
fn random_policy_rarely_solves_pick_place() {
    // The success test must not be trivially satisfied.
    let spec = RunSpec {
        cfg: SimConfig::default(),
        task: TaskKind::PickPlace,
        policy: PolicyKind::Random,
        obs: ObsMode::State,
        episodes: 20,
        seed: 0,
        threads: 2,
        record: false,
        settle_steps: 0,
    };
    let recs = run_episodes(&spec, &|_| {}).unwrap();
    assert_eq!(recs.iter().filter(|r| r.success).count(), 0);
}

#[test]
fn goal_observation_shows_the_solved_scene() {
    let cfg = SimConfig::default();
    for task in TaskKind::ALL {
        let mut env = Env::new(cfg.clone(), task, ObsMode::State).unwrap();
        env.reset(3);
        let setup = env.setup().unwrap();
        let g = env.goal_observation().unwrap();
        let layout = env.layout().clone();
        let palm = &g[layout.range("palm_pos").unwrap()];
        let cube = &g[layout.range("cube_pos").unwrap()];
        let gap = g[layout.range("finger_gap").unwrap()][0];
        let close = |a: &[f32], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 2e-3);
        match task {
            TaskKind::Reach => assert!(close(palm, setup.goal), "{palm:?} vs {:?}", setup.goal),
            _ => {
                assert!(close(cube, setup.goal), "{cube:?} vs {:?}", setup.goal);
                assert!(close(palm, cfg.scene.park), "{palm:?}");
            }
        }
        assert!(gap > cfg.scene.cube_size, "gripper open in goal, gap {gap}");
        // Goal rendering does not disturb the episode.
        assert_eq!(env.steps(), 0);
        assert_eq!(env.goal_observation().unwrap(), g);
    }
}

#[test]
fn depth_goal_observation_differs_where_the_cube_moved() {
    let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::Depth).unwrap();
    let first = env.reset(5);
    let goal = env.goal_observation().unwrap();
    let n = env.layout().range("depth").unwrap();
    let max = env.config().scene.max_depth;
    assert!(goal[n.clone()].iter().all(|&d| d > 0.0 && d <= max));
    let changed = first[n.clone()]
        .iter()
        .zip(&goal[n])
        .filter(|(a, b)| (*a - *b).abs() > 0.01)
        .count();
    assert!(changed > 0, "goal depth image equals the start image");
}

/// A recorded learned-planner episode that places the cube, opens the fingers and rises. Rapier
/// kept the finger-cube contact pair flagged active with frozen points after the fingers left,
/// so the episode never succeeded; `Scene::fingers_touch_cube` now measures the distance.
#[test]
fn a_released_cube_stops_counting_as_touched_once_the_fingers_leave() {
    let text = include_str!("fixtures/release_after_place.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let actions: Vec<Vec<f32>> = serde_json::from_value(v["actions"].clone()).unwrap();
    let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
    env.reset(v["seed"].as_u64().unwrap());
    let mut succeeded_at = None;
    for (i, a) in actions.iter().enumerate() {
        if env.step(a).unwrap().terminated {
            succeeded_at = Some(i + 1);
            break;
        }
    }
    assert_eq!(
        succeeded_at,
        Some(actions.len()),
        "the placed cube never counted as released"
    );
}

#[test]
fn settle_steps_record_past_a_success_and_keep_its_outcome() {
    let spec = |settle_steps| RunSpec {
        cfg: SimConfig::default(),
        task: TaskKind::PickPlace,
        policy: PolicyKind::Expert,
        obs: ObsMode::State,
        episodes: 3,
        seed: 1000,
        threads: 1,
        record: true,
        settle_steps,
    };
    let plain = run_episodes(&spec(0), &|_| {}).unwrap();
    let settled = run_episodes(&spec(5), &|_| {}).unwrap();
    let dim = sim::ObsLayout::new(ObsMode::State, &SimConfig::default().scene).dim();
    for (a, b) in plain.iter().zip(&settled) {
        assert!(a.success && b.success);
        assert_eq!(b.steps, a.steps + 5, "seed {}", a.seed);
        assert_eq!(b.final_distance, a.final_distance);
        assert_eq!(b.observations.len(), (b.steps + 1) * dim);
        assert_eq!(b.actions.len(), b.steps * 4);
        assert_eq!(b.observations[..a.observations.len()], a.observations[..]);
    }
}
