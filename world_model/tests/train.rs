//! Training contracts on small synthetic data: the loss falls, a run is reproducible, a resumed
//! run equals an uninterrupted one, and the model file round-trips through the inference model.

use world_model::WorldModel;
use world_model::train::config::{Collapse, TrainConfig};
use world_model::train::data::Sequences;
use world_model::train::modelfile::load_model;
use world_model::train::trainer::Trainer;

/// Episodes of a 2-D point pushed by its actions, observed through a fixed linear map into 6
/// dimensions (so the latent has something to recover).
fn synthetic(episodes: usize, len: usize) -> Sequences {
    let (mut obs, mut acts, mut states) = (Vec::new(), Vec::new(), Vec::new());
    let mut s = 12345u64;
    let mut rnd = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    };
    for _ in 0..episodes {
        let mut p = [rnd(), rnd()];
        for t in 0..=len {
            let o = [p[0], p[1], p[0] + p[1], p[0] - p[1], 0.5 * p[0], 2.0 * p[1]];
            obs.extend_from_slice(&o);
            states.extend_from_slice(&p);
            if t < len {
                let a = [rnd(), rnd()];
                acts.extend_from_slice(&a);
                p = [p[0] + 0.1 * a[0], p[1] + 0.1 * a[1]];
            }
        }
    }
    Sequences::new(6, 2, obs, acts, states, 2, &vec![len; episodes]).unwrap()
}

fn tiny_config() -> TrainConfig {
    let mut c = TrainConfig::default();
    c.model.latent_dim = 8;
    c.model.encoder_hidden = vec![32];
    c.model.predictor_hidden = vec![32];
    c.train.epochs = 4;
    c.train.steps_per_epoch = 25;
    c.train.batch_size = 32;
    c.train.rollout_steps = 4;
    c.train.warmup_steps = 10;
    c.train.lr = 3e-3;
    c
}

#[test]
fn training_lowers_the_validation_prediction_error() {
    let data = synthetic(40, 20);
    let mut t = Trainer::new(tiny_config(), &data).unwrap();
    let (before, ..) = t.validate();
    for _ in 0..100 {
        t.train_step();
    }
    let (after, std_mean, _, rank) = t.validate();
    assert!(
        after.pred < 0.5 * before.pred,
        "{} -> {}",
        before.pred,
        after.pred
    );
    assert!(std_mean > 0.3, "latents collapsed: std {std_mean}");
    assert!(rank > 2.0, "effective rank {rank}");
}

#[test]
fn same_seed_same_parameters_and_resume_equals_an_uninterrupted_run() {
    let data = synthetic(20, 12);
    for collapse in [Collapse::Vicreg, Collapse::Ema, Collapse::Both] {
        let mut cfg = tiny_config();
        cfg.train.collapse = collapse;
        let mut a = Trainer::new(cfg.clone(), &data).unwrap();
        let mut b = Trainer::new(cfg.clone(), &data).unwrap();
        for _ in 0..20 {
            a.train_step();
            b.train_step();
        }
        assert_eq!(
            a.params, b.params,
            "{collapse:?}: same seed, different parameters"
        );
        let ck = a.checkpoint_bytes(1).unwrap();
        for _ in 0..15 {
            a.train_step();
        }
        let mut c = Trainer::new(cfg.clone(), &data).unwrap();
        assert_eq!(c.restore_checkpoint(&ck).unwrap(), 1);
        for _ in 0..15 {
            c.train_step();
        }
        assert_eq!(a.params, c.params, "{collapse:?}: resumed run differs");
        assert_eq!(a.target, c.target);
        // Another seed gives another run.
        let mut other = cfg.clone();
        other.train.seed = 1;
        let d = Trainer::new(other, &data).unwrap();
        assert_ne!(d.params, Trainer::new(cfg, &data).unwrap().params);
    }
}

