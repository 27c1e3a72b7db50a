//! Prints the state after every control step of one expert episode:
//! `cargo run --release -p sim --example trace -- pick_place 1000`.

use sim::{Env, ObsMode, PolicyKind, PolicyView, SimConfig, TaskKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let task: TaskKind = args.get(1).map_or("pick_place", |s| s.as_str()).parse()?;
    let seed: u64 = args.get(2).map_or(Ok(0), |s| s.parse())?;
    let mut env = Env::new(SimConfig::default(), task, ObsMode::State)?;
    let mut policy = PolicyKind::Expert.build(task);
    env.reset(seed);
    policy.reset(seed);
    println!("goal {:?}", env.setup().map(|s| s.goal));
    while let Some(view) = PolicyView::of(&env) {
        let a = policy.act(&view);
        let out = env.step(&a)?;
        let s = env.state().ok_or("no state")?;
        println!(
            "{:3} a=[{:+.2} {:+.2} {:+.2} {:+.0}] palm=[{:.3} {:.3} {:.3}] gap={:.3} cube=[{:.3} {:.3} {:.3}] d={:.3}",
            out.info.steps,
            a[0],
            a[1],
            a[2],
            a[3],
            s.palm_pos[0],
            s.palm_pos[1],
            s.palm_pos[2],
            s.finger_gap,
            s.cube_pos[0],
            s.cube_pos[1],
            s.cube_pos[2],
            out.info.distance
        );
        if out.terminated || out.truncated {
            println!("success={}", out.info.success);
            break;
        }
    }
    Ok(())
}
