//! SVG plots: coordinate-check panels (size against width on log2 axes, one line per
//! quantity with its band over seeds, optionally the predicted slope beside it) and an
//! error-against-width convergence panel.
//!
//! A [`Figure`] is plain data, built from a sweep by [`coordinate_check_figure`] and
//! [`convergence_panel`] (or by hand), then drawn by [`render_svg`]. Predicted slopes
//! come from the caller ([`Predictions`]): the simulation alone does not know them.

use crate::check::stats::{rms_errors, summarize};
use crate::check::QuantityStats;
use crate::ir::{Kind, Role};
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

/// The shape marking a curve's points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Marker {
    /// Forward quantities.
    Circle,
    /// Backward quantities (gradients).
    Triangle,
    /// Everything else (loss derivatives, errors).
    Square,
}

/// One line of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    /// The legend entry this curve belongs to (a family such as `h2`); curves with the
    /// same legend share a color and a marker across panels.
    pub legend: String,
    /// The marker.
    pub marker: Marker,
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

/// The marker for a role.
fn marker_for(role: Role) -> Marker {
    match role {
        Role::Forward => Marker::Circle,
        Role::Backward => Marker::Triangle,
        Role::Loss | Role::Auxiliary => Marker::Square,
    }
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
                    marker: marker_for(s.quantity.role),
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
            marker: Marker::Square,
            points,
            predicted_slope: predicted_rates.get(&quantity.name).copied(),
        });
    }
    (!panel.curves.is_empty() || !panel.omitted.is_empty()).then_some(panel)
}

/// Distinguishable colors (Tableau 10, then eight darker or warmer ones), cycled by
/// legend entry; a 3-hidden-layer network has 14 families.
const PALETTE: [RGBColor; 18] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(128, 0, 0),
    RGBColor(0, 128, 128),
    RGBColor(0, 0, 128),
    RGBColor(184, 134, 11),
    RGBColor(85, 107, 47),
    RGBColor(250, 128, 114),
    RGBColor(106, 61, 154),
];

const PANEL_WIDTH: u32 = 380;
const PANEL_HEIGHT: u32 = 320;
const LEGEND_WIDTH: u32 = 190;
const TITLE_HEIGHT: u32 = 44;
const FONT: &str = "sans-serif";

/// Draws `figure` as SVG text.
pub fn render_svg(figure: &Figure) -> Result<String, String> {
    let columns = figure.columns.max(1);
    let rows = figure.cells.len().div_ceil(columns).max(1);
    let extra = u32::from(figure.convergence.is_some());
    let width = PANEL_WIDTH * columns as u32 + LEGEND_WIDTH;
    let height = TITLE_HEIGHT + PANEL_HEIGHT * (rows as u32 + extra);

    // Legend entries in order of first appearance, each with its color and marker.
    let mut legend: Vec<(String, Marker)> = Vec::new();
    let all_panels = figure
        .cells
        .iter()
        .flatten()
        .chain(figure.convergence.as_ref());
    for panel in all_panels {
        for curve in &panel.curves {
            if !legend.iter().any(|(name, _)| *name == curve.legend) {
                legend.push((curve.legend.clone(), curve.marker));
            }
        }
    }
    let colors: HashMap<String, RGBColor> = legend
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), PALETTE[i % PALETTE.len()]))
        .collect();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, body) = root.split_vertically(TITLE_HEIGHT);
        top.draw(&Text::new(
            figure.title.clone(),
            (12, 12),
            (FONT, 20).into_font().color(&BLACK),
        ))
        .map_err(|e| e.to_string())?;
        let (plots, legend_area) = body.split_horizontally(PANEL_WIDTH * columns as u32);
        let (grid, bottom) = plots.split_vertically(PANEL_HEIGHT * rows as u32);
        let areas = grid.split_evenly((rows, columns));
        for (area, cell) in areas.iter().zip(&figure.cells) {
            if let Some(panel) = cell {
                draw_panel(area, panel, &colors, "width n")?;
            }
        }
        if let Some(panel) = &figure.convergence {
            // Two grid columns wide at most: a wider panel only stretches the curves.
            let span = PANEL_WIDTH * columns.min(2) as u32;
            let (left, _) = bottom.split_horizontally(span);
            draw_panel(&left, panel, &colors, "width n")?;
        }
        draw_legend(&legend_area, &legend, &colors, figure.convergence.is_some())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Checks, before a long run, that `path` can be written: it is opened for writing
