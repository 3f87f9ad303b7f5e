//! The PNG side of figures: egui's paint list rasterised by wgpu tile by tile, so that an image of any
//! accepted size renders on every adapter (wgpu guarantees textures of 8192 px a side, no more) and the
//! GPU-side memory stays one tile whatever the image; and the one pixel budget every PNG, GIF and APNG
//! export is checked against before anything is fitted or drawn.

use egui_kittest::TestRenderer;
use egui_wgpu::{RenderState, RendererOptions, ScreenDescriptor, WgpuConfiguration, wgpu};
use std::time::Duration;

/// The most pixels an exported image (or one animation frame) may have: 24 million, e.g. 6000 × 4000.
/// `kdviz figure` writes a PNG band by band; an animation frame or the app's export holds the image,
/// 4 bytes a pixel (92 MiB at the limit). BENCHMARKS.md, "Memory", has the peaks.
pub const MAX_PIXELS: u64 = 24_000_000;

/// The largest tile rendered at once, in pixels (8 MiB of RGBA); a figure up to this size is drawn in
/// one pass, exactly as a plain render. Tiles are at most [`MAX_TILE_SIDE`] wide.
const MAX_TILE_PIXELS: u32 = 2 << 20;
/// Within the 8192 px every wgpu adapter supports.
const MAX_TILE_SIDE: u32 = 8192;
/// A tile of a software rasteriser that takes longer than this is reported as a failure, not waited on.
const TILE_TIMEOUT: Duration = Duration::from_secs(120);

/// The pixel size of a figure of `size` points at `scale` pixels per point (as egui rounds it).
pub fn pixel_size(size: egui::Vec2, scale: f32) -> (u32, u32) {
    let px = |x: f32| (x * scale).round().clamp(0.0, u32::MAX as f32) as u32;
    (px(size.x), px(size.y))
}

/// Checks that a figure of `size` points at `scale` stays within [`MAX_PIXELS`]; the error gives the
/// image's size, the limit and the largest scale that fits.
pub fn check_pixels(size: egui::Vec2, scale: f32) -> Result<(u32, u32), String> {
    let (w, h) = pixel_size(size, scale);
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 {
        return Err(format!(
            "the image would be {w} × {h} pixels; expected a positive width and height"
        ));
    }
    if pixels <= MAX_PIXELS {
        return Ok((w, h));
    }
    let fits = scale * (MAX_PIXELS as f32 / pixels as f32).sqrt();
    // Rounded down to 0.01, so that the suggested scale itself fits.
    let fits = (fits * 100.0).floor() / 100.0;
    Err(format!(
        "the image would be {w} × {h} pixels ({:.1} million: {} × {} points at scale {}); the largest \
         is {} million pixels: lower the scale to {fits} or less, or the width or height",
        pixels as f64 / 1e6,
        size.x,
        size.y,
        scale,
        MAX_PIXELS / 1_000_000
    ))
}

/// Takes a band of whole RGBA rows and the band's first row.
type BandSink<'f> = dyn FnMut(u32, &[u8]) -> Result<(), String> + 'f;

/// A kittest renderer that draws the harness's paint list tile by tile (see the module docs).
pub struct TiledRenderer {
    state: RenderState,
}

impl TiledRenderer {
    /// A renderer on the adapter kittest would choose (a software one when there is one); an error,
    /// not a panic, without a usable adapter.
    pub fn new() -> Result<TiledRenderer, String> {
        let setup = egui_kittest::wgpu::default_wgpu_setup();
        let instance = pollster::block_on(setup.new_instance());
        let config = WgpuConfiguration {
            wgpu_setup: setup,
            ..Default::default()
        };
        let state = pollster::block_on(RenderState::create(
            &config,
            &instance,
            None,
            RendererOptions::PREDICTABLE,
        ))
        .map_err(|e| format!("cannot render the figure: no usable wgpu adapter ({e})"))?;
        Ok(TiledRenderer { state })
    }

    /// Draws `prims` (in points, at `ppp` pixels per point) into the `w × h` image, tile by tile.
    fn rasterise(
        &self,
        prims: &[egui::ClippedPrimitive],
        ppp: f32,
        (w, h): (u32, u32),
        tile: (u32, u32),
    ) -> Result<image::RgbaImage, String> {
        let mut img = image::RgbaImage::new(w, h);
        let row = 4 * w as usize;
        let buf: &mut [u8] = &mut img;
        self.rasterise_bands(prims, ppp, (w, h), tile, &mut |y0, band| {
            let at = y0 as usize * row;
            buf[at..at + band.len()].copy_from_slice(band);
            Ok(())
        })?;
        Ok(img)
    }