#[test]
fn checkpoint_of_another_config_is_refused() {
    let data = synthetic(10, 10);
    let a = Trainer::new(tiny_config(), &data).unwrap();
    let ck = a.checkpoint_bytes(1).unwrap();
    let mut cfg = tiny_config();
    cfg.train.lr = 1e-4;
    let mut b = Trainer::new(cfg, &data).unwrap();
    let err = b.restore_checkpoint(&ck).unwrap_err().to_string();
    assert!(err.contains("different training configuration"), "{err}");
}

#[test]
fn model_file_round_trips_into_the_inference_model() {
    check_round_trip(tiny_config());
}

#[test]
fn a_conv_stem_model_round_trips_into_the_inference_model() {
    // The first 4 of the 6 floats are read as a 2x2 image.
    let mut cfg = tiny_config();
    cfg.model.conv_channels = vec![3, 2];
    cfg.model.conv_image = [2, 2];
    check_round_trip(cfg.clone());
    // An image larger than the observation is refused, with the numbers.
    cfg.model.conv_image = [3, 3];
    let err = Trainer::new(cfg, &synthetic(20, 12))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("3x3") && err.contains("6 floats"), "{err}");
}

/// Trains `cfg` a few steps on synthetic data, writes the model file, loads it and checks that
/// the inference encoder equals the training encoder.
fn check_round_trip(cfg: TrainConfig) {
    let data = synthetic(20, 12);
    let conv = !cfg.model.conv_channels.is_empty();
    let mut t = Trainer::new(cfg, &data).unwrap();
    for _ in 0..10 {
        t.train_step();
    }
    let layout = serde_json::json!({"mode": "test", "fields": [1, 2]});
    let bytes = t
        .model_bytes("state", layout.clone(), serde_json::json!({}))
        .unwrap();
    let loaded = load_model(&bytes, Some(&layout)).unwrap();
    assert_eq!(loaded.meta.trained_steps, 10);
    assert_eq!(loaded.model.dims().obs_dim, 6);
    assert_eq!(loaded.meta.conv.is_some(), conv);
    assert_eq!(loaded.model.conv_stem().is_some(), conv);

    // The inference encoder on raw observations equals the training encoder on normalized ones.
    let raw = &data.obs[..3 * 6];
    let mut norm = vec![0.0; raw.len()];
    t.normalizer.apply(raw, &mut norm);
    let mut cache = world_model::train::encoder::EncoderCache::default();
    t.encoder.forward(t.target_params(), &norm, 3, &mut cache);
    let mut ws = loaded.model.workspace(3);
    let mut z = vec![0.0; 3 * 8];
    loaded.model.encode(raw, &mut z, &mut ws).unwrap();
    for (a, b) in z.iter().zip(cache.output()) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }

    // A model trained on another observation layout is refused, saying so.
    let other = serde_json::json!({"mode": "depth"});
    let err = load_model(&bytes, Some(&other)).unwrap_err().to_string();
    assert!(err.contains("observation layout"), "{err}");
    // Truncated files and files without metadata are errors, not panics.
    assert!(load_model(&bytes[..bytes.len() / 2], None).is_err());
    let plain = world_model::io::to_safetensors_bytes(&[("x", vec![1], vec![0.0])]).unwrap();
    assert!(load_model(&plain, None).is_err());
}

#[test]
fn collapse_modes_keep_latents_spread() {
    // VICReg holds every latent dimension's spread near 1; EMA alone has no such force. This
    // pins the regularizer's effect, not a quality target.
    let data = synthetic(40, 20);
    let mut cfg = tiny_config();
    cfg.train.collapse = Collapse::Vicreg;
    let mut t = Trainer::new(cfg, &data).unwrap();
    for _ in 0..100 {
        t.train_step();
    }
    let (_, std_mean, std_min, _) = t.validate();
    assert!(
        std_min > 0.2 && std_mean > 0.6,
        "vicreg std mean {std_mean} min {std_min}"
    );
}

