//! `.safetensors` bytes: the header never panics, and every tensor it accepts lies inside the file
//! with as many bytes as its shape and dtype need, so streaming it reads exactly that.
#![no_main]

use kdviz::io::dtype::{Dtype, Span, read_f32s, read_i64s};
use kdviz::io::safetensors::read_header;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let len = data.len() as u64;
    let Ok(header) = read_header(&mut Cursor::new(data), len, path) else {
        return;
    };
    for t in &header.tensors {
        assert!(t.start.checked_add(t.len).is_some_and(|end| end <= len), "{t:?}");
        let Some(dtype) = Dtype::from_safetensors(&t.dtype) else {
            continue;
        };
        let count = t
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .expect("an accepted shape has a count");
        assert_eq!(count as u64 * dtype.size() as u64, t.len, "{t:?}");
        let span = Span {
            dtype,
            start: t.start,
            count,
        };
        let mut file = Cursor::new(data);
        let read = if dtype.is_float() {
            read_f32s(&mut file, path, &span, "tensor").map(|v| v.len())
        } else {
            read_i64s(&mut file, path, &span, "tensor").map(|v| v.len())
        };
        if let Ok(n) = read {
            assert_eq!(n, count, "{t:?}");
        }
    }
});
