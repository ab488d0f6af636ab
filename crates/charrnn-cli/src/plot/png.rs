//! PNG pictures: plotters' bitmap backend drawing into memory, with its text drawn here, and
//! the picture encoded here (so it is written atomically, with charrnn's messages).
//!
//! Why the text: plotters' own glyph placement puts each glyph's bounding box where its
//! advance starts, leaving out the glyph's left side bearing, and rounds the pen to whole
//! pixels glyph by glyph, so letters sit unevenly, with gaps in words ("kerning gaps", issue
//! 13). Here each glyph is placed at its fractional pen position on a common baseline and
//! rasterised there, its coverage blended into the picture.

use ab_glyph::{point, Font, FontRef, PxScaleFont, ScaleFont};
use plotters::prelude::BitMapBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// A picture of `size` pixels, RGB, drawn in `buf` (3 bytes a pixel).
pub struct Png<'a> {
    inner: BitMapBackend<'a>,
    font: FontRef<'static>,
}

type Result<E> = std::result::Result<(), DrawingErrorKind<E>>;

impl<'a> Png<'a> {
    pub fn new(buf: &'a mut [u8], size: (u32, u32)) -> Self {
        Png {
            inner: BitMapBackend::with_buffer(buf, size),
            font: FontRef::try_from_slice(dejavu::sans::regular())
                .unwrap_or_else(|_| panic!("the embedded font loads")),
        }
    }

    /// The font at `size` pixels (ascent to descent).
    fn scaled(&self, size: f64) -> PxScaleFont<&FontRef<'static>> {
        self.font.as_scaled(size as f32)
    }

    /// The pen position of every character of `text` (from 0), and the width after the last.
    fn layout(&self, text: &str, size: f64) -> (Vec<f32>, f32) {
        let font = self.scaled(size);
        let mut pen = 0.0;
        let mut prev = None;
        let mut at = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            at.push(pen);
            pen += font.h_advance(id);
            prev = Some(id);
        }
        (at, pen)
    }

    /// The text's box: its width, and the font's height (ascent to descent).
    fn extent(&self, text: &str, size: f64) -> (u32, u32) {
        let (_, width) = self.layout(text, size);
        let font = self.scaled(size);
        (
            width.ceil() as u32,
            (font.ascent() - font.descent()).ceil() as u32,
        )
    }
}

impl DrawingBackend for Png<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<Self::ErrorType> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<Self::ErrorType> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, p: BackendCoord, color: BackendColor) -> Result<Self::ErrorType> {
        self.inner.draw_pixel(p, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<Self::ErrorType> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        Ok(self.extent(text, style.size()))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<Self::ErrorType> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size();
        let (w, h) = self.extent(text, size);
        let (w, h) = (w as i32, h as i32);
        // Where the box's top left goes, relative to the anchor.
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let (pens, _) = self.layout(text, size);
        let font = self.scaled(size);
        let baseline = font.ascent();
        let transform = style.transform();
        let mut pixels = Vec::new();
        for (c, pen) in text.chars().zip(pens) {
            let glyph = font.scaled_glyph(c);
            let glyph = ab_glyph::Glyph {
                position: point(pen, baseline),
                ..glyph
            };
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|x, y, coverage| {
                    if coverage > 0.0 {
                        let (x, y) = (b.min.x as i32 + x as i32, b.min.y as i32 + y as i32);
                        pixels.push((x + dx, y + dy, coverage));
                    }
                });
            }
        }
        for (x, y, coverage) in pixels {
            let (x, y) = transform.transform(x, y);
            let c = BackendColor {
                alpha: color.alpha * f64::from(coverage.min(1.0)),
                rgb: color.rgb,
            };
            self.inner.draw_pixel((pos.0 + x, pos.1 + y), c)?;
        }
        Ok(())
    }
}

/// `rgb` (3 bytes a pixel, row by row) as a PNG file's bytes.
pub fn encode(rgb: &[u8], (w, h): (u32, u32)) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    /// Issue 13: each glyph's ink starts at its pen position plus its left side bearing, as
    /// the font's metrics say (plotters' own placement drops the bearing: gaps in words).
    #[test]
    fn glyphs_sit_at_their_side_bearings() {
        let (w, h) = (400u32, 80u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        let text = "loilolli";
        let size = 40.0;
        crate::plot::register_font();
        {
            let area = Png::new(&mut rgb, (w, h)).into_drawing_area();
            let style = ("sans-serif", size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Top));
            area.draw_text(text, &style, (10, 10)).unwrap();
            area.present().unwrap();
        }
        // Columns with ink, in runs: one a glyph (l, o and i have no gap inside).
        let ink = |x: u32| (0..h).any(|y| rgb[((y * w + x) * 3) as usize] < 128);
        let mut starts = Vec::new();
        for x in 0..w {
            if ink(x) && (x == 0 || !ink(x - 1)) {
                starts.push(x as f32);
            }
        }
        // Where the metrics put each glyph's ink.
        let font = FontRef::try_from_slice(dejavu::sans::regular()).unwrap();
        let font = font.as_scaled(size as f32);
        let mut pen = 10.0;
        let mut prev = None;
        let mut want = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            want.push(pen + font.h_side_bearing(id));
            pen += font.h_advance(id);
            prev = Some(id);
        }
        assert_eq!(starts.len(), want.len(), "{starts:?} vs {want:?}");
        for (got, at) in starts.iter().zip(&want) {
            assert!((got - at).abs() <= 1.0, "{starts:?} vs {want:?}");
        }
    }
}
