//! Issue 7: property tests (proptest) of the corpus path, from bytes on disk to the windows
//! the trainer takes.
//!
//! - encode/decode round trips for arbitrary Unicode text;
//! - the streaming loader, at any block size, gives what reading the whole file gives (the
//!   same text, or the same error at the same byte offset);
//! - `--max-vocab`/`--min-count` keep the most frequent characters and map the rest to U+FFFD;
//! - every training target is the character that follows its input in the original text;
//! - a stream reset happens exactly where the notebook's rule puts it:
//!   `if p + seq_length + 1 >= len(data) or n == 0: hprev = 0; p = 0`, then `p += seq_length`,
//!   with `len(data)` the length of one stream.

use charrnn::corpus::{self, LoadOptions};
use charrnn::data::{Cursor, Streams};
use charrnn::model::{CellKind, ModelConfig};
use charrnn::train::{self, TrainConfig, Trainer};
use charrnn::vocab::{CharCounts, Vocab, VocabOptions, UNKNOWN};
use proptest::prelude::*;

/// Text with many newlines and carriage returns among arbitrary characters.
fn texty() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>(),
            2 => Just('\r'),
            2 => Just('\n'),
            2 => prop::char::range('a', 'e'),
        ],
        0..200,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// Bytes that are mostly UTF-8, with the odd stray byte.
