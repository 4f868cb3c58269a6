//! The one style of every figure (coordinate checks, mean-field plots, phase diagrams):
//! the Okabe–Ito palette, markers, font sizes, light grids, the embedded font, the
//! `--plot-size` bounds, and the choice of SVG or PNG output by the file's extension.
//!
//! A figure implements [`Plot`] (its default size and how to draw itself on any plotters
//! backend); [`render_svg`] and [`write_plot`] then draw it to SVG text or to a file.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Okabe & Ito's qualitative palette: eight colours that stay distinguishable under the
/// common colour-vision deficiencies.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Colour of series `i` (stable across panels: callers index by legend entry).
pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The shape marking a curve's points; with the colour it tells curves apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Marker {
    /// A filled circle.
    Circle,
    /// A filled triangle.
    Triangle,
    /// A filled square.
    Square,
    /// A filled diamond.
    Diamond,
    /// An upright cross.
    Cross,
}

/// Markers in the order legend entries get them: entry `k` has colour `k mod 8` and
/// marker `k div 8`, so 40 entries have 40 distinct (colour, marker) pairs.
pub const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Diamond,
    Marker::Cross,
];

/// The (colour, marker) of legend entry `k`.
pub fn entry_style(k: usize) -> (RGBColor, Marker) {
    let marker = MARKERS[(k / PALETTE.len()) % MARKERS.len()];
    (series_color(k), marker)
}

/// The font family every text uses (registered from the embedded DejaVu Sans).
pub const FONT: &str = "sans-serif";
/// plotters sizes text by its line height, in whole pixels; the em size (what an SVG
/// `font-size` says) is that height divided by this.
pub const EM: f64 = 1.24;
/// Figure titles: 27 / 1.24 ≈ 21.8 px em.
pub const TITLE_FONT: f64 = 27.0;
/// Panel captions: 22 / 1.24 ≈ 17.7 px em.
pub const CAPTION_FONT: f64 = 22.0;
/// Axis descriptions: 20 / 1.24 ≈ 16.1 px em.
pub const AXIS_FONT: f64 = 20.0;
/// Tick labels and notes: 18 / 1.24 ≈ 14.5 px em.
pub const TICK_FONT: f64 = 18.0;
/// Legend entries: 19 / 1.24 ≈ 15.3 px em.
pub const LEGEND_FONT: f64 = 19.0;
/// How many width ticks (numbers up to 4 digits) fit on an x axis in a panel
/// `pixels` wide, without their labels running into each other.
pub fn tick_budget(pixels: u32) -> usize {
    (pixels.saturating_sub(110) / 52).clamp(2, 7) as usize
}

/// The font size (line height) at which `text` fits in `pixels`: `max`, or less for a
/// long text, but never below the tick-label size.
pub fn fitted_font(text: &str, pixels: u32, max: f64) -> f64 {
    // DejaVu Sans averages about 0.6 em per character.
    let chars = text.chars().count().max(1) as f64;
    (f64::from(pixels) / (0.6 * chars) * EM).clamp(TICK_FONT, max)
}

/// Grid lines: light grey, drawn only at major ticks.
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Secondary text (notes, omitted quantities).
pub const NOTE: RGBColor = RGBColor(80, 80, 80);

/// The smallest and largest side, in pixels, that `--plot-size` accepts.
pub const SIZE_BOUNDS: (u32, u32) = (200, 8000);

/// Parses `--plot-size W,H` (pixels of the whole figure), each side within
/// [`SIZE_BOUNDS`].
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (lo, hi) = SIZE_BOUNDS;
    let bad = || {
        format!(
            "`{text}` is not W,H with two whole numbers of pixels in {lo}..={hi}, e.g. 1200,800"
        )
    };
    let (w, h) = text.split_once(',').ok_or_else(bad)?;
    let side = |s: &str| {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|v| (lo..=hi).contains(v))
    };
    match (side(w), side(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(bad()),
    }
}

/// The image format of a `--plot` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics (text stays text).
    Svg,
    /// A PNG bitmap (text rendered with the embedded font).
    Png,
}

impl Format {
    /// The format named by the extension of `path` (`.svg` or `.png`, any case).
    pub fn of(path: &Path) -> Result<Format, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(
                "the file extension chooses the format: `.svg` or `.png` are accepted".to_string(),
            ),
        }
    }
}

/// Where and how large a figure is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotTarget {
    /// The file; its extension chooses the format.
    pub path: PathBuf,
    /// Pixels of the whole figure; `None` lets the figure choose.
    pub size: Option<(u32, u32)>,
}

