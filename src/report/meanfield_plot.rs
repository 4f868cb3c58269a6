//! Figures of mean-field runs (SVG): coordinate histograms of the particles at time T for
//! several N (one panel per program or β, as in De Bortoli et al. 2020, Fig. 1),
//! trajectories of independent runs (their Fig. 2), and the coupling error against N on
//! log–log axes with the derived rate drawn dashed on top.
//!
//! Figures are plain data ([`HistogramPanel`], [`TrajectoryPanel`], [`ErrorPanel`]) drawn
//! by one renderer each. Colours come from the Okabe–Ito palette (distinguishable under
//! the common colour-vision deficiencies), the same series index the same colour in
//! every panel; grids are light so the data stays in front.

use super::style::{
    self, err, series_color, Log2Axis, Plot, AXIS_FONT, CAPTION_FONT, FONT, GRID, LEGEND_FONT,
    TICK_FONT, TITLE_FONT,
};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;

const PANEL_W: u32 = 500;
const PANEL_H: u32 = 400;
const TITLE_H: u32 = 56;
/// At most this many panels side by side; further panels wrap to new rows.
const MAX_COLUMNS: usize = 3;
/// Dash and gap of derived lines and reference densities, in pixels.
const DASH: (u32, u32) = (9, 6);

/// Histograms of one coordinate for several series (e.g. N = 64, 512, 4096), with an
/// optional reference density drawn on top.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPanel {
    /// The caption.
    pub title: String,
    /// (legend, values) per series.
    pub series: Vec<(String, Vec<f64>)>,
    /// A reference density (legend, points (x, density)), drawn dashed.
    pub reference: Option<(String, Vec<(f64, f64)>)>,
}

/// Paths of several runs against time.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectoryPanel {
    /// The caption.
    pub title: String,
    /// The y-axis label.
    pub y_label: String,
    /// One path per run: points (t, value).
    pub paths: Vec<Vec<(f64, f64)>>,
}

/// A measured series: its legend and points (N, mean, standard error).
pub type MeasuredSeries = (String, Vec<(f64, f64, f64)>);

/// A measured error against N with standard errors, and the derived rate.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorPanel {
    /// The caption.
    pub title: String,
    /// (legend, points (N, mean, se)) per measured series.
    pub series: Vec<MeasuredSeries>,
    /// (legend, points (N, value)) of the derived rate, drawn dashed on top.
    pub derived: Vec<(String, Vec<(f64, f64)>)>,
}

/// The panels of a mean-field figure.
#[derive(Clone, Copy, Debug)]
pub enum MfPanels<'a> {
    /// Coordinate histograms (De Bortoli et al. 2020, Fig. 1).
    Histograms(&'a [HistogramPanel]),
    /// Paths of independent runs (their Fig. 2).
    Trajectories(&'a [TrajectoryPanel]),
    /// Errors against N with the derived rates.
    Errors(&'a [ErrorPanel]),
}

/// A mean-field figure: a title over panels in at most `columns` (and at most three)
/// columns; rows grow with the panels.
#[derive(Clone, Copy, Debug)]
pub struct MfFigure<'a> {
    /// The title line.
    pub title: &'a str,
    /// Columns requested (clamped to 1..=3 and to the number of panels).
    pub columns: usize,
    /// The panels.
    pub panels: MfPanels<'a>,
}

impl MfFigure<'_> {
    fn count(&self) -> usize {
        match self.panels {
            MfPanels::Histograms(p) => p.len(),
            MfPanels::Trajectories(p) => p.len(),
            MfPanels::Errors(p) => p.len(),
        }
    }

    /// (columns, rows) of the panel grid.
    fn grid(&self) -> (usize, usize) {
        let count = self.count().max(1);
        let columns = self.columns.clamp(1, MAX_COLUMNS).min(count);
        (columns, count.div_ceil(columns))
    }
}

impl Plot for MfFigure<'_> {
    fn default_size(&self) -> (u32, u32) {
        let (columns, rows) = self.grid();
        (PANEL_W * columns as u32, TITLE_H + PANEL_H * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (columns, rows) = self.grid();
        let (top, body) = root.split_vertically(TITLE_H.min(root.dim_in_pixel().1 / 5));
        let width = root.dim_in_pixel().0.saturating_sub(28);
        let title_font = style::fitted_font(self.title, width, TITLE_FONT);
        top.draw(&Text::new(
            self.title.to_string(),
            (14, 12),
            (FONT, title_font).into_font().color(&BLACK),
        ))
        .map_err(err)?;
        let areas = body.split_evenly((rows, columns));
        match self.panels {
            MfPanels::Histograms(panels) => {
                for (area, panel) in areas.iter().zip(panels) {
                    draw_histogram(area, panel)?;
                }
            }
            MfPanels::Trajectories(panels) => {
                let range = shared_range(panels);
                for (area, panel) in areas.iter().zip(panels) {
                    draw_trajectories(area, panel, range)?;
                }
            }
            MfPanels::Errors(panels) => {
                for (area, panel) in areas.iter().zip(panels) {
                    draw_errors(area, panel)?;
                }
            }
        }
        Ok(())
    }
}

