//! Any bytes given to the checkpoint loader: it must return (Ok or Err), never panic, abort
//! or allocate past the sanitizer's limit. Run from the workspace root:
//! `cargo +nightly fuzz run checkpoint_from_bytes fuzz/seeds/checkpoint -- -rss_limit_mb=512`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ck) = charrnn::checkpoint::from_bytes::<f32>(data) {
        // What loads is usable: finite weights, one per layout slot, a vocabulary per row.
        assert_eq!(ck.model.w.len(), ck.model.layout.len);
        assert!(ck.model.w.iter().all(|x| x.is_finite()));
        assert_eq!(ck.vocab.len(), ck.model.config().vocab);
    }
    let _ = charrnn::checkpoint::from_bytes::<f64>(data);
});
