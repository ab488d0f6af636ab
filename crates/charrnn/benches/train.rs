//! End-to-end training throughput of the named configurations (what `charrnn bench` prints),
//! on a text given as the first argument or a generated one.
//!
//! `cargo bench -p charrnn --bench train -- [FILE] [threads] [seconds] [config...]`

use charrnn::bench::{self, CONFIGS};
use charrnn::Vocab;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let text = match args.first() {
        Some(p) if std::path::Path::new(p).is_file() => {
            std::fs::read_to_string(p).expect("read text")
        }
        _ => (0..20_000)
            .map(|i| ["the ", "quick ", "brown ", "fox ", "jumps\n"][i % 5])
            .collect(),
    };
    let threads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let names: Vec<&str> = args.iter().skip(3).map(|s| s.as_str()).collect();
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text).expect("encode");
    for bc in CONFIGS
        .iter()
        .filter(|c| names.is_empty() || names.contains(&c.name))
    {
        let (s, model) =
            bench::measure_train(bc, &ids, vocab.len(), threads, seconds).expect("train");
        println!(
            "{:<10} threads {} {:>10.0} chars/s {:>7.2} GFLOP/s",
            bc.name, s.threads, s.chars_per_s, s.gflops
        );
        if bc.name == "seed" && std::env::var_os("NO_SAMPLE").is_none() {
            println!(
                "{:<10} sampling {:>10.0} chars/s",
                "",
                bench::measure_sampling(&model, 1.0)
            );
        }
    }
}