/// The light grid and readable labels every mean-field chart shares.
fn configure<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(GRID)
        .axis_style(RGBColor(110, 110, 110))
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(err)
}

/// The series legend box of a chart, in the figure's font.
fn draw_series_labels<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font((FONT, LEGEND_FONT))
        .draw()
        .map_err(err)
}

/// Bin edges shared by every series of a panel: 40 bins over the 0.5%–99.5% range of
/// the pooled values (the extreme tails would squeeze the bulk into a few bins).
fn bins(panel: &HistogramPanel) -> Option<(f64, f64, usize)> {
    let mut all: Vec<f64> = panel
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|x| x.is_finite())
        .collect();
    if all.is_empty() {
        return None;
    }
    all.sort_by(f64::total_cmp);
    let at = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize];
    let (mut lo, mut hi) = (at(0.005), at(0.995));
    if hi <= lo {
        lo -= 0.5;
        hi += 0.5;
    }
    let pad = 0.05 * (hi - lo);
    Some((lo - pad, hi + pad, 40))
}

/// The density histogram of `values` on the bins, as a step outline.
fn density_steps(values: &[f64], lo: f64, hi: f64, k: usize) -> Vec<(f64, f64)> {
    let width = (hi - lo) / k as f64;
    let mut counts = vec![0usize; k];
    for &v in values.iter().filter(|v| v.is_finite()) {
        if v >= lo && v < hi {
            counts[(((v - lo) / width) as usize).min(k - 1)] += 1;
        }
    }
    let total = values.len().max(1) as f64;
    let mut pts = Vec::with_capacity(2 * k + 2);
    pts.push((lo, 0.0));
    for (i, c) in counts.iter().enumerate() {
        let d = *c as f64 / (total * width);
        pts.push((lo + i as f64 * width, d));
        pts.push((lo + (i + 1) as f64 * width, d));
    }
    pts.push((hi, 0.0));
    pts
}

