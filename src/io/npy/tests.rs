//! Unit tests of the `.npy` reader.

use super::*;
use crate::io::test_util::{assert_has, dict, f8, npy};

fn err_npy(bytes: &[u8]) -> String {
    parse_npy(bytes).expect_err("expected an error").to_string()
}

// ------------------------------------------------------------ npy dtypes

#[test]
fn npy_f8() {
    let v = [1.0, -2.5, f64::NEG_INFINITY, 1e300];
    assert_eq!(
        parse_npy(&npy(1, &dict("<f8", "(4,)"), &f8(&v))).unwrap(),
        v
    );
}

#[test]
fn npy_f8_nan_passes_through() {
    let out = parse_npy(&npy(
        1,
        &dict("<f8", "(2,)"),
        &f8(&[f64::NAN, f64::INFINITY]),
    ))
    .unwrap();
    assert!(out[0].is_nan());
    assert_eq!(out[1], f64::INFINITY);
}

#[test]
fn npy_f4() {
    let data: Vec<u8> = [0.5f32, -3.25, f32::NEG_INFINITY]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(
        parse_npy(&npy(1, &dict("<f4", "(3,)"), &data)).unwrap(),
        [0.5, -3.25, f64::NEG_INFINITY]
    );
}

#[test]
fn npy_f2() {
    // 1.0, -2.0, 65504 (max), smallest subnormal, largest subnormal, -0.0, inf, -inf
    let halves: [u16; 8] = [
        0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00,
    ];
    let data: Vec<u8> = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
    let out = parse_npy(&npy(1, &dict("<f2", "(8,)"), &data)).unwrap();
    let want = [
        1.0,
        -2.0,
        65504.0,
        2f64.powi(-24),
        1023.0 * 2f64.powi(-24),
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    assert_eq!(out, want);
    assert!(out[5].is_sign_negative());
}

#[test]
fn npy_i8_and_i4() {
    let d8: Vec<u8> = [3i64, -7, 0].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(
        parse_npy(&npy(1, &dict("<i8", "(3,)"), &d8)).unwrap(),
        [3.0, -7.0, 0.0]
    );
    let d4: Vec<u8> = [i32::MIN, 42]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(
        parse_npy(&npy(1, &dict("<i4", "(2,)"), &d4)).unwrap(),
        [f64::from(i32::MIN), 42.0]
    );
}

#[test]
fn npy_big_endian_rejected() {
    let m = err_npy(&npy(1, &dict(">f8", "(1,)"), &[0; 8]));
    assert_has(
        &m,
        "npy data: dtype '>f8' is not supported; expected little-endian <f8, <f4, <f2, <i4 or <i8",
    );
}

#[test]
fn npy_other_dtypes_rejected() {
    for d in ["<u4", "|u1", "<c16", "|b1", "<U3", "<i2", "=f8"] {
        let m = err_npy(&npy(1, &dict(d, "(1,)"), &[0; 16]));
        assert_has(&m, &format!("dtype '{d}' is not supported"));
    }
    let structured = "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }";
    assert_has(
        &err_npy(&npy(1, structured, &[0; 8])),
        "structured dtypes are not supported",
    );
}

// ------------------------------------------------------------ versions and header syntax

#[test]
fn npy_versions_2_and_3() {
    let v = [1.0, 2.0];
    assert_eq!(
        parse_npy(&npy(2, &dict("<f8", "(2,)"), &f8(&v))).unwrap(),
        v
    );
    assert_eq!(
        parse_npy(&npy(3, &dict("<f8", "(2,)"), &f8(&v))).unwrap(),
        v
    );
}

#[test]
fn npy_unknown_version_rejected() {
    let mut b = npy(1, &dict("<f8", "(1,)"), &[0; 8]);
    b[6] = 4;
    assert_has(
        &err_npy(&b),
        "format version 4.0 is not supported; expected 1.0, 2.0 or 3.0",
    );
    b[6] = 1;
    b[7] = 1;
    assert_has(&err_npy(&b), "format version 1.1 is not supported");
}

#[test]
fn npy_header_spacing_order_and_trailing_commas() {
    let v = [5.0, 6.0];
    for h in [
        "{'shape':(2,),'fortran_order':False,'descr':'<f8'}",
        "{ \"descr\" : \"<f8\" ,\t'fortran_order' : False , 'shape' : ( 2 , ) , }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), 'extra': [1, None, 'x'],}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': [2]}",
    ] {
        assert_eq!(parse_npy(&npy(1, h, &f8(&v))).unwrap(), v, "{h}");
    }
}

#[test]
fn npy_malformed_headers() {
    let cases = [
        ("'descr': '<f8'", "expected the header to be a dict"),
        ("{'descr' '<f8'}", "expected ':' after a dict key"),
        ("{'descr': '<f8' 'shape': (1,)}", "expected ',' or '}'"),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)",
            "expected ',' or '}'",
        ),
        ("{'descr': '<f8", "string is not closed"),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x",
            "unexpected text after the header dict",
        ),
        (
            "{'fortran_order': False, 'shape': (1,)}",
            "header has no 'descr' key",
        ),
        (
            "{'descr': '<f8', 'shape': (1,)}",
            "header has no 'fortran_order' key",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False}",
            "header has no 'shape' key",
        ),
        (
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
            "'fortran_order' is an integer",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': 1}",
            "'shape' is an integer; expected a tuple",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
            "negative numbers are not allowed",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': ('a',)}",
            "'shape' holds a string",
        ),
        (
            "{'descr': '<f8', 'fortran_order': false, 'shape': (1,)}",
            "found 'f'",
        ),
        ("{1: 2}", "dict key is an integer"),
        (
            "{'descr': ((((((((((1,),),),),),),),),),)}",
            "nested too deeply",
        ),
    ];
    for (h, want) in cases {
        let m = err_npy(&npy(1, h, &[0; 8]));
        assert!(m.starts_with("npy data: "), "{m}");
        assert_has(&m, want);
    }
    // Byte offsets count from the start of the file: the header starts at byte 10 in v1.
    let m = err_npy(&npy(1, "{'descr' '<f8'}", &[]));
    assert_has(
        &m,
        "npy data: malformed header at byte offset 19 (found ''')",
    );
    assert_has(&err_npy(&npy(2, "{'descr' '<f8'}", &[])), "byte offset 21");
}

