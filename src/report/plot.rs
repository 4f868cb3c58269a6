//! SVG plots: coordinate-check panels (size against width on log2 axes, one line per
//! quantity with its band over seeds, optionally the predicted slope beside it) and an
//! error-against-width convergence panel.
//!
//! A [`Figure`] is plain data, built from a sweep by [`coordinate_check_figure`] and
//! [`convergence_panel`] (or by hand), then drawn by [`style::render_svg`] or
//! [`style::write_plot`] (it implements [`Plot`]). Predicted slopes
//! come from the caller ([`Predictions`]): the simulation alone does not know them.

use super::style::{
    self, draw_marker, entry_style, err, Log2Axis, Marker, Plot, AXIS_FONT, CAPTION_FONT, FONT,
    GRID, LEGEND_FONT, NOTE, TICK_FONT, TITLE_FONT,
};
use crate::check::stats::{rms_errors, summarize};
use crate::check::QuantityStats;
use crate::ir::Kind;
use crate::sim::{Measurement, SweepResult};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// One point of a curve: the center (seed mean) and the band (seed range) at a width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    /// The width n.
    pub width: usize,
    /// The plotted value (positive).
    pub center: f64,
    /// The bottom of the band (positive, ≤ center).
    pub low: f64,
    /// The top of the band (≥ center).
    pub high: f64,
}

/// One line of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// The legend entry this curve belongs to (a family such as `h2`); curves with the
    /// same legend share a colour and a marker across panels.
    pub legend: String,
    /// The quantity drawn (`h2_1`), which `--plot-only` may name as well as the legend.
    pub quantity: String,
    /// The points, in increasing width.
    pub points: Vec<CurvePoint>,
    /// A predicted exponent: drawn as a dashed line of this slope through the point at
    /// the smallest width.
    pub predicted_slope: Option<f64>,
}

/// One panel: log2 width against log2 value.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The caption.
    pub title: String,
    /// The y-axis description.
    pub y_label: String,
    /// The lines.
    pub curves: Vec<Curve>,
    /// Quantities not drawn (e.g. exactly zero), listed under the caption.
    pub omitted: Vec<String>,
}

/// A whole figure: a grid of coordinate-check panels, an optional convergence panel
/// below it, and a legend on the right.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The title line.
    pub title: String,
    /// Grid columns.
    pub columns: usize,
    /// Grid cells, row by row; `None` leaves a cell empty.
    pub cells: Vec<Option<Panel>>,
    /// An error-against-width panel drawn as a full-width row under the grid.
    pub convergence: Option<Panel>,
}

/// Predicted exponents by quantity name, for the dashed reference lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predictions {
    /// Exponent of a quantity's size (RMS or |value|).
    pub size: HashMap<String, f64>,
    /// Exponent of the size of a quantity's change since step 0.
    pub delta: HashMap<String, f64>,
}

/// The curve of one quantity from per-seed values `series[s][w]`: seed mean and range at
/// every width where some seed has a positive value.
fn curve_from_series(widths: &[usize], series: &[Vec<Option<f64>>]) -> Vec<CurvePoint> {
    widths
        .iter()
        .enumerate()
        .filter_map(|(w, &width)| {
            let values: Vec<f64> = series
                .iter()
                .filter_map(|row| row.get(w).copied().flatten())
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect();
            let center = summarize(values.iter().map(|&v| Some(v))).mean;
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(0.0, f64::max);
            (!values.is_empty()).then_some(CurvePoint {
                width,
                center,
                low,
                high,
            })
        })
        .collect()
}