fn bytesy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => texty().prop_map(String::into_bytes),
            1 => prop::collection::vec(any::<u8>(), 0..4),
        ],
        0..4,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_decode_round_trips(text in any::<String>()) {
        let vocab = Vocab::from_text(&text);
        let ids = vocab.encode(&text).unwrap();
        prop_assert_eq!(ids.len(), text.chars().count());
        prop_assert!(ids.iter().all(|i| (i as usize) < vocab.len()));
        prop_assert_eq!(vocab.decode(ids.iter()), text.clone());
        // The streaming path, keeping \r, gives the same vocabulary and ids.
        let c = corpus::load_str(&text, &LoadOptions { keep_cr: true, ..Default::default() })
            .unwrap();
        prop_assert_eq!(&c.vocab, &vocab);
        prop_assert_eq!(&c.ids, &ids);
    }

    #[test]
    fn streaming_load_matches_reading_the_whole_file(
        bytes in bytesy(),
        block in 4usize..40,
        keep_cr in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        std::fs::write(&path, &bytes).unwrap();
        let whole = corpus::read_text(&path, &LoadOptions { keep_cr, ..Default::default() });
        let opts = LoadOptions { keep_cr, block_size: block, ..Default::default() };
        let mut last = None;
        let streamed = corpus::load(&path, &opts, |p| last = Some(p));
        match (whole, streamed) {
            (Ok(text), Ok(c)) => {
                prop_assert_eq!(c.vocab.decode(c.ids.iter()), text.clone());
                prop_assert_eq!(c.vocab, Vocab::from_text(&text));
                let fnv = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
                });
                prop_assert_eq!(c.fingerprint, fnv);
                prop_assert_eq!(c.ids.len(), text.chars().count());
                let p = last.unwrap();
                prop_assert_eq!((p.done, p.total), (bytes.len() as u64, bytes.len() as u64));
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "whole: {:?}, streamed: {:?}", a.map(|_| ()), b.map(|_| ())),
        }
    }

    #[test]
    fn rare_characters_become_the_unknown_symbol(
        text in "[a-f]{0,60}[g-z\u{4e00}-\u{4e10}]{1,60}",
        max in 2usize..12,
        min in 1u64..5,
    ) {
        let opts = VocabOptions { max_vocab: Some(max), min_count: Some(min) };
        let counts = CharCounts::of_text(&text);
        let Ok(vocab) = Vocab::from_counts(&counts, opts) else {
            // Only when no character reaches the minimum count.
            prop_assert!(counts.sorted().iter().all(|&(_, n)| n < min));
            return Ok(());
        };
        prop_assert!(vocab.len() <= max);
        let c = corpus::load_str(&text, &LoadOptions { vocab: opts, ..Default::default() })
            .unwrap();
        prop_assert_eq!(&c.vocab, &vocab);
        let kept = |ch: char| vocab.id(ch).is_some();
        let want: String = text.chars().map(|ch| if kept(ch) { ch } else { UNKNOWN }).collect();
        prop_assert_eq!(vocab.decode(c.ids.iter()), want);
        prop_assert_eq!(c.replaced as usize, text.chars().filter(|&ch| !kept(ch)).count());
        // Every kept character is at least as frequent as every dropped one, and reaches min.
        let (dropped, _) = counts.unknown_to(&vocab);
        let worst_kept = vocab.chars().iter().filter(|&&ch| ch != UNKNOWN)
            .map(|&ch| counts.get(ch)).min().unwrap_or(u64::MAX);
        for ch in dropped {
            prop_assert!(counts.get(ch) <= worst_kept);
        }
        prop_assert!(worst_kept == u64::MAX || worst_kept >= min);
    }

    #[test]
    fn every_target_is_the_next_character_of_the_text(
        text in "[a-h \u{e9}\u{4e2d}]{40,400}",
        seq_len in 1usize..9,
        batch in 1usize..5,
        windows in 1usize..60,
    ) {
        let vocab = Vocab::from_text(&text);
        let chars: Vec<char> = text.chars().collect();
        let Ok(s) = Streams::new(vocab.encode(&text).unwrap(), seq_len, batch) else {
            prop_assert!(chars.len() < 2 * seq_len * batch);
            return Ok(());
        };
        let l = s.stream_len();
        let mut cursor = Cursor::default();
        for _ in 0..windows {
            let w = cursor.advance(&s);
            for b in 0..batch {
                for t in 0..seq_len {
                    // Input and target sit next to each other in the text, inside stream b.
                    let at = b * l + w.start + t;
                    prop_assert!(w.start + t + 1 < l);
                    prop_assert_eq!(vocab.char(s.at(b, w.start + t)), chars[at]);
                    prop_assert_eq!(vocab.char(s.at(b, w.start + t + 1)), chars[at + 1]);
                }
            }
        }
    }

    #[test]
    fn resets_fall_where_the_notebook_puts_them(
        len in 2usize..300,
        seq_len in 1usize..20,
        batch in 1usize..4,
        steps in 1usize..200,
    ) {
        let ids = charrnn::vocab::Ids::U8((0..len).map(|i| (i % 7) as u8).collect());
        let Ok(s) = Streams::new(ids, seq_len, batch) else { return Ok(()); };
        let l = s.stream_len();
        // The notebook's loop, literally.
        let (mut p, mut n) = (0usize, 0usize);
        let mut cursor = Cursor::default();
        for _ in 0..steps {
            let reset = p + seq_len + 1 >= l || n == 0;
            if reset {
                p = 0;
            }
            let w = cursor.advance(&s);
            prop_assert_eq!((w.start, w.reset), (p, reset));
            p += seq_len;
            n += 1;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The trainer itself reports a reset (and counts an epoch) exactly on the notebook's
    /// reset windows.
    #[test]
    fn the_trainer_resets_where_the_notebook_does(
        len in 16usize..120,
        seq_len in 1usize..6,
        batch in 1usize..3,
        threads in 1usize..3,
    ) {
        let text: String = (0..len).map(|i| (b'a' + (i * 7 % 5) as u8) as char).collect();
        let vocab = Vocab::from_text(&text);
        let Ok(s) = Streams::new(vocab.encode(&text).unwrap(), seq_len, batch) else {
            return Ok(());
        };
        let l = s.stream_len();
        let config = ModelConfig { cell: CellKind::RNN, vocab: vocab.len(), emb: 2, hidden: 3, layers: 1 };
        let model = train::init_model::<f64>(config, 0.1, 0).unwrap();
        let cfg = TrainConfig { seq_len, batch, threads, ..Default::default() };
        let mut trainer = Trainer::new(model, s, cfg).unwrap();
        let (mut p, mut epochs) = (0usize, 0u64);
        for n in 0..40 {
            let reset = p + seq_len + 1 >= l || n == 0;
            if reset {
                p = 0;
                epochs += 1;
            }
            let st = trainer.train_step();
            prop_assert_eq!(st.reset, reset, "step {}", n);
            prop_assert_eq!(trainer.epoch(), epochs);
            p += seq_len;
        }
    }
}