#[test]
fn npy_non_utf8_header_does_not_panic() {
    // Raw bytes outside strings are syntax errors; inside strings they decode lossily
    // (latin-1 in v1/v2, UTF-8 with replacement characters in v3).
    let h = "{'descr': 'XX', 'fortran_order': False, 'shape': (1,)}";
    for (major, shown) in [
        (1, "dtype 'ÿþ'"),
        (2, "dtype 'ÿþ'"),
        (3, "dtype '\u{fffd}\u{fffd}'"),
    ] {
        let mut b = npy(major, h, &[0; 8]);
        let at = b.windows(2).position(|w| w == b"XX").unwrap();
        b[at] = 0xff;
        b[at + 1] = 0xfe;
        let m = err_npy(&b);
        assert_has(&m, &format!("{shown} is not supported"));
    }
    let mut b = npy(1, h, &[0; 8]);
    b[10] = 0xc3;
    assert_has(&err_npy(&b), "found byte 0xc3");
}

// ------------------------------------------------------------ shapes and order

#[test]
fn npy_shapes() {
    let v = [1.0, 2.0, 3.0];
    for shape in ["(3,)", "(1, 3)", "(3, 1)"] {
        assert_eq!(
            parse_npy(&npy(1, &dict("<f8", shape), &f8(&v))).unwrap(),
            v,
            "{shape}"
        );
    }
    assert_eq!(
        parse_npy(&npy(1, &dict("<f8", "(1, 1)"), &f8(&[7.0]))).unwrap(),
        [7.0]
    );
}