/// The coordinate-check figure of a sweep: one column per SGD step; the first row the
/// sizes of every quantity, the second (when there are steps after 0) the sizes of their
/// changes since step 0. A vector's line is its RMS averaged over seeds, a scalar's its
/// root mean square over seeds (what their slopes are fitted to); the band is the range
/// over seeds. Quantities that are exactly zero, or never produced a number, are listed
/// as omitted.
pub fn coordinate_check_figure(
    title: &str,
    result: &SweepResult,
    stats: &[QuantityStats],
    predictions: &Predictions,
) -> Figure {
    let steps: BTreeSet<Option<usize>> = stats.iter().map(|s| s.quantity.step).collect();
    let columns = steps.len().max(1);
    let any_delta = stats.iter().any(|s| s.delta.is_some());
    let mut cells = Vec::new();
    for delta in [false, true] {
        if delta && !any_delta {
            break;
        }
        for step in &steps {
            let mut panel = Panel {
                title: match (step, delta) {
                    (Some(t), false) => format!("step {t}"),
                    (Some(t), true) => format!("step {t}: change since step 0"),
                    (None, false) => "values".to_string(),
                    (None, true) => "changes".to_string(),
                },
                y_label: if delta {
                    "size of v_t - v_0".to_string()
                } else {
                    "size".to_string()
                },
                curves: Vec::new(),
                omitted: Vec::new(),
            };
            for (q, s) in stats.iter().enumerate() {
                if s.quantity.step != *step || (delta && s.quantity.base.is_none()) {
                    continue;
                }
                let pick: fn(&Measurement) -> Option<f64> =
                    if delta { |m| m.delta } else { |m| m.size };
                let series = result.series(q, pick);
                let mut points = curve_from_series(&result.widths, &series);
                if s.quantity.kind == Kind::Scalar {
                    // The center a scalar's slope is fitted to: its RMS over seeds.
                    let rms = rms_errors(&series, result.widths.len(), 0.0);
                    for p in &mut points {
                        if let Some(Some(r)) = result
                            .widths
                            .iter()
                            .position(|&n| n == p.width)
                            .map(|w| rms[w])
                        {
                            p.center = r;
                        }
                    }
                }
                let name = &s.quantity.name;
                if points.is_empty() {
                    let fit = if delta {
                        s.delta_fit.as_ref()
                    } else {
                        Some(&s.size_fit)
                    };
                    let why = match fit.map(|f| f.status()) {
                        Some("exactly_zero") => "≡ 0",
                        _ => "no data",
                    };
                    panel.omitted.push(format!("{name} {why}"));
                    continue;
                }
                let table = if delta {
                    &predictions.delta
                } else {
                    &predictions.size
                };
                panel.curves.push(Curve {
                    legend: s.quantity.family.clone().unwrap_or_else(|| name.clone()),
                    quantity: name.clone(),
                    points,
                    predicted_slope: table.get(name).copied(),
                });
            }
            // Step 0 has no change: leave the cell empty rather than draw empty axes.
            let empty = delta && panel.curves.is_empty() && panel.omitted.is_empty();
            cells.push((!empty).then_some(panel));
        }
    }
    Figure {
        title: title.to_string(),
        columns,
        cells,
        convergence: None,
    }
}

/// An error-against-width panel: for every scalar quantity with a known limit, the RMS
/// over seeds of (value − limit) at each width, with a band from the leave-one-seed-out
/// RMS errors (the spread the rate's jackknife interval comes from), and an optional
/// predicted rate (e.g. −1/2) per quantity name.
pub fn convergence_panel(
    result: &SweepResult,
    limits: &HashMap<String, f64>,
    predicted_rates: &HashMap<String, f64>,
) -> Option<Panel> {
    let mut panel = Panel {
        title: "convergence to the infinite-width limit".to_string(),
        y_label: "RMS of finite - limit".to_string(),
        curves: Vec::new(),
        omitted: Vec::new(),
    };
    let widths = result.widths.len();
    for (q, quantity) in result.quantities.iter().enumerate() {
        let Some(&limit) = limits.get(&quantity.name) else {
            continue;
        };
        let values = result.series(q, |m| m.value);
        let errors = rms_errors(&values, widths, limit);
        let leave_one_out: Vec<Vec<Option<f64>>> = (0..values.len())
            .filter(|_| values.len() > 1)
            .map(|skip| {
                let rest: Vec<Vec<Option<f64>>> = values
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, row)| row.clone())
                    .collect();
                rms_errors(&rest, widths, limit)
            })
            .collect();
        let points: Vec<CurvePoint> = result
            .widths
            .iter()
            .enumerate()
            .filter_map(|(w, &width)| {
                let e = errors[w].filter(|&e| e > 0.0)?;
                let others = leave_one_out
                    .iter()
                    .filter_map(|row| row[w])
                    .filter(|&x| x > 0.0);
                let (low, high) = others.fold((e, e), |(lo, hi), x| (lo.min(x), hi.max(x)));
                Some(CurvePoint {
                    width,
                    center: e,
                    low,
                    high,
                })
            })
            .collect();
        if points.is_empty() {
            panel.omitted.push(format!("{} no error", quantity.name));
            continue;
        }
        panel.curves.push(Curve {
            legend: quantity.name.clone(),
            quantity: quantity.name.clone(),
            points,
            predicted_slope: predicted_rates.get(&quantity.name).copied(),
        });
    }
    (!panel.curves.is_empty() || !panel.omitted.is_empty()).then_some(panel)
}

