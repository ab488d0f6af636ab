//! The streaming corpus decoder against the obvious one: for any bytes and block size, the
//! block-by-block UTF-8 check and newline rule give what `String::from_utf8` and
//! `universal_newlines` on the whole give, or the same error offset.
#![no_main]

use charrnn::corpus::{self, universal_newlines, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&b, data)) = input.split_first() else {
        return;
    };
    let opts = LoadOptions {
        keep_cr: b & 1 == 1,
        block_size: 4 + (b >> 1) as usize,
        ..Default::default()
    };
    let got = corpus::load_bytes(data, &opts);
    match String::from_utf8(data.to_vec()) {
        Ok(text) => {
            let text = if opts.keep_cr {
                text
            } else {
                universal_newlines(text)
            };
            let c = got.expect("valid UTF-8 loads");
            assert_eq!(c.vocab.decode(c.ids.iter()), text);
        }
        Err(e) => {
            let msg = got.map(|_| ()).unwrap_err().to_string();
            let want = format!("byte offset {}:", e.utf8_error().valid_up_to());
            assert!(msg.contains(&want), "{msg} lacks {want}");
        }
    }
});
