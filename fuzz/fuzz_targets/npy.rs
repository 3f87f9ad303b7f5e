//! `.npy` bytes: never a panic; what reads agrees with the header (one value per element).
#![no_main]

use kdviz::io::npy::{parse_header, parse_npy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = parse_npy(data) {
        let header = parse_header(data).expect("a file that reads has a header that reads");
        let elements: u64 = header.shape.iter().product();
        assert_eq!(values.len() as u64, elements, "{header:?}");
        assert!(header.data_offset <= data.len());
    }
});