/// without truncating it, and removed again if it did not exist before.
pub fn check_writable(path: &std::path::Path) -> Result<(), String> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    if !existed {
        std::fs::remove_file(path).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes `figure` as an SVG file.
pub fn write_svg(figure: &Figure, path: &std::path::Path) -> Result<(), String> {
    let svg = render_svg(figure)?;
    std::fs::write(path, svg).map_err(|e| e.to_string())
}

/// `2^k` with a superscript exponent, for log2 tick labels.
fn power_of_two_label(k: f64) -> String {
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

/// Draws one panel in `area`.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    panel: &Panel,
    colors: &HashMap<String, RGBColor>,
    x_label: &str,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
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
    // At least four octaves tall, so that tick marks fall on integer powers of 2.
    let (y0, y1) = padded_range(&ys, 4.0, 0.5);

    let (caption_area, chart_area) =
        area.split_vertically(if panel.omitted.is_empty() { 26 } else { 42 });
    caption_area
        .draw(&Text::new(
            panel.title.clone(),
            (56, 6),
            (FONT, 15).into_font().color(&BLACK),
        ))
        .map_err(err)?;
    if !panel.omitted.is_empty() {
        let mut note = format!("not drawn: {}", panel.omitted.join(", "));
        if note.chars().count() > 58 {
            note = note.chars().take(55).collect::<String>() + "…";
        }
        caption_area
            .draw(&Text::new(
                note,
                (56, 24),
                (FONT, 11).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(err)?;
    }
    let mut chart = ChartBuilder::on(&chart_area)
        .margin_left(6)
        .margin_right(14)
        .margin_bottom(4)
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let x_ticks = (x1 - x0).round() as usize + 1;
    chart
        .configure_mesh()
        .x_labels(x_ticks.clamp(2, 12))
        .y_labels(((y1 - y0).round() as usize + 1).clamp(2, 10))
        .x_label_formatter(&|x| format!("{}", 2f64.powf(*x).round()))
        .y_label_formatter(&|y| {
            if (y - y.round()).abs() < 1e-6 {
                power_of_two_label(*y)
            } else {
                format!("{:.2}", 2f64.powf(*y))
            }
        })
        .x_desc(x_label)
        .y_desc(panel.y_label.as_str())
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)?;

    for curve in &panel.curves {
        let color = colors.get(&curve.legend).copied().unwrap_or(BLACK);
        let pts: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|p| (log(p.width as f64), log(p.center)))
            .collect();
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
                .draw_series(std::iter::once(Polygon::new(outline, color.mix(0.15))))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(err)?;
        let style = color.filled();
        match curve.marker {
            Marker::Circle => chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, style)))
                .map(|_| ()),
            Marker::Triangle => chart
                .draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 4, style)))
                .map(|_| ()),
            Marker::Square => chart
                .draw_series(
                    pts.iter()
                        .map(|&p| EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], style)),
                )
                .map(|_| ()),
        }
        .map_err(err)?;
        if let (Some(slope), Some(&(px, py))) = (curve.predicted_slope, pts.first()) {
            if let Some(segment) = clip_line((px, py), slope, (x0, x1), (y0, y1)) {
                chart
                    .draw_series(DashedLineSeries::new(
                        segment,
                        7,
                        5,
                        color.mix(0.9).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

/// The legend: one row per entry with its color and marker, then how to read the plot.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    legend: &[(String, Marker)],
    colors: &HashMap<String, RGBColor>,
    convergence: bool,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<_>| e.to_string();
    let row = 19;
    let mut y = 30;
    for (name, marker) in legend {
        let color = colors.get(name).copied().unwrap_or(BLACK);
        area.draw(&PathElement::new(
            vec![(12, y), (42, y)],
            color.stroke_width(2),
        ))
        .map_err(err)?;
        let at = (27, y);
        match marker {
            Marker::Circle => area.draw(&Circle::new(at, 3, color.filled())),
            Marker::Triangle => area.draw(&TriangleMarker::new(at, 4, color.filled())),
            Marker::Square => area.draw(&Rectangle::new(
                [(at.0 - 3, at.1 - 3), (at.0 + 3, at.1 + 3)],
                color.filled(),
            )),
        }
        .map_err(err)?;
        area.draw(&Text::new(
            name.clone(),
            (50, y - 7),
            (FONT, 13).into_font().color(&BLACK),
        ))
        .map_err(err)?;
        y += row;
    }
    let mut notes = vec![
        "● forward  ▲ backward  ■ other",
        "line: mean over seeds",
        "  (scalars: RMS over seeds)",
        "band: range over seeds",
        "dashed: predicted slope",
        "  through the first point",
    ];
    if convergence {
        notes.extend(["convergence band: RMS error", "  leaving one seed out"]);
    }
    y += 10;
    for note in notes {
        area.draw(&Text::new(
            note,
            (12, y),
            (FONT, 11).into_font().color(&RGBColor(70, 70, 70)),
        ))
        .map_err(err)?;
        y += 16;
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
        assert_eq!(power_of_two_label(-3.0), "2⁻³");
        assert_eq!(power_of_two_label(10.0), "2¹⁰");
        let seg = clip_line((6.0, 0.0), -1.0, (5.0, 13.0), (-4.0, 2.0)).expect("segment");
        assert_eq!(seg[1], (10.0, -4.0));
        let flat = clip_line((6.0, 0.0), 0.0, (5.0, 13.0), (-4.0, 2.0)).expect("segment");
        assert_eq!(flat[1], (13.0, 0.0));
        assert!(clip_line((6.0, 0.0), f64::NAN, (5.0, 13.0), (-4.0, 2.0)).is_none());
        assert_eq!(padded_range(&[], 4.0, 0.5), (0.0, 4.0));
        assert_eq!(padded_range(&[1.0, 2.0], 4.0, 0.5), (-0.5, 3.5));
    }
}
