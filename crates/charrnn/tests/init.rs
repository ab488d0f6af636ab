//! `--init torch` against PyTorch's definitions: each tensor's bound and spread as PyTorch's
//! own modules draw them (fixture: `fixtures/torch/init_stats.json`, written by
//! `make_init_fixture.py`), for every cell PyTorch has; minGRU's `nn.Linear`-style bounds; and
//! the default initialization of each cell.

use charrnn::model::{CellKind, Init, Model, ModelConfig, CELLS};
use rand::SeedableRng;

fn stats(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (x.iter().fold(0.0f64, |m, v| m.max(v.abs())), var.sqrt())
}

/// PyTorch's definition: the embedding from N(0, 1) (spread 1, no bound); everything else
/// from U(-1/sqrt(H), 1/sqrt(H)) (spread bound / sqrt(3)).
fn definition(name: &str, hidden: usize) -> (Option<f64>, f64) {
    if name == "embed.weight" {
        (None, 1.0)
    } else {
        let k = 1.0 / (hidden as f64).sqrt();
        (Some(k), k / 3f64.sqrt())
    }
}

#[test]
fn torch_init_matches_pytorchs_modules_tensor_by_tensor() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch/init_stats.json"
    );
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (cell, kind) in [
        ("rnn", CellKind::RNN),
        ("lstm", CellKind::LSTM),
        ("gru", CellKind::GRU),
    ] {
        let f = &fixture[cell];
        let n = |k: &str| f[k].as_u64().unwrap() as usize;
        let config = ModelConfig {
            cell: kind,
            vocab: n("vocab"),
            emb: n("emb"),
            hidden: n("hidden"),
            layers: n("layers"),
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let model = Model::<f64>::init_torch(config, &mut rng);
        let torch = f["tensors"].as_object().unwrap();
        assert_eq!(
            torch.len(),
            model.layout.tensors.len(),
            "{cell}: tensor count"
        );
        for (name, t) in torch {
            let ours = model
                .tensor(name)
                .unwrap_or_else(|| panic!("{cell}: no {name}"));
            assert_eq!(ours.len() as u64, t["n"].as_u64().unwrap(), "{cell} {name}");
            let (bound, spread) = definition(name, config.hidden);
            let (max_abs, std) = stats(ours);
            let (torch_max, torch_std) =
                (t["max_abs"].as_f64().unwrap(), t["std"].as_f64().unwrap());
            // A sample's spread is within a few 1/sqrt(n) of the definition's, for PyTorch's
            // draw and for ours alike.
            let tol = 5.0 / (ours.len() as f64).sqrt();
            for (who, s) in [("torch", torch_std), ("charrnn", std)] {
                assert!(
                    (s / spread - 1.0).abs() < tol,
                    "{cell} {name}: {who} spread {s} vs the definition's {spread}"
                );
            }
            if let Some(k) = bound {
                assert!(
                    torch_max <= k,
                    "{cell} {name}: torch's draw {torch_max} beyond {k}"
                );
                assert!(max_abs <= k, "{cell} {name}: ours {max_abs} beyond {k}");
                // Both fill the interval.
                assert!(max_abs > k * (1.0 - tol) && torch_max > k * (1.0 - tol));
            }
        }
    }
}

#[test]
fn mingru_projections_take_linear_bounds() {
    let config = ModelConfig {
        cell: CellKind::MINGRU,
        vocab: 30,
        emb: 16,
        hidden: 64,
        layers: 2,
    };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
    let model = Model::<f64>::init_torch(config, &mut rng);
    for (name, fan_in) in [
        ("rnn.weight_ih_l0", 16.0),
        ("rnn.bias_ih_l0", 16.0),
        ("rnn.weight_ih_l1", 64.0),
        ("out.weight", 64.0),
    ] {
        let k = 1.0 / f64::sqrt(fan_in);
        let (max_abs, _) = stats(model.tensor(name).unwrap());
        assert!(
            max_abs <= k && max_abs > 0.8 * k,
            "{name}: {max_abs} vs {k}"
        );
    }
}

#[test]
fn each_cell_has_its_default_init() {
    for cell in CELLS {
        for layers in [1, 2] {
            let want = if cell == CellKind::RNN && layers == 1 {
                Init::Notebook
            } else {
                Init::Torch
            };
            assert_eq!(cell.spec().default_init(layers), want, "{cell} x{layers}");
        }
    }
}