    /// Draws `prims` tile by tile (one target texture and one read-back buffer for all tiles) and hands
    /// each band of whole rows, RGBA, top to bottom, to `on_band` with its first row: the image itself
    /// is never held unless the caller keeps it.
    fn rasterise_bands(
        &self,
        prims: &[egui::ClippedPrimitive],
        ppp: f32,
        (w, h): (u32, u32),
        (tw, th): (u32, u32),
        on_band: &mut BandSink<'_>,
    ) -> Result<(), String> {
        let device = &self.state.device;
        let target = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("kdviz figure tile"),
            size: wgpu::Extent3d {
                width: tw,
                height: th,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: self.state.target_format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let read = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kdviz figure tile read"),
            size: u64::from(padded_row(tw)) * u64::from(th),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut band = image::RgbaImage::new(w, th.min(h));
        for y0 in (0..h).step_by(th as usize) {
            let rows = th.min(h - y0);
            for x0 in (0..w).step_by(tw as usize) {
                self.render_tile(prims, ppp, &target, &read, (x0, y0))?;
                let part = (tw.min(w - x0), rows);
                let copied = read_into(&read, padded_row(tw), &mut band, (x0, 0), part);
                read.unmap();
                copied?;
            }
            on_band(y0, &band.as_raw()[..4 * w as usize * rows as usize])?;
        }
        Ok(())
    }

    /// The harness's last frame written to `path` as PNG, a band of rows at a time: the 4 bytes a
    /// pixel of the whole image (92 MiB at [`MAX_PIXELS`]) are never held.
    pub fn write_png(
        &self,
        ctx: &egui::Context,
        output: &egui::FullOutput,
        path: &std::path::Path,
    ) -> Result<(), String> {
        let ppp = ctx.pixels_per_point();
        let size = check_pixels(ctx.content_rect().size(), ppp)?;
        let prims = ctx.tessellate(output.shapes.clone(), ppp);
        let shown = path.display();
        let fail = |e: &dyn std::fmt::Display| format!("{shown}: cannot write: {e}");
        let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), size.0, size.1);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| fail(&e))?;
        let mut stream = w.stream_writer().map_err(|e| fail(&e))?;
        self.rasterise_bands(
            &prims,
            ppp,
            size,
            tile_size(size.0, size.1),
            &mut |_, band| std::io::Write::write_all(&mut stream, band).map_err(|e| fail(&e)),
        )?;
        stream.finish().map_err(|e| fail(&e))
    }

    /// Draws the tile whose top-left pixel is `origin` (the primitives moved by −origin) into `target`
    /// and copies it to `read`, mapped for reading when this returns.
    fn render_tile(
        &self,
        prims: &[egui::ClippedPrimitive],
        ppp: f32,
        target: &wgpu::Texture,
        read: &wgpu::Buffer,
        origin: (u32, u32),
    ) -> Result<(), String> {
        let (device, queue) = (&self.state.device, &self.state.queue);
        let size = (target.width(), target.height());
        let screen = ScreenDescriptor {
            pixels_per_point: ppp,
            size_in_pixels: [size.0, size.1],
        };
        let tile_prims;
        let prims = if origin == (0, 0) {
            prims
        } else {
            let shift = -egui::vec2(origin.0 as f32, origin.1 as f32) / ppp;
            tile_prims = shifted(prims, shift, ppp, screen_rect(size, ppp));
            &tile_prims[..]
        };
        let mut renderer = self.state.renderer.write();
        let mut encoder = device.create_command_encoder(&Default::default());
        let user = renderer.update_buffers(device, queue, &mut encoder, prims, &screen);
        let view = target.create_view(&Default::default());
        {
            let mut pass = encoder
                .begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("kdviz figure tile"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &view,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                            store: wgpu::StoreOp::Store,
                        },
                        depth_slice: None,
                    })],
                    ..Default::default()
                })
                .forget_lifetime();
            renderer.render(&mut pass, prims, &screen);
        }
        encoder.copy_texture_to_buffer(
            target.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: read,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded_row(size.0)),
                    rows_per_image: None,
                },
            },
            target.size(),
        );
        let index = queue.submit(user.into_iter().chain(std::iter::once(encoder.finish())));
        drop(renderer);
        let (tx, rx) = std::sync::mpsc::channel();
        read.slice(..)
            .map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
        device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(TILE_TIMEOUT),
            })
            .map_err(|e| format!("cannot render the figure: {e}"))?;
        rx.recv()
            .map_err(|e| format!("cannot read the figure back: {e}"))?
            .map_err(|e| format!("cannot read the figure back: {e}"))
    }
}