/// At most this many panels side by side; further panels wrap to new rows.
pub const MAX_COLUMNS: usize = 3;
const PANEL_W: u32 = 470;
const PANEL_H: u32 = 390;
const TITLE_H: u32 = 60;
const LEGEND_W: u32 = 290;
/// Dash and gap of the derived-slope lines, in pixels.
const DASH: (u32, u32) = (9, 6);

/// The style of every legend entry of a figure: the entry's (colour, marker), the same
/// in every panel.
pub type Styles = HashMap<String, (RGBColor, Marker)>;

impl Figure {
    /// Every panel in drawing order: the grid cells row by row, then the convergence
    /// panel.
    pub fn panels(&self) -> impl Iterator<Item = &Panel> {
        self.cells.iter().flatten().chain(self.convergence.as_ref())
    }

    /// The (columns, rows) the panels are drawn in: at most [`MAX_COLUMNS`] side by
    /// side, so that the figure grows in height, not in width, with the steps.
    pub fn grid(&self) -> (usize, usize) {
        let count = self.panels().count().max(1);
        let columns = self.columns.clamp(1, MAX_COLUMNS).min(count);
        (columns, count.div_ceil(columns))
    }

    /// Legend entries in order of first appearance, each with its style: entry k gets
    /// colour k mod 8 and marker k div 8 (see [`entry_style`]).
    pub fn legend(&self) -> Vec<(String, RGBColor, Marker)> {
        let mut names: Vec<&str> = Vec::new();
        for curve in self.panels().flat_map(|p| &p.curves) {
            if !names.contains(&curve.legend.as_str()) {
                names.push(&curve.legend);
            }
        }
        names
            .into_iter()
            .enumerate()
            .map(|(k, name)| {
                let (color, marker) = entry_style(k);
                (name.to_string(), color, marker)
            })
            .collect()
    }

    /// The names `--plot-only` can pick in this figure: quantities and legend entries.
    pub fn names(&self) -> BTreeSet<String> {
        let curves = self.panels().flat_map(|p| &p.curves);
        curves
            .flat_map(|c| [c.legend.clone(), c.quantity.clone()])
            .collect()
    }

    /// Keeps only the curves whose quantity or legend entry is in `names` (and the
    /// omitted quantities so named); a panel left with nothing is dropped.
    pub fn restrict(&mut self, names: &[String]) {
        let keep = |panel: &mut Panel| {
            panel
                .curves
                .retain(|c| names.contains(&c.legend) || names.contains(&c.quantity));
            panel.omitted.retain(|o| {
                let quantity = o.split(' ').next().unwrap_or("");
                names.iter().any(|n| n == quantity)
            });
            !panel.curves.is_empty() || !panel.omitted.is_empty()
        };
        for cell in &mut self.cells {
            if let Some(panel) = cell {
                if !keep(panel) {
                    *cell = None;
                }
            }
        }
        if let Some(panel) = &mut self.convergence {
            if !keep(panel) {
                self.convergence = None;
            }
        }
    }
}

/// Checks `--plot-only` names against the quantity and family names of a program,
/// before the run: an unknown name is an error that lists the available ones.
pub fn check_only(only: &[String], available: &BTreeSet<String>) -> Result<(), String> {
    let unknown: Vec<&str> = only
        .iter()
        .filter(|n| !available.contains(*n))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let list: Vec<&str> = available.iter().map(String::as_str).collect();
    Err(format!(
        "`--plot-only`: no quantity or family named {}; available: {}",
        unknown.join(", "),
        list.join(", ")
    ))
}

