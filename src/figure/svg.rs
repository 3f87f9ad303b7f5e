//! SVG from egui's paint list: the shapes a view paints (before tessellation) become SVG paths, circles,
//! rects and `<text>`, with float coordinates. A figure exported as SVG is therefore drawn by the very
//! same view code as the app and the PNG export.

use egui::epaint::{self, ClippedShape, Color32, Pos2, Rect, Shape};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Serialises `shapes` into a standalone SVG document of `size` points (1 point = 1 SVG user unit).
pub fn to_svg(shapes: &[ClippedShape], size: egui::Vec2, background: Option<Color32>) -> String {
    let mut w = SvgWriter::default();
    let canvas = Rect::from_min_size(Pos2::ZERO, size);
    for clipped in shapes {
        w.shape(&clipped.shape, clipped.clip_rect, canvas);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="Ubuntu, 'DejaVu Sans', Arial, sans-serif">"#,
        num(size.x),
        num(size.y),
        num(size.x),
        num(size.y)
    );
    if !w.defs.is_empty() {
        let _ = writeln!(out, "<defs>\n{}</defs>", w.defs);
    }
    if let Some(bg) = background.filter(|c| c.a() > 0) {
        let _ = writeln!(out, r#"<rect width="100%" height="100%" {}/>"#, fill(bg));
    }
    out.push_str(&w.body);
    out.push_str("</svg>\n");
    out
}

#[derive(Default)]
struct SvgWriter {
    defs: String,
    body: String,
    clips: HashMap<[u32; 4], usize>,
}

impl SvgWriter {
    /// The id of a clip path for `clip`, or None when it covers the whole canvas.
    fn clip_id(&mut self, clip: Rect, canvas: Rect) -> Option<usize> {
        if clip.contains_rect(canvas) {
            return None;
        }
        let key = [
            clip.min.x.to_bits(),
            clip.min.y.to_bits(),
            clip.max.x.to_bits(),
            clip.max.y.to_bits(),
        ];
        let next = self.clips.len();
        let id = *self.clips.entry(key).or_insert(next);
        if id == next {
            let _ = writeln!(
                self.defs,
                r#"<clipPath id="c{id}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath>"#,
                num(clip.min.x),
                num(clip.min.y),
                num(clip.width().max(0.0)),
                num(clip.height().max(0.0))
            );
        }
        Some(id)
    }

    fn shape(&mut self, shape: &Shape, clip: Rect, canvas: Rect) {
        if let Shape::Vec(list) = shape {
            for s in list {
                self.shape(s, clip, canvas);
            }
            return;
        }
        let mut element = String::new();
        write_shape(&mut element, shape);
        if element.is_empty() {
            return;
        }
        match self.clip_id(clip, canvas) {
            Some(id) => {
                let _ = writeln!(self.body, r#"<g clip-path="url(#c{id})">{element}</g>"#);
            }
            None => {
                let _ = writeln!(self.body, "{element}");
            }
        }
    }
}

fn write_shape(out: &mut String, shape: &Shape) {
    match shape {
        Shape::Noop | Shape::Callback(_) | Shape::Vec(_) => {}
        Shape::LineSegment { points, stroke } => {
            if stroke.width > 0.0 && stroke.color.a() > 0 {
                let _ = write!(
                    out,
                    r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>"#,
                    num(points[0].x),
                    num(points[0].y),
                    num(points[1].x),
                    num(points[1].y),
                    stroke_attr(stroke.color, stroke.width)
                );
            }
        }
        Shape::Path(p) => path(
            out,
            &p.points,
            p.closed,
            p.fill,
            path_stroke_color(&p.stroke),
            p.stroke.width,
        ),
        Shape::Circle(c) => {
            let _ = write!(
                out,
                r#"<circle cx="{}" cy="{}" r="{}" {} {}/>"#,
                num(c.center.x),
                num(c.center.y),
                num(c.radius),
                fill(c.fill),
                stroke_attr(c.stroke.color, c.stroke.width)
            );
        }
        Shape::Ellipse(e) => {
            let _ = write!(
                out,
                r#"<ellipse cx="{}" cy="{}" rx="{}" ry="{}" {} {}/>"#,
                num(e.center.x),
                num(e.center.y),
                num(e.radius.x),
                num(e.radius.y),
                fill(e.fill),
                stroke_attr(e.stroke.color, e.stroke.width)
            );
        }
        Shape::Rect(r) => {
            let radius = r.corner_radius.nw as f32;
            let _ = write!(
                out,
                r#"<rect x="{}" y="{}" width="{}" height="{}" rx="{}" {} {}/>"#,
                num(r.rect.min.x),
                num(r.rect.min.y),
                num(r.rect.width().max(0.0)),
                num(r.rect.height().max(0.0)),
                num(radius),
                fill(r.fill),
                stroke_attr(r.stroke.color, r.stroke.width)
            );
        }
        Shape::Text(t) => text(out, t),
        Shape::Mesh(mesh) => {
            // Triangles with their mean vertex colour (plots use meshes for filled areas and images).
            for tri in mesh.indices.chunks_exact(3) {
                let v: Vec<&epaint::Vertex> = tri
                    .iter()
                    .filter_map(|&i| mesh.vertices.get(i as usize))
                    .collect();
                if v.len() != 3 {
                    continue;
                }
                let c = mean_color(v[0].color, v[1].color, v[2].color);
                path(
                    out,
                    &[v[0].pos, v[1].pos, v[2].pos],
                    true,
                    c,
                    Color32::TRANSPARENT,
                    0.0,
                );
            }
        }
        Shape::QuadraticBezier(b) => {
            let [a, c, e] = b.points;
            let _ = write!(
                out,
                r#"<path d="M{} {} Q{} {} {} {}{}" {} {}/>"#,
                num(a.x),
                num(a.y),
                num(c.x),
                num(c.y),
                num(e.x),
                num(e.y),
                if b.closed { "Z" } else { "" },
                fill(b.fill),
                stroke_attr(path_stroke_color(&b.stroke), b.stroke.width)
            );
        }
        Shape::CubicBezier(b) => {
            let [a, c1, c2, e] = b.points;
            let _ = write!(
                out,
                r#"<path d="M{} {} C{} {} {} {} {} {}{}" {} {}/>"#,
                num(a.x),
                num(a.y),
                num(c1.x),
                num(c1.y),
                num(c2.x),
                num(c2.y),
                num(e.x),
                num(e.y),
                if b.closed { "Z" } else { "" },
                fill(b.fill),
                stroke_attr(path_stroke_color(&b.stroke), b.stroke.width)
            );
        }
        Shape::Band(b) => band(out, b),
    }
}

fn path(
    out: &mut String,
    points: &[Pos2],
    closed: bool,
    fill_color: Color32,
    stroke: Color32,
    width: f32,
) {
    if points.len() < 2 {
        return;
    }
    let filled = closed && fill_color.a() > 0;
    let stroked = width > 0.0 && stroke.a() > 0;
    if !filled && !stroked {
        return;
    }
    let mut d = String::with_capacity(points.len() * 16);
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            d,
            "{}{} {}",
            if i == 0 { "M" } else { "L" },
            num(p.x),
            num(p.y)
        );
    }
    if closed {
        d.push('Z');
    }
    let f = if filled {
        fill(fill_color)
    } else {
        r#"fill="none""#.to_string()
    };
    let _ = write!(
        out,
        r#"<path d="{d}" {f} {} stroke-linejoin="round"/>"#,
        stroke_attr(stroke, width)
    );
}

