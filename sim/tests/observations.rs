//! The observation layouts in code agree with `docs/observations.md`, and the values land where
//! the layout says.

use sim::obs::{ObsLayout, STATE_FIELDS};
use sim::{Env, ObsMode, SceneConfig, SimConfig, TaskKind};

/// Rows `| name | start | len |` of the table that follows `heading` in the doc.
fn doc_table(heading: &str) -> Vec<(String, usize, usize)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/observations.md");
    let text = std::fs::read_to_string(path).unwrap();
    let section = text.split(heading).nth(1).expect("heading in doc");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let name = cells.first()?.trim_matches('`').to_string();
            Some((
                name,
                cells.get(1)?.parse().ok()?,
                cells.get(2)?.parse().ok()?,
            ))
        })
        .collect()
}

#[test]
fn state_layout_matches_the_doc() {
    let layout = ObsLayout::new(ObsMode::State, &SceneConfig::default());
    let doc = doc_table("## `state` layout");
    let code: Vec<_> = layout
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.start, f.len))
        .collect();
    assert_eq!(code, doc);
    assert_eq!(layout.dim(), 20);
    assert_eq!(layout.fields.len(), STATE_FIELDS.len());
}

#[test]
fn depth_layout_matches_the_doc() {
    let layout = ObsLayout::new(ObsMode::Depth, &SceneConfig::default());
    let doc = doc_table("## `depth` layout");
    let code: Vec<_> = layout
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.start, f.len))
        .collect();
    assert_eq!(code, doc);
    assert_eq!(layout.dim(), 32 * 32 + 7);
}

#[test]
fn state_values_land_where_the_layout_says() {
    let mut env = Env::new(SimConfig::default(), TaskKind::Push, ObsMode::State).unwrap();
    let obs = env.reset(11);
    let s = env.state().unwrap();
    let l = env.layout().clone();
    assert_eq!(&obs[l.range("palm_pos").unwrap()], &s.palm_pos);
    assert_eq!(&obs[l.range("cube_pos").unwrap()], &s.cube_pos);
    assert_eq!(&obs[l.range("cube_quat").unwrap()], &s.cube_quat);
    assert_eq!(obs[l.range("finger_gap").unwrap()][0], s.finger_gap);
    let out = env.step(&[1.0, 0.0, 0.0, 0.0]).unwrap();
    let v = &out.obs[l.range("palm_vel").unwrap()];
    // One full step in x at 2 cm per 0.1 s is 0.2 m/s (unless the workspace clamps it).
    assert!((v[0] - 0.2).abs() < 1e-4, "palm_vel {v:?}");
}

#[test]
fn depth_proprioception_matches_state_and_depth_sees_the_table() {
    let cfg = SimConfig::default();
    let mut depth = Env::new(cfg.clone(), TaskKind::Reach, ObsMode::Depth).unwrap();
    let mut state = Env::new(cfg.clone(), TaskKind::Reach, ObsMode::State).unwrap();
    let d = depth.reset(4);
    let s = state.reset(4);
    let dl = depth.layout().clone();
    assert_eq!(&d[dl.range("palm_pos").unwrap()], &s[0..3]);
    assert_eq!(&d[dl.range("finger_gap").unwrap()], &s[6..7]);
    let img = &d[dl.range("depth").unwrap()];
    // The camera looks at the table: every ray hits something closer than max_depth.
    assert!(
        img.iter().all(|&v| v > 0.2 && v < cfg.scene.max_depth),
        "{img:?}"
    );
}