#[test]
fn npy_bad_shapes_rejected() {
    let m = err_npy(&npy(1, &dict("<f8", "(2, 3)"), &f8(&[0.0; 6])));
    assert_has(
        &m,
        "shape (2, 3) is not supported; expected (V,), (1, V) or (V, 1)",
    );
    assert_has(
        &err_npy(&npy(1, &dict("<f8", "()"), &f8(&[0.0]))),
        "shape () is not supported",
    );
    assert_has(
        &err_npy(&npy(1, &dict("<f8", "(1, 1, 3)"), &f8(&[0.0; 3]))),
        "shape (1, 1, 3)",
    );
    assert_has(
        &err_npy(&npy(1, &dict("<f8", "(0,)"), &[])),
        "no numbers found; expected at least one",
    );
}

#[test]
fn npy_huge_shapes_do_not_overflow() {
    let m = err_npy(&npy(1, &dict("<f8", "(1, 18446744073709551615)"), &[0; 8]));
    assert_has(&m, "is too large");
    let m = err_npy(&npy(1, &dict("<f8", "(99999999999999999999999,)"), &[0; 8]));
    assert_has(&m, "integer is too large");
    let m = err_npy(&npy(1, &dict("<f8", "(4294967296, 4294967296)"), &[0; 8]));
    assert_has(&m, "is not supported");
    let m = err_npy(&npy(1, &dict("<f2", "(1000000000000,)"), &[0; 8]));
    assert_has(
        &m,
        "truncated: header says 1000000000000 values (2000000000000 bytes) but only 8 bytes follow",
    );
}

#[test]
fn npy_fortran_order_rejected() {
    let h = "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }";
    let m = err_npy(&npy(1, h, &f8(&[1.0, 2.0])));
    assert_has(
        &m,
        "npy data: fortran_order=True is not supported; expected a C-order array",
    );
}

// ------------------------------------------------------------ damaged files

#[test]
fn npy_truncated_data() {
    let m = err_npy(&npy(1, &dict("<f8", "(80,)"), &f8(&[0.0; 40])));
    assert_has(
        &m,
        "truncated: header says 80 values (640 bytes) but only 320 bytes follow",
    );
}

#[test]
fn npy_trailing_bytes_ignored() {
    let mut data = f8(&[1.0, 2.0]);
    data.extend_from_slice(b"more");
    assert_eq!(
        parse_npy(&npy(1, &dict("<f8", "(2,)"), &data)).unwrap(),
        [1.0, 2.0]
    );
}

#[test]
fn npy_truncated_preamble_and_header() {
    assert_has(&err_npy(b""), "bad magic");
    assert_has(
        &err_npy(b"\x93NUMPY"),
        "truncated: 6 bytes, too short for a .npy preamble",
    );
    assert_has(
        &err_npy(b"\x93NUMPY\x01\x00\x05"),
        "too short for a .npy preamble",
    );
    assert_has(
        &err_npy(b"\x93NUMPY\x02\x00\x05\x00\x00"),
        "too short for a .npy preamble",
    );
    let full = npy(1, &dict("<f8", "(1,)"), &[0; 8]);
    assert_has(
        &err_npy(&full[..30]),
        "truncated: header length field says 118 bytes but only 20 bytes follow",
    );
    // An absurd v2 header length must be reported, not allocated.
    let mut b = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
    b.extend_from_slice(b"{}");
    assert_has(
        &err_npy(&b),
        "header length field says 4294967295 bytes but only 2 bytes follow",
    );
}

#[test]
fn npy_bad_magic() {
    assert_has(
        &err_npy(b"1,2,3\n"),
        "npy data: bad magic \"1,2,3\\n\": not a .npy file",
    );
    assert_has(
        &err_npy(b"PK\x03\x04zipzip"),
        "expected it to start with \\x93NUMPY",
    );
}

#[test]
fn npy_never_panics_on_prefixes_or_bit_flips() {
    let good = npy(2, &dict("<f2", "(3, 1)"), &[0, 60, 0, 188, 0, 124]);
    for n in 0..good.len() {
        let _ = parse_npy(&good[..n]);
    }
    for i in 0..good.len() {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            let _ = parse_npy(&b);
        }
    }
}