impl Plot for Figure {
    fn default_size(&self) -> (u32, u32) {
        let (columns, rows) = self.grid();
        (
            PANEL_W * columns as u32 + LEGEND_W,
            TITLE_H + PANEL_H * rows as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (width, height) = root.dim_in_pixel();
        let (columns, rows) = self.grid();
        let legend = self.legend();
        let styles: Styles = legend
            .iter()
            .map(|(name, color, marker)| (name.clone(), (*color, *marker)))
            .collect();
        let (top, body) = root.split_vertically(TITLE_H.min(height / 5));
        let title_font = style::fitted_font(&self.title, width.saturating_sub(28), TITLE_FONT);
        top.draw(&Text::new(
            self.title.clone(),
            (14, 14),
            (FONT, title_font).into_font().color(&BLACK),
        ))
        .map_err(err)?;
        let legend_w = legend_width(width);
        let (plots, legend_area) = body.split_horizontally(width - legend_w);
        let areas = plots.split_evenly((rows, columns));
        for (area, panel) in areas.iter().zip(self.panels()) {
            draw_panel(root, area, panel, &styles, "width n")?;
        }
        let derived = self
            .panels()
            .flat_map(|p| &p.curves)
            .any(|c| c.predicted_slope.is_some());
        draw_legend(&legend_area, &legend, derived, self.convergence.is_some())
    }
}

/// The width of the legend column of a figure `width` pixels wide (at most 2/5 of it).
pub fn legend_width(width: u32) -> u32 {
    LEGEND_W.min(width * 2 / 5)
}

/// The caption of a panel and the note of what it does not draw, above its chart.
fn draw_caption<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    area.draw(&Text::new(
        panel.title.clone(),
        (12, 8),
        (FONT, CAPTION_FONT).into_font().color(&BLACK),
    ))
    .map_err(err)?;
    if !panel.omitted.is_empty() {
        // About 9 px per character at 14 px: keep the note inside the panel.
        let room = (area.dim_in_pixel().0 as usize).saturating_sub(24) / 9;
        let mut note = format!("not drawn: {}", panel.omitted.join(", "));
        if note.chars().count() > room.max(12) {
            note = note.chars().take(room.max(12) - 1).collect::<String>() + "…";
        }
        area.draw(&Text::new(
            note,
            (12, 36),
            (FONT, TICK_FONT).into_font().color(&NOTE),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Draws one panel in `area`: the light integer grid, then every measured curve (band,
/// line, markers), then every derived slope on top of them. Markers are drawn on `root`
/// at the backend coordinates of their points.
fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    styles: &Styles,
    x_label: &str,
) -> Result<(), String> {
    let log = |v: f64| v.log2();
    let xs: Vec<f64> = panel
        .curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| log(p.width as f64)))
        .collect();
    let ys: Vec<f64> = panel
        .curves
        .iter()
        .flat_map(|c| c.points.iter().flat_map(|p| [log(p.low), log(p.high)]))
        .filter(|y| y.is_finite())
        .collect();
    let (x0, x1) = padded_range(&xs, 1.0, 0.3);
    // At least four octaves tall, so that ticks fall on integer powers of 2.
    let (y0, y1) = padded_range(&ys, 4.0, 0.5);

    let (caption_area, chart_area) =
        area.split_vertically(if panel.omitted.is_empty() { 38 } else { 62 });
    draw_caption(&caption_area, panel)?;
    let mut chart = ChartBuilder::on(&chart_area)
        .margin_left(8)
        .margin_right(18)
        .margin_bottom(6)
        .x_label_area_size(58)
        .y_label_area_size(84)
        .build_cartesian_2d(
            Log2Axis::new(x0, x1, style::tick_budget(area.dim_in_pixel().0)),
            Log2Axis::new(y0, y1, 7),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{}", 2f64.powf(*x).round()))
        .y_label_formatter(&|y| style::power_of_two_label(*y))
        .x_desc(x_label)
        .y_desc(panel.y_label.as_str())
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .bold_line_style(GRID)
        .light_line_style(WHITE.mix(0.0))
        .axis_style(RGBColor(110, 110, 110))
        .draw()
        .map_err(err)?;

    let style_of = |curve: &Curve| {
        styles
            .get(&curve.legend)
            .copied()
            .unwrap_or((BLACK, Marker::Circle))
    };
    let centers = |curve: &Curve| -> Vec<(f64, f64)> {
        curve
            .points
            .iter()
            .map(|p| (log(p.width as f64), log(p.center)))
            .collect()
    };
    for curve in &panel.curves {
        let (color, marker) = style_of(curve);
        let pts = centers(curve);
        // The seed band, as a translucent polygon (top edge forward, bottom back).
        if curve.points.len() >= 2 {
            let mut outline: Vec<(f64, f64)> = curve
                .points
                .iter()
                .map(|p| (log(p.width as f64), log(p.high)))
                .collect();
            outline.extend(
                curve
                    .points
                    .iter()
                    .rev()
                    .map(|p| (log(p.width as f64), log(p.low))),
            );
            chart
                .draw_series(std::iter::once(Polygon::new(outline, color.mix(0.12))))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?;
        for p in &pts {
            draw_marker(root, marker, chart.backend_coord(p), 4, color)?;
        }
    }
    // Derived slopes last, so that no measured curve hides them.
    for curve in &panel.curves {
        let (color, _) = style_of(curve);
        let pts = centers(curve);
        if let (Some(slope), Some(&(px, py))) = (curve.predicted_slope, pts.first()) {
            if let Some(segment) = clip_line((px, py), slope, (x0, x1), (y0, y1)) {
                chart
                    .draw_series(DashedLineSeries::new(
                        segment,
                        DASH.0,
                        DASH.1,
                        color.stroke_width(2),
                    ))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// The legend: one row per entry with its colour and marker, the derived-slope entry,
/// then how to read the plot.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    legend: &[(String, RGBColor, Marker)],
    derived: bool,
    convergence: bool,
) -> Result<(), String> {
    let row = 24;
    let mut y = 24;
    let text = |s: &str, y: i32, color: &RGBColor| {
        area.draw(&Text::new(
            s.to_string(),
            (54, y - 11),
            (FONT, LEGEND_FONT).into_font().color(color),
        ))
        .map_err(err)
    };
    for (name, color, marker) in legend {
        area.draw(&PathElement::new(
            vec![(10, y), (46, y)],
            color.stroke_width(2),
        ))
        .map_err(err)?;
        draw_marker(area, *marker, (28, y), 4, *color)?;
        text(name, y, &BLACK)?;
        y += row;
    }
    if derived {
        let grey = RGBColor(60, 60, 60);
        for x in [10, 25, 40] {
            area.draw(&PathElement::new(
                vec![(x, y), (x + 6, y)],
                grey.stroke_width(2),
            ))
            .map_err(err)?;
        }
        text("derived slope (dashed)", y, &BLACK)?;
        y += row;
    }
    let mut notes = vec![
        "line: mean over seeds",
        "  (scalars: RMS over seeds)",
        "band: range over seeds",
    ];
    if derived {
        notes.extend(["dashed: derived slope,", "  through the first point"]);
    }
    if convergence {
        notes.extend(["convergence band: RMS error", "  leaving one seed out"]);
    }
    y += 8;
    for note in notes {
        area.draw(&Text::new(
            note,
            (10, y),
            (FONT, TICK_FONT).into_font().color(&NOTE),
        ))
        .map_err(err)?;
        y += 20;
    }
    Ok(())
}

/// The range of `values` padded by `pad` on both sides and widened to at least `min_span`;
/// a default range when there are no values.
fn padded_range(values: &[f64], min_span: f64, pad: f64) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, min_span);
    }
    let (mut lo, mut hi) = (lo - pad, hi + pad);
    if hi - lo < min_span {
        let mid = 0.5 * (lo + hi);
        lo = mid - min_span / 2.0;
        hi = mid + min_span / 2.0;
    }
    (lo, hi)
}

/// The part inside the box `x0..x1 × y0..y1` of the line through `start` with `slope`,
/// from `start` to the right edge.
fn clip_line(
    start: (f64, f64),
    slope: f64,
    (_, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<Vec<(f64, f64)>> {
    if !slope.is_finite() {
        return None;
    }
    let (sx, sy) = start;
    let mut end_x = x1;
    // Stop where the line leaves through the top or the bottom.
    if slope > 0.0 {
        end_x = end_x.min(sx + (y1 - sy) / slope);
    } else if slope < 0.0 {
        end_x = end_x.min(sx + (y0 - sy) / slope);
    }
    (end_x > sx).then(|| vec![(sx, sy), (end_x, sy + slope * (end_x - sx))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_clipping() {
        assert_eq!(style::power_of_two_label(-3.0), "2⁻³");
        assert_eq!(style::power_of_two_label(10.0), "2¹⁰");
        let seg = clip_line((6.0, 0.0), -1.0, (5.0, 13.0), (-4.0, 2.0)).expect("segment");
        assert_eq!(seg[1], (10.0, -4.0));
        let flat = clip_line((6.0, 0.0), 0.0, (5.0, 13.0), (-4.0, 2.0)).expect("segment");
        assert_eq!(flat[1], (13.0, 0.0));
        assert!(clip_line((6.0, 0.0), f64::NAN, (5.0, 13.0), (-4.0, 2.0)).is_none());
        assert_eq!(padded_range(&[], 4.0, 0.5), (0.0, 4.0));
        assert_eq!(padded_range(&[1.0, 2.0], 4.0, 0.5), (-0.5, 3.5));
    }
}
