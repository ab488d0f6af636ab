//! Issue 7: checkpoints from strangers. Loading never panics, never allocates more than the
//! file justifies, and rejects each kind of bad file below with a message naming the problem.
//!
//! `hostile_checkpoints/` holds inputs found by the fuzzer (`fuzz/`, target
//! `checkpoint_from_bytes`) and hand-made ones; every one must be rejected without a panic.

use std::collections::BTreeMap;
use std::path::Path;

use charrnn::checkpoint::{self, Checkpoint, FORMAT_VERSION};
use charrnn::model::{CellKind, ModelConfig, CELLS};
use charrnn::{train, Vocab};

/// A valid checkpoint of a small model of `cell` with `layers` layers.
fn valid(cell: CellKind, layers: usize) -> Vec<u8> {
    let vocab = Vocab::from_text("abc\n");
    let config = ModelConfig {
        cell,
        vocab: vocab.len(),
        emb: 2,
        hidden: 3,
        layers,
    };
    let model = train::init_model::<f32>(config, 0.1, 5).unwrap();
    checkpoint::to_bytes(&model, &vocab, &BTreeMap::new()).unwrap()
}

/// A safetensors file from a header's JSON and the data after it.
fn raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

/// The header JSON and data of a file.
fn split(bytes: &[u8]) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

/// `valid()` with its header JSON changed by `f` (data kept).
fn edited(
    bytes: &[u8],
    f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>, &mut Vec<u8>),
) -> Vec<u8> {
    let (mut h, mut data) = split(bytes);
    f(&mut h, &mut data);
    raw(&serde_json::to_string(&h).unwrap(), &data)
}

fn meta(h: &mut serde_json::Map<String, serde_json::Value>) -> &mut serde_json::Value {
    h.get_mut("__metadata__").unwrap()
}

/// Loading fails, at both precisions, with a message containing every needle.
#[track_caller]
fn rejected(bytes: &[u8], needles: &[&str]) {
    let e32 = checkpoint::from_bytes::<f32>(bytes)
        .map(|_| ())
        .unwrap_err();
    let e64 = checkpoint::from_bytes::<f64>(bytes)
        .map(|_| ())
        .unwrap_err();
    for n in needles {
        assert!(e32.contains(n), "{n:?} not in {e32:?}");
        assert!(e64.contains(n), "{n:?} not in {e64:?}");
    }
}