/// A band (egui_plot draws its lines as bands: the covered y-range at each x) as one filled outline.
fn band(out: &mut String, b: &epaint::BandShape) {
    if b.points.len() < 2 {
        return;
    }
    let color = if b.stroke.width > 0.0 && b.stroke_kind != epaint::StrokeKind::Outside {
        b.stroke.color
    } else {
        b.fill
    };
    if color.a() == 0 {
        return;
    }
    // The stroke (centred on the edge) widens the band by its width.
    let grow = if b.stroke_kind == epaint::StrokeKind::Inside {
        0.0
    } else {
        0.5 * b.stroke.width
    };
    let mut outline: Vec<Pos2> = b
        .points
        .iter()
        .map(|p| Pos2::new(p.x, p.y.min - grow))
        .collect();
    outline.extend(
        b.points
            .iter()
            .rev()
            .map(|p| Pos2::new(p.x, p.y.max + grow)),
    );
    let mut element = String::new();
    path(
        &mut element,
        &outline,
        true,
        color,
        Color32::TRANSPARENT,
        0.0,
    );
    if b.angle != 0.0 {
        let _ = write!(
            out,
            r#"<g transform="rotate({})">{element}</g>"#,
            num(b.angle.to_degrees())
        );
    } else {
        out.push_str(&element);
    }
}