/// Copies the top-left `part` of the mapped tile in `read` (rows of `row` bytes) into `img` at
/// `origin`.
fn read_into(
    read: &wgpu::Buffer,
    row: u32,
    img: &mut image::RgbaImage,
    origin: (u32, u32),
    part: (u32, u32),
) -> Result<(), String> {
    let mapped = read
        .slice(..)
        .get_mapped_range()
        .map_err(|e| format!("cannot read the figure back: {e}"))?;
    let img_w = img.width() as usize;
    let buf: &mut [u8] = img;
    let n = 4 * part.0 as usize;
    for y in 0..part.1 as usize {
        let src = &mapped[y * row as usize..][..n];
        let at = 4 * ((origin.1 as usize + y) * img_w + origin.0 as usize);
        buf[at..at + n].copy_from_slice(src);
    }
    Ok(())
}

/// The tile's pixel size: the whole image when it is small enough, else rows of the image (columns
/// too, past [`MAX_TILE_SIDE`]) of at most [`MAX_TILE_PIXELS`].
fn tile_size(w: u32, h: u32) -> (u32, u32) {
    let tw = w.clamp(1, MAX_TILE_SIDE);
    let th = (MAX_TILE_PIXELS / tw).clamp(1, MAX_TILE_SIDE).min(h.max(1));
    (tw, th)
}

/// Bytes per row of a texture copy: 4 a pixel, padded to wgpu's 256-byte alignment.
fn padded_row(w: u32) -> u32 {
    (4 * w).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
}

/// The tile's area in points, its top-left corner at the origin.
fn screen_rect(size: (u32, u32), ppp: f32) -> egui::Rect {
    egui::Rect::from_min_size(
        egui::Pos2::ZERO,
        egui::vec2(size.0 as f32, size.1 as f32) / ppp,
    )
}

/// The meshes of `prims` that reach into `tile` after moving by `shift` (in points, a whole number
/// of pixels), moved. Clip rectangles are first rounded to whole pixels, as the renderer rounds them:
/// a clip edge on a half pixel would otherwise round differently in a tile than in the whole image.
/// Paint callbacks are left out (figures draw none).
fn shifted(
    prims: &[egui::ClippedPrimitive],
    shift: egui::Vec2,
    ppp: f32,
    tile: egui::Rect,
) -> Vec<egui::ClippedPrimitive> {
    let snap = |p: egui::Pos2| (p.to_vec2() * ppp).round().to_pos2() / ppp;
    prims
        .iter()
        .filter_map(|p| {
            let whole = egui::Rect::from_min_max(snap(p.clip_rect.min), snap(p.clip_rect.max));
            let clip = whole.translate(shift);
            let egui::epaint::Primitive::Mesh(mesh) = &p.primitive else {
                return None;
            };
            if !clip.intersects(tile) {
                return None;
            }
            let mut mesh = mesh.clone();
            mesh.translate(shift);
            Some(egui::ClippedPrimitive {
                clip_rect: clip,
                primitive: egui::epaint::Primitive::Mesh(mesh),
            })
        })
        .collect()
}

/// A [`TiledRenderer`] that a harness feeds its textures and the caller renders with: kittest's own
/// `Harness::render` keeps a copy of every image it returns.
#[derive(Clone)]
pub struct SharedRenderer(std::rc::Rc<std::cell::RefCell<TiledRenderer>>);

impl SharedRenderer {
    pub fn new() -> Result<SharedRenderer, String> {
        Ok(SharedRenderer(std::rc::Rc::new(std::cell::RefCell::new(
            TiledRenderer::new()?,
        ))))
    }

    /// The harness's last frame as an image.
    pub fn render(
        &self,
        ctx: &egui::Context,
        output: &egui::FullOutput,
    ) -> Result<image::RgbaImage, String> {
        self.0.borrow_mut().render(ctx, output)
    }

    /// The harness's last frame written to `path` as PNG (see [`TiledRenderer::write_png`]).
    pub fn write_png(
        &self,
        ctx: &egui::Context,
        output: &egui::FullOutput,
        path: &std::path::Path,
    ) -> Result<(), String> {
        self.0.borrow().write_png(ctx, output, path)
    }
}

impl TestRenderer for SharedRenderer {
    fn handle_delta(&mut self, delta: &mut egui::TexturesDelta) {
        self.0.borrow_mut().handle_delta(delta);
    }

    fn render(
        &mut self,
        ctx: &egui::Context,
        output: &egui::FullOutput,
    ) -> Result<image::RgbaImage, String> {
        self.0.borrow_mut().render(ctx, output)
    }
}

impl TestRenderer for TiledRenderer {
    fn handle_delta(&mut self, delta: &mut egui::TexturesDelta) {
        let mut renderer = self.state.renderer.write();
        for (id, images) in std::mem::take(&mut delta.set) {
            for image in &images {
                renderer.update_texture(&self.state.device, &self.state.queue, id, image);
            }
        }
        for id in std::mem::take(&mut delta.free) {
            renderer.free_texture(&id);
        }
    }