#[test]
fn valid_files_load() {
    for cell in CELLS {
        for layers in [1, 2] {
            let ck: Checkpoint<f64> = checkpoint::from_bytes(&valid(cell, layers)).unwrap();
            assert_eq!(ck.model.config().layers, layers);
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    for cell in [CellKind::RNN, CellKind::GRU] {
        let b = valid(cell, 2);
        for n in 0..b.len() {
            assert!(checkpoint::from_bytes::<f32>(&b[..n]).is_err(), "{n} bytes");
        }
        rejected(&b[..b.len() - 1], &["truncated"]);
        rejected(&b[..4], &["too short", "truncated"]);
        rejected(&b[..100], &["header claims", "truncated"]);
    }
}

#[test]
fn wrong_magic_and_absurd_header_sizes() {
    rejected(
        b"PK\x03\x04 a zip file, not a checkpoint",
        &["header claims"],
    );
    let mut text = 20u64.to_le_bytes().to_vec();
    text.extend_from_slice(b"[1, 2, 3]                  ");
    rejected(&text, &["not '{'", "not a checkpoint"]);
    for n in [u64::MAX, 1 << 40, 100_000_001] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(b"{}");
        rejected(&b, &[&format!("claims {n} bytes"), "truncated"]);
    }
    rejected(&raw("", b""), &["empty"]);
    rejected(&raw("{not json", b""), &["safetensors"]);
}

#[test]
fn shapes_that_overflow_or_outgrow_the_file() {
    // Products that overflow usize.
    rejected(
        &raw(
            r#"{"__metadata__":{"vocab":"[\"a\"]"},"Wex":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#,
            b"",
        ),
        &["safetensors"],
    );
    // A shape that needs more bytes than its offsets give.
    rejected(
        &raw(
            r#"{"__metadata__":{"vocab":"[\"a\"]"},"Wex":{"dtype":"F32","shape":[1000,1000],"data_offsets":[0,16]}}"#,
            &[0; 16],
        ),
        &["safetensors"],
    );
    // 1,000 declared LSTM layers as zero-size tensors: the model they describe would need
    // hundreds of MB; the file has a few hundred bytes. Rejected before allocating.
    let b = edited(&valid(CellKind::LSTM, 1), |h, _| {
        for k in 1..1000 {
            h.insert(
                format!("rnn.weight_hh_l{k}"),
                serde_json::json!({"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}),
            );
        }
        // Zero-size tensors at offset 0 tile the data with the real ones; the metadata's
        // layer count goes, so only the shapes speak.
        meta(h).as_object_mut().unwrap().remove("layers");
    });
    rejected(&b, &["larger than the file"]);
    // Too many tensors for any model.
    let mut header = String::from(r#"{"__metadata__":{"vocab":"[\"a\"]"}"#);
    for k in 0..5000 {
        header += &format!(r#","t{k}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#);
    }
    header.push('}');
    rejected(&raw(&header, b""), &["5000 tensors"]);
    // Zero dimensions.
    let b = edited(&valid(CellKind::RNN, 1), |h, _| {
        h.insert(
            "Whh".into(),
            serde_json::json!({"dtype": "F32", "shape": [0, 0], "data_offsets": [0, 0]}),
        );
    });
    assert!(checkpoint::from_bytes::<f32>(&b).is_err());
}

#[test]
fn dtype_and_shape_mismatches() {
    let b = valid(CellKind::RNN, 1);
    // The same bytes relabelled as I32.
    let i32s = edited(&b, |h, _| {
        h.get_mut("Whh").unwrap()["dtype"] = "I32".into();
    });
    rejected(&i32s, &["Whh", "dtype I32", "F32 or F64"]);
    let lying = edited(&b, |h, _| {
        meta(h)["dtype"] = "f64".into();
    });
    rejected(&lying, &["metadata says dtype f64", "f32"]);
    // F16 has half the bytes per element: the offsets no longer fit the shape.
    let f16 = edited(&b, |h, _| {
        h.get_mut("by").unwrap()["dtype"] = "F16".into();
    });
    assert!(checkpoint::from_bytes::<f32>(&f16).is_err());
    // A bias of shape [H] where the notebook's file has [H, 1].
    let flat = edited(&b, |h, _| {
        h.get_mut("bh").unwrap()["shape"] = serde_json::json!([3]);
    });
    rejected(&flat, &["tensor bh has shape [3], expected [3, 1]"]);
    for (key, value) in [("hidden", "99"), ("layers", "2"), ("vocab_size", "x")] {
        let b = edited(&b, |h, _| {
            meta(h)[key] = value.into();
        });
        rejected(&b, &[&format!("metadata says {key}")]);
    }
    let b = edited(&valid(CellKind::GRU, 1), |h, _| {
        meta(h)["cell"] = "lstm".into();
    });
    rejected(&b, &["metadata says cell lstm", "gru"]);
}

#[test]
fn nan_and_infinite_weights() {
    let b = valid(CellKind::RNN, 1);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let (h, _) = split(&b);
        let (s, _) = (
            h["Whh"]["data_offsets"][0].as_u64().unwrap() as usize,
            h["Whh"]["data_offsets"][1].as_u64().unwrap() as usize,
        );
        let b = edited(&b, |_, data| {
            data[s + 4..s + 8].copy_from_slice(&bad.to_le_bytes());
        });
        rejected(&b, &["tensor Whh", "NaN or infinite"]);
    }
    // A finite f64 too large for f32 loads as f64 and is rejected as f32.
    let vocab = Vocab::from_text("ab");
    let config = ModelConfig {
        cell: CellKind::RNN,
        vocab: 2,
        emb: 1,
        hidden: 1,
        layers: 1,
    };
    let mut m = train::init_model::<f64>(config, 0.1, 1).unwrap();
    m.w[0] = 1e300;
    let b = checkpoint::to_bytes(&m, &vocab, &BTreeMap::new()).unwrap();
    assert!(checkpoint::from_bytes::<f64>(&b).is_ok());
    let e = checkpoint::from_bytes::<f32>(&b).map(|_| ()).unwrap_err();
    assert!(e.contains("too large for f32"), "{e}");
}

#[test]
fn bad_vocabularies() {
    let b = valid(CellKind::RNN, 1);
    for (vocab, needle) in [
        (r#"["\n","a","a","c"]"#, "duplicate"),
        (
            r#"["\n","a","bc","c"]"#,
            "\"bc\" is not exactly one character",
        ),
        (r#"["\n","a","","c"]"#, "\"\" is not exactly one character"),
        (r#"["\n","a",3,"c"]"#, "not a JSON array of strings"),
        (r#"{"a":1}"#, "not a JSON array of strings"),
        (r#"["\n","a","b"]"#, "vocabulary of 4 characters"),
        (r#"[]"#, "empty"),
    ] {
        let bad = edited(&b, |h, _| {
            meta(h)["vocab"] = vocab.into();
        });
        rejected(&bad, &[needle]);
    }
    let none = edited(&b, |h, _| {
        meta(h).as_object_mut().unwrap().remove("vocab");
    });
    rejected(&none, &["no \"vocab\" metadata"]);
}

#[test]
fn unknown_format_versions_are_named() {
    let b = valid(CellKind::RNN, 1);
    assert_eq!(FORMAT_VERSION, 1);
    for v in ["2", "0", "banana", "1.0"] {
        let bad = edited(&b, |h, _| {
            meta(h)["format_version"] = v.into();
        });
        rejected(
            &bad,
            &[
                &format!("format version {v},"),
                "this build reads version 1",
            ],
        );
    }
    let long = "9".repeat(10_000);
    let bad = edited(&b, |h, _| {
        meta(h)["format_version"] = long.clone().into();
    });
    let e = checkpoint::from_bytes::<f32>(&bad).map(|_| ()).unwrap_err();
    assert!(e.len() < 300, "the message quotes a shortened version: {e}");
}

#[test]
fn unknown_tensor_names() {
    let b = edited(&valid(CellKind::RNN, 1), |h, _| {
        h.insert(
            "evil".into(),
            serde_json::json!({"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}),
        );
    });
    rejected(&b, &["\"evil\"", "no charrnn"]);
}

#[cfg(unix)]
#[test]
fn devices_are_not_read() {
    let e = checkpoint::load::<f32>(Path::new("/dev/zero"))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

/// Every input in `hostile_checkpoints/` (fuzzer finds and hand-made files) is rejected at
/// both precisions, without a panic.
#[test]
fn regression_inputs_are_rejected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_checkpoints");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for result in [
            checkpoint::from_bytes::<f32>(&bytes).map(|_| ()),
            checkpoint::from_bytes::<f64>(&bytes).map(|_| ()),
        ] {
            assert!(result.is_err(), "{} loaded", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "no inputs in {}", dir.display());
}