fn text(out: &mut String, t: &epaint::TextShape) {
    let job = &t.galley.job;
    let Some(section) = job.sections.first() else {
        return;
    };
    let size = section.format.font_id.size;
    let mut color = t.override_text_color.unwrap_or(section.format.color);
    if color == Color32::PLACEHOLDER {
        color = t.fallback_color;
    }
    if t.opacity_factor < 1.0 {
        color = color.gamma_multiply(t.opacity_factor);
    }
    let transform = if t.angle != 0.0 {
        format!(
            r#" transform="rotate({} {} {})""#,
            num(t.angle.to_degrees()),
            num(t.pos.x),
            num(t.pos.y)
        )
    } else {
        String::new()
    };
    for placed in &t.galley.rows {
        let row: String = placed.row.glyphs.iter().map(|g| g.chr).collect();
        if row.trim().is_empty() {
            continue;
        }
        let Some(first) = placed.row.glyphs.first() else {
            continue;
        };
        let x = t.pos.x + placed.pos.x + first.pos.x;
        let y = t.pos.y + placed.pos.y + first.pos.y;
        // The width egui measured, so that a viewer's substitute font keeps the layout.
        let width = placed
            .row
            .glyphs
            .last()
            .map_or(0.0, |g| g.pos.x + g.advance_width)
            - first.pos.x;
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="{}" textLength="{}" lengthAdjust="spacingAndGlyphs" {}{transform} xml:space="preserve">{}</text>"#,
            num(x),
            num(y),
            num(size),
            num(width.max(0.0)),
            fill(color),
            escape(&row)
        );
    }
}

fn path_stroke_color(s: &epaint::PathStroke) -> Color32 {
    match &s.color {
        epaint::ColorMode::Solid(c) => *c,
        epaint::ColorMode::UV(f) => f(Rect::NOTHING, Pos2::ZERO),
    }
}

fn mean_color(a: Color32, b: Color32, c: Color32) -> Color32 {
    let m = |x: u8, y: u8, z: u8| ((x as u16 + y as u16 + z as u16) / 3) as u8;
    Color32::from_rgba_premultiplied(
        m(a.r(), b.r(), c.r()),
        m(a.g(), b.g(), c.g()),
        m(a.b(), b.b(), c.b()),
        m(a.a(), b.a(), c.a()),
    )
}

/// `fill="rgb(..)"` with opacity; egui colours are premultiplied, SVG's are not.
fn fill(c: Color32) -> String {
    if c.a() == 0 {
        return r#"fill="none""#.into();
    }
    let [r, g, b, a] = c.to_srgba_unmultiplied();
    if a == 255 {
        format!(r#"fill="rgb({r},{g},{b})""#)
    } else {
        format!(
            r#"fill="rgb({r},{g},{b})" fill-opacity="{}""#,
            num(a as f32 / 255.0)
        )
    }
}

fn stroke_attr(c: Color32, width: f32) -> String {
    if width <= 0.0 || c.a() == 0 {
        return String::new();
    }
    let [r, g, b, a] = c.to_srgba_unmultiplied();
    let mut s = format!(r#"stroke="rgb({r},{g},{b})" stroke-width="{}""#, num(width));
    if a < 255 {
        let _ = write!(s, r#" stroke-opacity="{}""#, num(a as f32 / 255.0));
    }
    s
}

/// Coordinates with three decimals: sub-pixel precise, compact.
fn num(v: f32) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