/// A figure that can be drawn on any plotters backend.
pub trait Plot {
    /// The size the figure takes when none is requested.
    fn default_size(&self) -> (u32, u32);
    /// Draws the figure on `root`, which already has its final size.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Makes the embedded DejaVu Sans the `sans-serif` family (once per process): plotters
/// measures and rasterizes text with it, so figures need no system font.
pub fn ensure_font() -> Result<(), String> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded font could not be loaded".to_string())
        })
        .clone()
}

/// Draws `plot` as SVG text at `size` (its default size when `None`).
pub fn render_svg(plot: &impl Plot, size: Option<(u32, u32)>) -> Result<String, String> {
    ensure_font()?;
    let size = size.unwrap_or_else(|| plot.default_size());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        plot.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Writes `plot` to `target.path` as SVG or PNG, by the file's extension.
pub fn write_plot(plot: &impl Plot, target: &PlotTarget) -> Result<(), String> {
    match Format::of(&target.path)? {
        Format::Svg => {
            let svg = render_svg(plot, target.size)?;
            std::fs::write(&target.path, svg).map_err(err)
        }
        Format::Png => {
            ensure_font()?;
            let size = target.size.unwrap_or_else(|| plot.default_size());
            let root = BitMapBackend::new(&target.path, size).into_drawing_area();
            root.fill(&WHITE).map_err(err)?;
            plot.draw(&root)?;
            root.present().map_err(err)
        }
    }
}

/// Checks, before a long run, that `path` has an accepted extension and can be written:
/// it is opened for writing without truncating it, and removed again if it did not exist
/// before.
pub fn check_writable(path: &Path) -> Result<(), String> {
    Format::of(path)?;
    super::file_writable(path)
}

/// Any drawing error as text.
pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws `marker` of `color` centred at `at` (pixels of `area`), `r` pixels in radius.
pub fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marker: Marker,
    at: (i32, i32),
    r: i32,
    color: RGBColor,
) -> Result<(), String> {
    let (x, y) = at;
    let style = color.filled();
    match marker {
        Marker::Circle => area.draw(&Circle::new(at, r, style)),
        Marker::Triangle => area.draw(&TriangleMarker::new(at, r + 1, style)),
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], style)),
        Marker::Diamond => area.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            style,
        )),
        Marker::Cross => area.draw(&Cross::new(at, r + 1, color.stroke_width(2))),
    }
    .map_err(err)
}

/// `2^k` with a superscript exponent, for log2 tick labels.
pub fn power_of_two_label(k: f64) -> String {
    let k = k.round() as i64;
    let digits: String = k
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect();
    format!("2{digits}")
}

/// The integers in `lo..=hi`, thinned to at most `most` by a whole step: the only grid
/// lines and ticks of a log2 axis.
pub fn integer_ticks(lo: f64, hi: f64, most: usize) -> Vec<f64> {
    let (first, last) = (lo.ceil() as i64, hi.floor() as i64);
    if last < first {
        return Vec::new();
    }
    let count = (last - first + 1) as usize;
    let step = count.div_ceil(most.max(1)).max(1);
    (first..=last).step_by(step).map(|k| k as f64).collect()
}

/// A log2 axis whose only ticks and grid lines are integers (powers of 2): plotters'
/// own f64 axis picks its ticks itself and adds light lines between them.
#[derive(Clone, Debug)]
pub struct Log2Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Log2Axis {
    /// The axis over `lo..hi` with at most `most` integer ticks.
    pub fn new(lo: f64, hi: f64, most: usize) -> Self {
        Log2Axis {
            lo,
            hi,
            ticks: integer_ticks(lo, hi, most),
        }
    }
}

impl Ranged for Log2Axis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_within_bounds() {
        assert_eq!(parse_size("1200,800"), Ok((1200, 800)));
        assert_eq!(parse_size(" 200 , 8000 "), Ok((200, 8000)));
        for bad in [
            "199,800", "800,8001", "0,0", "-5,300", "1200", "1200x800", "a,b", "",
        ] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_extension_chooses_the_format() {
        assert_eq!(Format::of(Path::new("a/b.svg")), Ok(Format::Svg));
        assert_eq!(Format::of(Path::new("b.PNG")), Ok(Format::Png));
        for bad in ["b.pdf", "b", "b.svg.txt"] {
            let e = Format::of(Path::new(bad)).unwrap_err();
            assert!(e.contains(".svg") && e.contains(".png"), "{e}");
        }
    }

    #[test]
    fn forty_entries_have_distinct_styles_and_colours_repeat_only_past_eight() {
        let styles: std::collections::HashSet<_> = (0..40)
            .map(|k| {
                let (c, m) = entry_style(k);
                (c.0, c.1, c.2, m)
            })
            .collect();
        assert_eq!(styles.len(), 40);
        let colours: std::collections::HashSet<_> = (0..8)
            .map(|k| {
                let c = entry_style(k).0;
                (c.0, c.1, c.2)
            })
            .collect();
        assert_eq!(colours.len(), 8);
    }
}
