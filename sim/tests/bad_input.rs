//! Bad actions, bad configs and bad names are errors that say what is wrong; nothing panics
//! and the world is left untouched.

use sim::{Env, ObsMode, SimConfig, SimError, TaskKind};

#[test]
fn non_finite_action_is_an_error_and_leaves_the_world_untouched() {
    let mut env = Env::new(SimConfig::default(), TaskKind::Push, ObsMode::State).unwrap();
    env.reset(1);
    env.step(&[0.5, 0.0, -0.5, 1.0]).unwrap();
    let before = env.observation();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let err = env.step(&[0.1, bad, 0.0, 0.0]).unwrap_err();
        assert!(
            matches!(err, SimError::NonFiniteAction { index: 1, .. }),
            "{err}"
        );
    }
    assert_eq!(env.observation(), before);
    assert_eq!(env.steps(), 1);
}

#[test]
fn wrong_action_length_and_step_before_reset_are_errors() {
    let mut env = Env::new(SimConfig::default(), TaskKind::Reach, ObsMode::State).unwrap();
    assert!(matches!(env.step(&[0.0; 4]), Err(SimError::NotReset)));
    env.reset(0);
    let err = env.step(&[0.0; 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "action has 3 components, expected 4 ([dx, dy, dz, grip])"
    );
    assert!(env.goal_observation().is_ok());
}

#[test]
fn out_of_range_actions_are_clipped() {
    let mut a = Env::new(SimConfig::default(), TaskKind::Reach, ObsMode::State).unwrap();
    let mut b = Env::new(SimConfig::default(), TaskKind::Reach, ObsMode::State).unwrap();
    a.reset(9);
    b.reset(9);
    let oa = a.step(&[5.0, -3.0, 2.0, 7.0]).unwrap().obs;
    let ob = b.step(&[1.0, -1.0, 1.0, 1.0]).unwrap().obs;
    assert_eq!(oa, ob);
}

#[test]
fn unknown_config_key_is_rejected_with_its_name() {
    let err = SimConfig::from_toml_str("[scene]\ncube_sise = 0.05\n", "test.toml").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cube_sise"), "{msg}");
    assert!(msg.contains("test.toml"), "{msg}");
}

#[test]
fn out_of_range_config_value_names_the_key() {
    let err = SimConfig::from_toml_str("[scene]\ncube_mass = -1.0\n", "t.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "config key `scene.cube_mass` = -1 is out of range: 0.005 ..= 2"
    );
    let err = SimConfig::from_toml_str("[scene]\ncontrol_hz = 7\n", "t.toml").unwrap_err();
    assert!(err.to_string().contains("scene.control_hz"), "{err}");
    assert!(
        Env::new(
            SimConfig::from_toml_str("[task]\nreach_budget = 20\n", "t.toml").unwrap(),
            TaskKind::Reach,
            ObsMode::State
        )
        .is_ok()
    );
}

#[test]
fn unknown_names_are_errors() {
    assert!(matches!(
        "lift".parse::<TaskKind>(),
        Err(SimError::UnknownTask(_))
    ));
    assert!("greedy".parse::<sim::PolicyKind>().is_err());
    assert!("rgb".parse::<ObsMode>().is_err());
}

#[test]
fn shipped_example_configs_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/sim");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            SimConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1, "no example configs in {}", dir.display());
}