#[test]
fn bad_config_values_name_the_key() {
    let err = TrainConfig::from_toml_str("[train]\nbatch_size = 1\n", "t.toml").unwrap_err();
    assert!(err.to_string().contains("train.batch_size"), "{err}");
    let err = TrainConfig::from_toml_str("[train]\nbach_size = 8\n", "t.toml").unwrap_err();
    assert!(err.to_string().contains("bach_size"), "{err}");
    let err =
        TrainConfig::from_toml_str("[model]\nactivation = \"swish\"\n", "t.toml").unwrap_err();
    assert!(err.to_string().contains("swish"), "{err}");
}

#[test]
fn concatenated_sources_hold_out_the_tail_of_each() {
    let a = synthetic(10, 5);
    let b = synthetic(20, 7);
    let both = Sequences::concat(vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(both.spans.len(), 30);
    assert_eq!(both.groups, vec![10, 20]);
    // Episode 12 of the whole is episode 2 of `b`.
    assert_eq!(both.obs_at(12, 3), b.obs_at(2, 3));
    assert_eq!(both.action_at(12, 6), b.action_at(2, 6));
    let (train, val) = both.split(0.1);
    assert_eq!(val, vec![9, 28, 29]);
    assert_eq!(train.len(), 27);
    // One source splits as before.
    assert_eq!(a.split(0.1).1, vec![9]);
    // Mismatched widths are refused.
    let other = Sequences::new(3, 2, vec![0.0; 6], vec![0.0; 2], vec![], 0, &[1]).unwrap();
    assert!(Sequences::concat(vec![a, other]).is_err());
}

#[test]
fn a_fitted_head_reads_the_state_and_round_trips_through_the_file() {
    use world_model::train::eval::{ProbeTarget, fit_heads};
    use world_model::train::modelfile::with_heads;
    let data = synthetic(30, 12);
    let mut t = Trainer::new(tiny_config(), &data).unwrap();
    for _ in 0..100 {
        t.train_step();
    }
    let layout = serde_json::json!({"mode": "test"});
    let bytes = t
        .model_bytes("state", layout.clone(), serde_json::json!({}))
        .unwrap();
    let plain = load_model(&bytes, None).unwrap();
    assert!(plain.model.head("p").is_none() && plain.meta.heads.is_empty());
    let (fit, held) = data.split(0.2);
    let target = ProbeTarget {
        name: "p".into(),
        indices: vec![0, 1],
    };
    let (head, r2) = fit_heads(&plain.model, &data, &fit, &held, &[target])
        .unwrap()
        .remove(0);
    // The point is a linear function of the observation; a trained latent keeps it.
    assert!(r2 > 0.9, "held-out R^2 {r2}");
    assert_eq!((head.out_dim(), head.latent_dim()), (2, 8));

    let with = with_heads(&bytes, &[(head.clone(), "test fit".into())]).unwrap();
    let loaded = load_model(&with, Some(&layout)).unwrap();
    assert_eq!(loaded.model.head("p"), Some(&head));
    assert_eq!(loaded.meta.heads[0].fitted, "test fit");
    // The networks are untouched.
    let obs = &data.obs[..2 * 6];
    let (mut za, mut zb) = (vec![0.0; 16], vec![0.0; 16]);
    plain
        .model
        .encode(obs, &mut za, &mut plain.model.workspace(2))
        .unwrap();
    loaded
        .model
        .encode(obs, &mut zb, &mut loaded.model.workspace(2))
        .unwrap();
    assert_eq!(za, zb);
    // Fitting again replaces the head instead of adding a second one.
    let again = with_heads(&with, &[(head, "refit".into())]).unwrap();
    let loaded = load_model(&again, None).unwrap();
    assert_eq!(loaded.meta.heads.len(), 1);
    assert_eq!(loaded.meta.heads[0].fitted, "refit");
    // A head of the wrong width is refused with both widths.
    let wide = world_model::LinearHead::new("w", vec![0.0; 9], vec![0.0], 9).unwrap();
    let err = with_heads(&bytes, &[(wide, String::new())])
        .unwrap_err()
        .to_string();
    assert!(err.contains('9') && err.contains('8'), "{err}");
}