    fn render(
        &mut self,
        ctx: &egui::Context,
        output: &egui::FullOutput,
    ) -> Result<image::RgbaImage, String> {
        let ppp = ctx.pixels_per_point();
        let size = check_pixels(ctx.content_rect().size(), ppp)?;
        let prims = ctx.tessellate(output.shapes.clone(), ppp);
        self.rasterise(&prims, ppp, size, tile_size(size.0, size.1))
    }
}

/// Writes `img` to `path` as PNG straight through the `png` encoder (no copy of the image; `image`'s
/// own `save` held one more of it); the error names the file.
pub fn save_png(img: &image::RgbaImage, path: &std::path::Path) -> Result<(), String> {
    let shown = path.display();
    let write = || -> Result<(), String> {
        let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), img.width(), img.height());
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        // Streamed a row band at a time: `write_image_data` filters the whole image into a second
        // buffer of its size first (92 MiB more at the pixel budget).
        let mut stream = w.stream_writer().map_err(|e| e.to_string())?;
        for band in img.as_raw().chunks(1 << 20) {
            std::io::Write::write_all(&mut stream, band).map_err(|e| e.to_string())?;
        }
        stream.finish().map_err(|e| e.to_string())
    };
    write().map_err(|e| format!("{shown}: cannot write: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_any_image_within_the_device_limit() {
        assert_eq!(tile_size(1600, 1000), (1600, 1000));
        assert_eq!(tile_size(1920, 1200), (1920, 1092));
        assert_eq!(tile_size(8800, 6080), (8192, 256));
        let (w, h) = tile_size(3840, 2400);
        assert_eq!(w, 3840);
        assert!(h < 2400 && w * h <= MAX_TILE_PIXELS);
        assert_eq!(tile_size(64_000, 1), (8192, 1));
        assert_eq!(padded_row(1), 256);
        assert_eq!(padded_row(64), 256);
        assert_eq!(padded_row(65), 512);
    }

    /// A figure drawn in small odd-sized tiles equals the figure drawn in one pass, up to a rounding
    /// step (the vertices move by a fraction of a point).
    #[test]
    fn tiles_join_without_seams() {
        let result = crate::toy::preset::load("akl-fig3-longtail")
            .unwrap()
            .to_spec()
            .unwrap()
            .run()
            .unwrap();
        let mut state = crate::views::state::ToyState {
            epoch: 10,
            ..Default::default()
        };
        let spec = crate::figure::FigureSpec {
            size: egui::vec2(700.0, 450.0),
            scale: 1.5,
            ..crate::figure::FigureSpec::default()
        };
        let renderer = SharedRenderer::new().unwrap();
        let mut harness = egui_kittest::Harness::builder()
            .with_size(spec.size)
            .with_pixels_per_point(spec.scale)
            .with_context_setup(crate::views::common::install_fonts)
            .renderer(renderer.clone())
            .build_ui(|ui| crate::figure::figure_ui(ui, &result, &mut state, &spec));
        harness.run_steps(4);
        let ctx = &harness.ctx;
        let prims = ctx.tessellate(harness.output().shapes.clone(), 1.5);
        let r = renderer.0.borrow();
        let whole = r.rasterise(&prims, 1.5, (1050, 675), (1050, 675)).unwrap();
        let tiled = r.rasterise(&prims, 1.5, (1050, 675), (97, 61)).unwrap();
        let (mut differ, mut worst) = (0, 0);
        for (a, b) in whole.pixels().zip(tiled.pixels()) {
            let d = (0..4).map(|c| a[c].abs_diff(b[c])).max().unwrap();
            differ += usize::from(d > 0);
            worst = worst.max(d);
        }
        let inked = whole.pixels().filter(|p| p[3] > 0 && p[0] < 200).count();
        assert!(inked > 20_000, "the figure drew {inked} dark pixels");
        assert!(worst <= 2, "{differ} pixels differ, by up to {worst}");
    }

    #[test]
    fn the_pixel_budget_names_the_size_and_the_scale_that_fits() {
        assert_eq!(
            check_pixels(egui::vec2(960.0, 600.0), 2.0),
            Ok((1920, 1200))
        );
        let e = check_pixels(egui::vec2(1100.0, 760.0), 8.0).unwrap_err();
        assert!(e.contains("8800 × 6080 pixels (53.5 million"), "{e}");
        assert!(e.contains("the largest is 24 million pixels"), "{e}");
        assert!(e.contains("lower the scale to 5.35 or less"), "{e}");
        // The suggested scale fits; a little more does not.
        assert!(check_pixels(egui::vec2(1100.0, 760.0), 5.35).is_ok());
        assert!(check_pixels(egui::vec2(1100.0, 760.0), 5.37).is_err());
        assert!(check_pixels(egui::vec2(8000.0, 3000.0), 1.0).is_ok());
    }
}