/// A histogram panel: one density outline per series, the reference density dashed on
/// top.
fn draw_histogram<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &HistogramPanel,
) -> Result<(), String> {
    let Some((lo, hi, k)) = bins(panel) else {
        return Ok(());
    };
    let steps: Vec<Vec<(f64, f64)>> = panel
        .series
        .iter()
        .map(|(_, v)| density_steps(v, lo, hi, k))
        .collect();
    let top = steps
        .iter()
        .flatten()
        .map(|p| p.1)
        .chain(panel.reference.iter().flat_map(|r| r.1.iter().map(|p| p.1)))
        .fold(0.0f64, f64::max)
        .max(1e-12)
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, CAPTION_FONT))
        .margin(10)
        .x_label_area_size(58)
        .y_label_area_size(84)
        .build_cartesian_2d(lo..hi, 0.0..top)
        .map_err(err)?;
    configure(&mut chart, "coordinate 1 at T", "density")?;
    for (s, ((label, _), pts)) in panel.series.iter().zip(&steps).enumerate() {
        let color = series_color(s);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if let Some((label, pts)) = &panel.reference {
        chart
            .draw_series(DashedLineSeries::new(
                pts.iter().copied(),
                DASH.0,
                DASH.1,
                BLACK.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{label} (dashed)"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
    }
    draw_series_labels(&mut chart)
}

/// One y range for all trajectory panels, so that collapsing and spreading compare at a
/// glance.
fn shared_range(panels: &[TrajectoryPanel]) -> (f64, f64) {
    let (ylo, yhi) = panels
        .iter()
        .flat_map(|p| p.paths.iter().flatten())
        .filter(|p| p.1.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    if ylo < yhi {
        let pad = 0.05 * (yhi - ylo);
        (ylo - pad, yhi + pad)
    } else {
        (-1.0, 1.0)
    }
}

/// A trajectory panel: one path per run, coloured by run.
fn draw_trajectories<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &TrajectoryPanel,
    (ylo, yhi): (f64, f64),
) -> Result<(), String> {
    let tmax = panel
        .paths
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, CAPTION_FONT))
        .margin(10)
        .x_label_area_size(58)
        .y_label_area_size(84)
        .build_cartesian_2d(0.0..tmax, ylo..yhi)
        .map_err(err)?;
    configure(&mut chart, "time t = n γ_{α,β}(N)", &panel.y_label)?;
    for (r, path) in panel.paths.iter().enumerate() {
        chart
            .draw_series(LineSeries::new(
                path.iter().copied(),
                series_color(r).stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// An error panel on log2–log2 axes: measured means with ±2 SE bars, then the derived
/// rates dashed on top, each in the colour of the series it belongs to (same index).
fn draw_errors<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &ErrorPanel,
) -> Result<(), String> {
    let logs = |points: &mut dyn Iterator<Item = (f64, f64)>| -> Vec<(f64, f64)> {
        points
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
            .map(|p| (p.0.log2(), p.1.log2()))
            .collect()
    };
    let pts = logs(
        &mut panel
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|p| (p.0, p.1)))
            .chain(panel.derived.iter().flat_map(|(_, v)| v.iter().copied())),
    );
    if pts.is_empty() {
        return Ok(());
    }
    let (xlo, xhi, ylo, yhi) = pts.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |a, p| (a.0.min(p.0), a.1.max(p.0), a.2.min(p.1), a.3.max(p.1)),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, CAPTION_FONT))
        .margin(10)
        .x_label_area_size(58)
        .y_label_area_size(84)
        .build_cartesian_2d(
            Log2Axis::new(
                xlo - 0.3,
                xhi + 0.3,
                style::tick_budget(area.dim_in_pixel().0),
            ),
            Log2Axis::new(ylo - 0.5, yhi + 0.5, 7),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{}", 2f64.powf(*x).round()))
        .y_label_formatter(&|y| style::power_of_two_label(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(GRID)
        .axis_style(RGBColor(110, 110, 110))
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .x_desc("particles N")
        .y_desc("error")
        .draw()
        .map_err(err)?;
    for (s, (label, points)) in panel.series.iter().enumerate() {
        let color = series_color(s);
        let line = logs(&mut points.iter().map(|p| (p.0, p.1)));
        chart
            .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(err)?;
        let bars = points
            .iter()
            .filter(|p| p.0 > 0.0 && p.1 > 2.0 * p.2)
            .map(|p| {
                let x = p.0.log2();
                PathElement::new(
                    vec![(x, (p.1 - 2.0 * p.2).log2()), (x, (p.1 + 2.0 * p.2).log2())],
                    color.stroke_width(1),
                )
            });
        chart.draw_series(bars).map_err(err)?;
    }
    for (s, (label, points)) in panel.derived.iter().enumerate() {
        let color = series_color(s);
        let line = logs(&mut points.iter().copied());
        chart
            .draw_series(DashedLineSeries::new(
                line,
                DASH.0,
                DASH.1,
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{label} (dashed)"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 5, y), (x + 9, y)], color.stroke_width(2))
            });
    }
    draw_series_labels(&mut chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colours_in(svg: &str) -> std::collections::BTreeSet<String> {
        svg.match_indices("stroke=\"#")
            .map(|(i, _)| svg[i + 8..i + 15].to_string())
            .collect()
    }

    #[test]
    fn histogram_series_get_distinct_colours_and_the_reference_is_dashed() {
        let panel = HistogramPanel {
            title: "beta = 1/2".into(),
            series: (0..3)
                .map(|s| {
                    let v = (0..500)
                        .map(|i| (i as f64 / 500.0) + s as f64 * 0.1)
                        .collect();
                    (format!("N = {}", 64 << (3 * s)), v)
                })
                .collect(),
            reference: Some(("limit".into(), vec![(0.0, 1.0), (1.0, 1.0)])),
        };
        let panels = [panel.clone(), panel];
        let figure = MfFigure {
            title: "t",
            columns: 2,
            panels: MfPanels::Histograms(&panels),
        };
        let svg = style::render_svg(&figure, None).unwrap();
        let colours = colours_in(&svg);
        for i in 0..3 {
            let c = series_color(i);
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            assert!(colours.contains(&hex), "{hex} missing from {colours:?}");
        }
        assert!(svg.contains("stroke-dasharray") || svg.matches("<polyline").count() > 6);
        assert!(svg.contains("width=\"1000\""), "two columns of 500 px");
    }

    #[test]
    fn error_panels_draw_the_derived_rate_after_the_data() {
        let panel = ErrorPanel {
            title: "error".into(),
            series: vec![(
                "eq. 6".into(),
                vec![
                    (64.0, 0.1, 0.01),
                    (128.0, 0.05, 0.005),
                    (256.0, 0.025, 0.002),
                ],
            )],
            derived: vec![("N^-1".into(), vec![(64.0, 0.1), (256.0, 0.025)])],
        };
        let panels = [panel];
        let figure = MfFigure {
            title: "rates",
            columns: 1,
            panels: MfPanels::Errors(&panels),
        };
        let svg = style::render_svg(&figure, None).unwrap();
        let data_at = svg
            .find("<polyline fill=\"none\" opacity=\"1\" stroke=\"#0072B2\"")
            .unwrap();
        let dashed_at = svg.find("(dashed)").unwrap();
        // The legend sample of the derived line comes after its dashes, which come after
        // the data line: the last blue polyline before the legend is a short dash.
        let before_legend = &svg[..dashed_at];
        let last_blue = before_legend.rfind("stroke=\"#0072B2\"").unwrap();
        assert!(last_blue > data_at, "the derived line is drawn on top");
    }
}
