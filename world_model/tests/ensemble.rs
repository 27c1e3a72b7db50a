//! [`Ensemble`]: one member is the member itself; K members average their squared distances and
//! step each member on its own slice; mismatched members are refused.

mod common;

use common::random_model;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use world_model::{Activation, DifferentiableWorldModel, Ensemble, WorldModel};

fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[test]
fn one_member_is_the_member() {
    let m = random_model(Activation::Gelu, true, 3);
    let e = Ensemble::new(vec![m.clone()]).expect("ensemble");
    assert_eq!(e.dims(), m.dims());
    assert_eq!(e.tape_width(), m.tape_width());
    let (d, na, batch) = (6, 3, 20);
    let (z, a) = (uniform(batch * d, 1), uniform(batch * na, 2));
    let (mut out_m, mut out_e) = (vec![0.0; batch * d], vec![0.0; batch * d]);
    m.step(&z, &a, &mut out_m, &mut m.workspace(batch))
        .expect("member");
    e.step(&z, &a, &mut out_e, &mut e.workspace(batch))
        .expect("ensemble");
    assert_eq!(out_m, out_e);
}

#[test]
fn members_step_on_their_own_slices_and_distances_average() {
    let members = vec![
        random_model(Activation::Gelu, true, 3),
        random_model(Activation::Tanh, false, 4),
    ];
    let e = Ensemble::new(members.clone()).expect("ensemble");
    let (d, na, batch) = (6, 3, 11);
    assert_eq!(e.dims().latent_dim, 2 * d);
    let s = 1.0 / 2f32.sqrt();

    // The models have no encoder: each member's latent is the observation itself.
    let (o1, o2) = (uniform(batch * d, 5), uniform(batch * d, 6));
    let mut ews = e.workspace(batch);
    let (mut z1, mut z2) = (vec![0.0; batch * 2 * d], vec![0.0; batch * 2 * d]);
    e.encode(&o1, &mut z1, &mut ews).expect("encode");
    e.encode(&o2, &mut z2, &mut ews).expect("encode");
    for r in 0..batch {
        let row = &z1[r * 2 * d..(r + 1) * 2 * d];
        for k in 0..2 {
            for c in 0..d {
                assert!((row[k * d + c] - s * o1[r * d + c]).abs() < 1e-6);
            }
        }
        // Mean of the members' squared distances (here both members see the same latents).
        let ens = sq(row, &z2[r * 2 * d..(r + 1) * 2 * d]);
        let member = sq(&o1[r * d..(r + 1) * d], &o2[r * d..(r + 1) * d]);
        assert!(
            (ens - member).abs() <= 1e-5 * (1.0 + member),
            "{ens} vs {member}"
        );
    }

    // One step: slice k of the output is s * f_k(slice k / s).
    let a = uniform(batch * na, 7);
    let mut next = vec![0.0; batch * 2 * d];
    e.step(&z1, &a, &mut next, &mut ews).expect("step");
    for (k, m) in members.iter().enumerate() {
        let zk: Vec<f32> = (0..batch)
            .flat_map(|r| {
                z1[r * 2 * d + k * d..r * 2 * d + (k + 1) * d]
                    .iter()
                    .map(|x| x / s)
            })
            .collect();
        let mut out = vec![0.0; batch * d];
        m.step(&zk, &a, &mut out, &mut m.workspace(batch))
            .expect("member");
        for r in 0..batch {
            for c in 0..d {
                let got = next[r * 2 * d + k * d + c];
                assert!(
                    (got - s * out[r * d + c]).abs() < 1e-5,
                    "member {k} row {r}"
                );
            }
        }
    }
    // The two members differ, so the slices do too.
    assert_ne!(next[..d], next[d..2 * d]);
}

#[test]
fn large_encode_batches_are_chunked() {
    let e = Ensemble::new(vec![
        random_model(Activation::Gelu, true, 3),
        random_model(Activation::Gelu, true, 4),
    ])
    .expect("ensemble");
    let obs = uniform(9 * 6, 8);
    let (mut small, mut big) = (vec![0.0; 9 * 12], vec![0.0; 9 * 12]);
    e.encode(&obs, &mut small, &mut e.workspace(2))
        .expect("chunked");
    e.encode(&obs, &mut big, &mut e.workspace(9))
        .expect("whole");
    assert_eq!(small, big);
    // A step larger than the workspace is an error that names both sizes, not a panic.
    let err = e
        .step(
            &[0.0; 9 * 12],
            &[0.0; 9 * 3],
            &mut vec![0.0; 9 * 12],
            &mut e.workspace(2),
        )
        .expect_err("too many rows");
    assert!(
        err.to_string().contains("9 rows") && err.to_string().contains("2"),
        "{err}"
    );
}

#[test]
fn empty_and_mismatched_ensembles_are_errors() {
    let err = Ensemble::<world_model::MlpWorldModel>::new(Vec::new()).expect_err("empty");
    assert!(err.to_string().contains("at least one"), "{err}");
    let mut other = common::random_model_dims(6, 4, 1);
    let err = Ensemble::new(vec![random_model(Activation::Gelu, true, 3), other.clone()])
        .expect_err("action widths differ");
    assert!(
        err.to_string().contains("member 1") && err.to_string().contains("4"),
        "{err}"
    );
    other = random_model(Activation::Gelu, true, 5);
    assert!(Ensemble::new(vec![other.clone(), other]).is_ok());
}
