//! Epoch animations: frames rendered one at a time and streamed into a GIF or an APNG file, so a long
//! animation never holds every frame in memory; cancellable between frames.

use super::{FigureSpec, Outcome, render_frames};
use crate::toy::FitResult;
use crate::views::state::ToyState;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The animated formats kdviz writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimFormat {
    Gif,
    /// Animated PNG: lossless colours, unlike the GIF's 256-colour palette.
    Apng,
}

impl AnimFormat {
    /// The format a path's extension asks for (`.gif` or `.apng`), if any.
    pub fn from_path(path: &Path) -> Option<AnimFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "gif" => Some(AnimFormat::Gif),
            "apng" => Some(AnimFormat::Apng),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            AnimFormat::Gif => "gif",
            AnimFormat::Apng => "apng",
        }
    }
}

/// An open animation file that takes frames of one size.
enum Sink {
    Gif(
        image::codecs::gif::GifEncoder<BufWriter<File>>,
        image::Delay,
    ),
    Apng(png::Writer<BufWriter<File>>),
}

impl Sink {
    fn open(
        format: AnimFormat,
        file: File,
        (width, height): (u32, u32),
        frames: usize,
        fps: u32,
    ) -> Result<Sink, String> {
        let out = BufWriter::new(file);
        let fps = fps.clamp(1, 100);
        match format {
            AnimFormat::Gif => {
                use image::codecs::gif::{GifEncoder, Repeat};
                let mut enc = GifEncoder::new_with_speed(out, 10);
                enc.set_repeat(Repeat::Infinite)
                    .map_err(|e| e.to_string())?;
                Ok(Sink::Gif(enc, image::Delay::from_numer_denom_ms(1000, fps)))
            }
            AnimFormat::Apng => {
                let mut enc = png::Encoder::new(out, width, height);
                enc.set_color(png::ColorType::Rgba);
                enc.set_depth(png::BitDepth::Eight);
                // Figures are flat colours: fast deflate already compresses them well.
                enc.set_compression(png::Compression::Fast);
                let n = u32::try_from(frames).map_err(|_| "too many frames".to_string())?;
                enc.set_animated(n, 0).map_err(|e| e.to_string())?; // 0 plays = loop forever
                enc.set_frame_delay(1, fps as u16)
                    .map_err(|e| e.to_string())?;
                Ok(Sink::Apng(enc.write_header().map_err(|e| e.to_string())?))
            }
        }
    }

    fn push(&mut self, img: image::RgbaImage) -> Result<(), String> {
        match self {
            Sink::Gif(enc, delay) => enc
                .encode_frame(image::Frame::from_parts(img, 0, 0, *delay))
                .map_err(|e| e.to_string()),
            Sink::Apng(w) => w.write_image_data(img.as_raw()).map_err(|e| e.to_string()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::Gif(enc, _) => {
                // The GIF trailer is written, and the buffer flushed, when the encoder drops (image's
                // GifEncoder gives its writer no way back).
                drop(enc);
                Ok(())
            }
            Sink::Apng(w) => w.finish().map_err(|e| e.to_string()),
        }
    }
}

/// Renders one frame per epoch of `epochs` and writes them to `path` as a looping GIF or APNG (chosen by
/// the extension) at `fps`. `progress(done, total)` is called after each frame; when `cancel` is set the
/// rendering stops before the next frame. A cancelled or failed animation leaves no partial file.
#[allow(clippy::too_many_arguments)]
pub fn write_animation(
    path: &Path,
    fps: u32,
    result: &FitResult,
    state: &ToyState,
    spec: &FigureSpec,
    epochs: &[usize],
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Outcome, String> {
    let shown = path.display();
    let format = AnimFormat::from_path(path).ok_or_else(|| {
        format!("{shown}: cannot write an animation in this format; expected .gif or .apng")
    })?;
    if epochs.is_empty() {
        return Err("no frames to render".into());
    }
    // Open the file first, so an unwritable path fails before any rendering.
    let mut file = Some(File::create(path).map_err(|e| format!("{shown}: cannot write: {e}"))?);
    let mut sink: Option<Sink> = None;
    let n = epochs.len();
    let rendered = render_frames(result, state, spec, epochs, cancel, &mut |i, img| {
        if sink.is_none() {
            let file = file.take().ok_or("the animation file is gone")?;
            sink = Some(Sink::open(format, file, img.dimensions(), n, fps)?);
        }
        if let Some(s) = sink.as_mut() {
            s.push(img)?;
        }
        progress(i + 1, n);
        Ok(())
    });
    let finished = match (rendered, sink) {
        (Ok(Outcome::Done(k)), Some(s)) => s.finish().map(|()| Outcome::Done(k)),
        (Ok(Outcome::Done(_)), None) => Err("no frame was rendered".into()),
        (other, _) => other,
    };
    match finished {
        Ok(Outcome::Done(k)) => Ok(Outcome::Done(k)),
        Ok(cancelled) => {
            std::fs::remove_file(path).ok();
            Ok(cancelled)
        }
        Err(e) => {
            std::fs::remove_file(path).ok();
            Err(format!("{shown}: {e}"))
        }
    }
}

/// Epochs `first..=last` every `step`.
pub fn epochs_by_step(first: usize, last: usize, step: usize) -> Vec<usize> {
    (first..=last).step_by(step.max(1)).collect()
}

/// `count` epochs spread evenly over `first..=last`, both ends included (fewer if the range is shorter).
pub fn epochs_by_count(first: usize, last: usize, count: usize) -> Vec<usize> {
    if count <= 1 || last <= first {
        return vec![first];
    }
    let span = (last - first) as f64;
    let mut out: Vec<usize> = (0..count)
        .map(|i| first + (span * i as f64 / (count - 1) as f64).round() as usize)
        .collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lists() {
        assert_eq!(epochs_by_step(0, 10, 5), [0, 5, 10]);
        assert_eq!(epochs_by_step(3, 9, 4), [3, 7]);
        assert_eq!(epochs_by_count(0, 300, 4), [0, 100, 200, 300]);
        assert_eq!(epochs_by_count(0, 2, 10), [0, 1, 2]);
        assert_eq!(epochs_by_count(5, 5, 3), [5]);
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(
            AnimFormat::from_path(Path::new("a.GIF")),
            Some(AnimFormat::Gif)
        );
        assert_eq!(
            AnimFormat::from_path(Path::new("a.apng")),
            Some(AnimFormat::Apng)
        );
        assert_eq!(AnimFormat::from_path(Path::new("a.png")), None);
        assert_eq!(AnimFormat::from_path(Path::new("a")), None);
    }
}
