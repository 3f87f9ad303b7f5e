//! Vectors as text (a .csv/.txt file, or the inline list of a flag): never a panic; what reads is
//! at least one number, and an infinity only where the text spells one (a literal beyond f64's
//! range is an error, not an inf).
#![no_main]

use kdviz::io::text::{parse_inline, parse_text_bytes};
use libfuzzer_sys::fuzz_target;

fn check(values: &[f64], text: &[u8]) {
    assert!(!values.is_empty());
    if values.iter().any(|v| v.is_infinite()) {
        let lower = text.to_ascii_lowercase();
        assert!(lower.windows(3).any(|w| w == b"inf"), "an inf the text does not spell");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = parse_text_bytes(data, "fuzz.csv") {
        check(&values, data);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(values) = parse_inline(text)
    {
        check(&values, data);
    }
});
