//! `charrnn explain` on the real binary (issue 15): its JSON against `charrnn score` and the
//! library's chunk forward pass for every cell and depth, the HTML report's embedded numbers
//! against its JSON, and bad input.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use charrnn::model::{CellKind, Model, ModelConfig, Workspace, CELLS};
use charrnn::Vocab;
use rand::SeedableRng;
use serde_json::Value;
use support::{assert_bad, stdout, Fixture};

/// 300 characters with quotes, brackets, digits and indentation, over several chunks.
const TEXT: &str = "ROMEO:\n  \"But soft (what light) through yonder window breaks?\"\n\
    JULIET [aside]:\n\tO Romeo, Romeo! wherefore art thou Romeo? 2 or 3 times.\n\
    \"Deny thy father\" and refuse thy name;\nOr, if thou wilt not, be but sworn my love,\n\
    And I'll no longer be a Capulet. (Exeunt 1, 2.)\n";

fn save_model(dir: &Path, cell: CellKind, layers: usize) -> (Model<f32>, String) {
    let vocab = Vocab::from_text(TEXT);
    let config = ModelConfig {
        cell,
        vocab: vocab.len(),
        emb: 6,
        hidden: 10,
        layers,
    };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(layers as u64 + 3);
    let model = Model::<f32>::init(config, 0.4, &mut rng);
    let name = format!("{}{layers}.safetensors", cell.name());
    charrnn::checkpoint::save(&dir.join(&name), &model, &vocab, &BTreeMap::new()).unwrap();
    (model, name)
}

/// The JSON of the report embedded in an HTML file.
fn embedded(html: &str) -> Value {
    let mark = "type=\"application/json\">";
    let start = html.find(mark).unwrap() + mark.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[test]
fn json_and_report_match_score_and_the_forward_pass_for_every_cell_and_depth() {
    let f = Fixture::new();
    std::fs::write(f.path("text.txt"), TEXT).unwrap();
    let n = TEXT.chars().count();
    let vocab = Vocab::from_text(TEXT);
    let ids: Vec<u32> = TEXT.chars().map(|c| vocab.id(c).unwrap()).collect();
    for cell in CELLS {
        for layers in [1, 2] {
            let (model, name) = save_model(f.dir.path(), cell, layers);
            let tag = name.clone();
            let e: Value = serde_json::from_str(&stdout(
                &f.ok(&["explain", "--model", &name, "--text", "text.txt", "--json"]),
            ))
            .unwrap();
            let s: Value = serde_json::from_str(&stdout(
                &f.ok(&["score", "--model", &name, "--data", "text.txt", "--json"]),
            ))
            .unwrap();
            assert_eq!(e["loss"]["predicted"], s["chars"], "{tag}");
            let (a, b) = (
                e["loss"]["bits_per_char"].as_f64().unwrap(),
                s["bits_per_char"].as_f64().unwrap(),
            );
            assert!((a - b).abs() <= 1e-6 * b, "{tag}: {a} vs {b}");
            // Every state and gate against one chunk of the library's forward pass.
            let mut ws = Workspace::new(&model.layout, n, 1);
            ws.reset_state();
            model.forward(&mut ws, &ids, None);
            let spec = cell.spec();
            let h = 10;
            for ch in e["channels"].as_array().unwrap() {
                let k = ch["layer"].as_u64().unwrap() as usize;
                let name = ch["name"].as_str().unwrap();
                let st = &ws.layers[k];
                let want: Vec<f32> = match spec.states().iter().position(|s| *s == name) {
                    Some(s) => st.states[s][h..].to_vec(),
                    None => {
                        let g = spec
                            .gate_info()
                            .iter()
                            .position(|g| g.name == name)
                            .unwrap();
                        let gh = spec.gates() * h;
                        (0..n)
                            .flat_map(|t| st.pre[t * gh + g * h..t * gh + (g + 1) * h].to_vec())
                            .collect()
                    }
                };
                let got = ch["values"].as_array().unwrap();
                assert_eq!(got.len(), want.len(), "{tag} {name}{k}");
                for (i, (x, &w)) in got.iter().zip(&want).enumerate() {
                    let x = x.as_f64().unwrap() as f32;
                    assert!(
                        (x - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{tag} {name}{k}[{i}]: {x} vs {w}"
                    );
                }
            }
            // Per character: the loss against the same pass.
            for (i, b) in e["bits"].as_array().unwrap().iter().enumerate().skip(1) {
                let p = ws.probs[(i - 1) * vocab.len() + ids[i] as usize] as f64;
                let want = -p.log2();
                let got = b.as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + want),
                    "{tag} bits[{i}]: {got} vs {want}"
                );
            }
            // The HTML report carries the same numbers (activations to one step of 1/127).
            let out = format!("{tag}.html");
            stdout(&f.ok(&[
                "explain", "--model", &name, "--text", "text.txt", "--out", &out,
            ]));
            let html = std::fs::read_to_string(f.path(&out)).unwrap();
            // Nothing is fetched: no external source, link, style import or request.
            for fetch in [
                "src=",
                "http://",
                "https://",
                "url(",
                "@import",
                "fetch(",
                "XMLHttpRequest",
            ] {
                assert!(!html.contains(fetch), "{tag}: {fetch}");
            }
            let v = embedded(&html);
            assert_eq!(v["loss"], e["loss"], "{tag}");
            assert_eq!(v["bits"], e["bits"], "{tag}");
            assert_eq!(v["top"], e["top"], "{tag}");
            assert_eq!(v["found"], e["found"], "{tag}");
            for (q, full) in v["channels"]
                .as_array()
                .unwrap()
                .iter()
                .zip(e["channels"].as_array().unwrap())
            {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(q["q"].as_str().unwrap())
                    .unwrap();
                let scale: Vec<f64> = q["scale"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_f64().unwrap())
                    .collect();
                let sigmoid = q["squash"] == "sigmoid";
                for (i, (&b, f)) in bytes
                    .iter()
                    .zip(full["values"].as_array().unwrap())
                    .enumerate()
                {
                    let x = (b as f64 - 128.0) / 127.0;
                    let s = scale[i % h];
                    let shown = if sigmoid { (x + 1.0) / 2.0 } else { x * s };
                    let f = f.as_f64().unwrap();
                    assert!(
                        (shown - f).abs() <= s / 254.0 + 1e-6,
                        "{tag} {}[{i}]: {shown} vs {f}",
                        q["name"]
                    );
                }
            }
        }
    }
}

