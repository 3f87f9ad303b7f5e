//! Token files (a JSON list of strings or a tokenizer.json) for a vocabulary of V classes (from the
//! first byte): never a panic; an accepted file gives exactly V labels.
#![no_main]

use kdviz::io::tokens::parse_vocab;
use kdviz::real::tokens::parse_tokens;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let v = 1 + usize::from(first);
    let _ = parse_vocab(bytes);
    if let Ok(labels) = parse_tokens(bytes, v) {
        assert_eq!(labels.len(), v);
    }
});
