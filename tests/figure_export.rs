//! Animations written frame by frame: APNG frame count, size and timing read back from the file; GIF
//! from the library; cancellation and bad paths leave no file behind.
#![allow(clippy::unwrap_used)] // tests may unwrap

use kdviz::figure::{self, FigureSpec, Layout, Outcome};
use kdviz::toy::FitResult;
use kdviz::views::state::{Theme, ToyState, View};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdviz-anim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The default preset fitted for 30 epochs, every q kept.
fn fit() -> (FitResult, ToyState) {
    let mut cfg = kdviz::toy::preset::load("akl-fig3-longtail").unwrap();
    cfg.epochs = 30;
    let mut spec = cfg.to_spec().unwrap();
    spec.snapshots = kdviz::toy::SnapshotPlan {
        every: true,
        at: vec![],
    };
    let mut state = ToyState::default();
    state.apply_config(cfg);
    (spec.run().unwrap(), state)
}

fn small_spec() -> FigureSpec {
    FigureSpec {
        view: View::Distributions,
        layout: Layout::View,
        epochs: vec![0],
        title: None,
        size: egui::vec2(240.0, 160.0),
        scale: 1.0,
        theme: Theme::Light,
        transparent: false,
    }
}

/// An APNG read back: `acTL`'s frame count and plays, the size, every frame's delay and pixels.
struct Apng {
    num_frames: u32,
    num_plays: u32,
    size: (u32, u32),
    /// Chunks counted in the byte stream, independently of the decoder.
    fctl_chunks: usize,
    delays: Vec<(u16, u16)>,
    frames: Vec<Vec<u8>>,
}

fn read_apng(path: &Path) -> Apng {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    // Walk the chunks: length, type, data, CRC.
    let mut fctl_chunks = 0;
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if &bytes[at + 4..at + 8] == b"fcTL" {
            fctl_chunks += 1;
        }
        at += 12 + len;
    }
    assert_eq!(at, bytes.len(), "the chunks end at the end of the file");

    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let actl = *reader.info().animation_control().expect("an acTL chunk");
    let size = reader.info().size();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let mut frames = Vec::new();
    let mut delays = Vec::new();
    for _ in 0..actl.num_frames {
        let out = reader.next_frame(&mut buf).unwrap();
        let fc = reader.info().frame_control().expect("an fcTL per frame");
        assert_eq!((fc.width, fc.height), size, "full-size frames");
        delays.push((fc.delay_num, fc.delay_den));
        frames.push(buf[..out.buffer_size()].to_vec());
    }
    Apng {
        num_frames: actl.num_frames,
        num_plays: actl.num_plays,
        size,
        fctl_chunks,
        delays,
        frames,
    }
}

#[test]
fn apng_has_one_frame_per_epoch() {
    let (result, state) = fit();
    let out = tmp("lib.apng");
    let epochs = [0, 2, 4, 6, 8, 10];
    let mut reported = Vec::new();
    let outcome = figure::write_animation(
        &out,
        8,
        &result,
        &state,
        &small_spec(),
        &epochs,
        &AtomicBool::new(false),
        &mut |done, total| reported.push((done, total)),
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Done(6));
    assert_eq!(
        reported,
        (1..=6).map(|i| (i, 6)).collect::<Vec<_>>(),
        "progress after every frame"
    );
    let a = read_apng(&out);
    assert_eq!(a.num_frames, 6);
    assert_eq!(a.num_plays, 0, "loops forever");
    assert_eq!(a.fctl_chunks, 6);
    assert_eq!(a.size, (240, 160));
    assert_eq!(a.frames.len(), 6);
    assert!(a.delays.iter().all(|&d| d == (1, 8)), "{:?}", a.delays);
    assert_eq!(a.frames[0].len(), 240 * 160 * 4, "RGBA");
    assert_ne!(a.frames[0], a.frames[5], "the student moves");
    // Not blank: the white background plus curves and text.
    let distinct: std::collections::HashSet<&[u8]> = a.frames[5].chunks(4).collect();
    assert!(distinct.len() > 20, "{} colours", distinct.len());
}

#[test]
fn gif_from_the_library_has_every_frame() {
    let (result, state) = fit();
    let out = tmp("lib.gif");
    let outcome = figure::write_animation(
        &out,
        5,
        &result,
        &state,
        &small_spec(),
        &[1, 3, 5],
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Done(3));
    use image::AnimationDecoder;
    let file = std::io::BufReader::new(std::fs::File::open(&out).unwrap());
    let frames = image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].buffer().dimensions(), (240, 160));
    assert_eq!(frames[0].delay().numer_denom_ms(), (200, 1), "5 fps");
}

#[test]
fn cancel_stops_between_frames_and_leaves_no_file() {
    let (result, state) = fit();
    let out = tmp("cancelled.apng");
    let cancel = AtomicBool::new(false);
    let outcome = figure::write_animation(
        &out,
        10,
        &result,
        &state,
        &small_spec(),
        &(0..=30).collect::<Vec<_>>(),
        &cancel,
        &mut |done, _| {
            if done == 2 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Cancelled(2));
    assert!(!out.exists(), "the partial file is removed");
}

#[test]
fn bad_paths_fail_before_rendering() {
    let (result, state) = fit();
    let never = AtomicBool::new(false);
    let mut frames = 0;
    let mut write = |path: &Path| {
        figure::write_animation(
            path,
            10,
            &result,
            &state,
            &small_spec(),
            &[0, 1],
            &never,
            &mut |_, _| frames += 1,
        )
        .unwrap_err()
    };
    let e = write(Path::new("/nonexistent-kdviz-dir/a.apng"));
    assert!(e.contains("cannot write"), "{e}");
    let e = write(&tmp("a.mp4"));
    assert!(e.contains("expected .gif or .apng"), "{e}");
    assert_eq!(frames, 0, "nothing was rendered");
    assert!(!tmp("a.mp4").exists());
}

#[test]
fn cli_writes_apng() {
    let out = tmp("cli.apng");
    let run = Command::new(env!("CARGO_BIN_EXE_kdviz"))
        .args([
            "figure",
            "--preset",
            "minillm-gmm",
            "--view",
            "distributions",
            "--frames",
            "0:400:100",
            "--fps",
            "4",
            "--width",
            "320",
            "--height",
            "200",
            "--scale",
            "2",
            "--out",
        ])
        .arg(&out)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("frame 5/5"), "{err}");
    let a = read_apng(&out);
    assert_eq!((a.num_frames, a.fctl_chunks), (5, 5));
    assert_eq!(a.size, (640, 400), "320x200 points at scale 2");
    assert!(a.delays.iter().all(|&d| d == (1, 4)));
    // The unknown-extension message names the new format.
    let bad = Command::new(env!("CARGO_BIN_EXE_kdviz"))
        .args(["figure", "--preset", "minillm-gmm", "--out", "x.mp4"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains(".gif, .apng or .csv"));
}