#[test]
fn unknown_characters_long_texts_and_bad_flags() {
    let f = Fixture::new();
    let d = f.dir.path();
    let (_, name) = save_model(d, CellKind::LSTM, 1);
    std::fs::write(d.join("odd.txt"), "ROMEO: ü and 中\n").unwrap();
    assert_bad(
        &f.run(&["explain", "--model", &name, "--text", "odd.txt"]),
        &["odd.txt", "'ü' (U+00FC)", "'中' (U+4E2D)", "--unknown skip"],
    );
    assert_bad(
        &f.run(&["explain", "--model", &name, "--prime", "Zzz"]),
        &["--prime", "'Z'", "--unknown skip"],
    );
    let e: Value = serde_json::from_str(&stdout(&f.ok(&[
        "explain",
        "--model",
        &name,
        "--text",
        "odd.txt",
        "--unknown",
        "skip",
        "--json",
    ])))
    .unwrap();
    assert_eq!(e["text"], "ROMEO:  and \n");
    assert_eq!(e["skipped"], 2);
    // The default output is explain.html; a long text is cut at --max-chars, and says so.
    std::fs::write(d.join("long.txt"), TEXT.repeat(40)).unwrap();
    let o = stdout(&f.ok(&[
        "explain",
        "--model",
        &name,
        "--text",
        "long.txt",
        "--max-chars",
        "500",
    ]));
    assert!(o.starts_with("wrote explain.html"), "{o}");
    assert!(o.contains("the first 500 characters"), "{o}");
    let v = embedded(&std::fs::read_to_string(d.join("explain.html")).unwrap());
    assert_eq!(v["truncated"], true);
    assert_eq!(v["text"].as_str().unwrap().chars().count(), 500);
    assert_eq!(v["bits"].as_array().unwrap().len(), 500);
    // The whole text with f64 arithmetic.
    let o = stdout(&f.ok(&[
        "explain", "--model", &name, "--prime", "ROMEO: O", "--dtype", "f64", "--json",
    ]));
    assert!(o.contains("\"truncated\":false"));
    // Past the library's activation limit: how many characters fit (10 units, 6 channels).
    let fit = charrnn::explain::MAX_VALUES / 60;
    std::fs::write(d.join("huge.txt"), "a".repeat(fit + 1)).unwrap();
    let max = (fit + 1).to_string();
    assert_bad(
        &f.run(&[
            "explain",
            "--model",
            &name,
            "--text",
            "huge.txt",
            "--max-chars",
            &max,
        ]),
        &[
            "huge.txt",
            &format!("lower --max-chars to at most {fit} characters"),
        ],
    );
    // Bad flags and files.
    for (args, needles) in [
        (
            vec!["--prime", "a", "--max-chars", "0"],
            vec!["--max-chars must be at least 1"],
        ),
        (
            vec!["--prime", "a", "--top", "21"],
            vec!["--top must be from 1 to 20"],
        ),
        (vec![], vec!["--text <FILE>"]),
        (
            vec!["--prime", "a", "--text", "odd.txt"],
            vec!["cannot be used with"],
        ),
        (
            vec!["--text", "missing.txt"],
            vec!["missing.txt", "no such file"],
        ),
        (
            vec!["--prime", "a", "--out", "no/such/dir.html"],
            vec!["does not exist"],
        ),
    ] {
        let mut a = vec!["explain", "--model", &name];
        a.extend(args);
        assert_bad(&f.run(&a), &needles);
    }
    assert_bad(
        &f.run(&["explain", "--model", "nope.safetensors", "--prime", "a"]),
        &["nope.safetensors"],
    );
}
