//! The (α, β) phase diagram of a residual network with two symbolic exponents, drawn as
//! an SVG map (`tp scale --plot`).
//!
//! The map is the derivation itself evaluated on an exact rational grid: every grid point
//! gets the regime [`regime_at`] derives there. The regimes that hold on lines or points
//! (the SDE on α = 0, the linear ODE on α + β = 1, the neural ODE at (1, 0)) are hit
//! exactly because the grid's coordinates are rationals with a common denominator, so
//! they show as one-cell-wide bands instead of vanishing between samples.

use super::style::{
    err, Plot, AXIS_FONT, CAPTION_FONT, FONT, GRID, LEGEND_FONT, PALETTE, TICK_FONT,
};
use crate::depth::power::{regime_at, Counting, Regime};
use crate::exponent::Rational;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// The regime at each point of a square grid over two symbols.
#[derive(Clone, Debug)]
pub struct PhaseMap {
    /// The symbol on the horizontal axis.
    pub x: String,
    /// The symbol on the vertical axis.
    pub y: String,
    /// The grid's lower end, upper end and step on both axes.
    pub range: (f64, f64, f64),
    /// (x, y, regime) for every grid point.
    pub points: Vec<(f64, f64, Regime)>,
}

/// Why a phase map cannot be drawn.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhaseMapError {
    /// The program does not have exactly two free symbols.
    #[error("a phase diagram is drawn over two symbols; this program has {0}")]
    Symbols(usize),
}

/// Grid denominator: coordinates are k/DENOMINATOR, so lines with small rational
/// coefficients (α = 0, α + β = 1, β = 1) pass through grid points.
const DENOMINATOR: i64 = 40;
/// The map spans [LOW, HIGH] (in units of 1/DENOMINATOR) on both axes: −1/2 … 5/2, which
/// holds every boundary of the Cont–Rossier–Xu diagram with room on each side.
const LOW: i64 = -20;
const HIGH: i64 = 100;

/// Evaluates the derivation's regime on the grid over the two symbols `symbols`.
pub fn phase_map(counting: &Counting, symbols: &[String]) -> Result<PhaseMap, PhaseMapError> {
    let [x, y] = symbols else {
        return Err(PhaseMapError::Symbols(symbols.len()));
    };
    let mut points = Vec::new();
    for i in LOW..=HIGH {
        for j in LOW..=HIGH {
            let at = |k: i64| Rational::new(k.into(), DENOMINATOR.into());
            let point = BTreeMap::from([(x.clone(), at(i)), (y.clone(), at(j))]);
            if let Some(v) = regime_at(counting, &point) {
                let d = DENOMINATOR as f64;
                points.push((i as f64 / d, j as f64 / d, v.regime));
            }
        }
    }
    let d = DENOMINATOR as f64;
    Ok(PhaseMap {
        x: x.clone(),
        y: y.clone(),
        range: (LOW as f64 / d, HIGH as f64 / d, 1.0 / d),
        points,
    })
}

/// A fixed colour per regime, so that maps of different programs read alike: the five
/// regimes of the diagram in Okabe–Ito colours, the trivial region light grey, explosion
/// a pale red, the part not analysed white.
fn color(r: Regime) -> RGBColor {
    match r {
        Regime::NeuralOde => PALETTE[5],
        Regime::LinearOde => PALETTE[1],
        Regime::ConstantOde => PALETTE[3],
        Regime::Sde => PALETTE[0],
        Regime::SdeWithoutTrend => PALETTE[4],
        Regime::Trivial => RGBColor(225, 225, 225),
        Regime::Explosion => RGBColor(250, 205, 200),
        Regime::NotAnalysed => RGBColor(255, 255, 255),
    }
}

const SIDE: u32 = 600;
const LEGEND: u32 = 260;

/// Merges vertically adjacent grid points of one regime into (x, y_first, y_last,
/// regime) runs, which keeps the SVG small (one rectangle per run, not per point).
fn column_runs(points: &[(f64, f64, Regime)], step: f64) -> Vec<(f64, f64, f64, Regime)> {
    let mut runs: Vec<(f64, f64, f64, Regime)> = Vec::new();
    for &(x, y, r) in points {
        match runs.last_mut() {
            Some(last) if last.0 == x && last.3 == r && (y - last.2 - step).abs() < step / 4.0 => {
                last.2 = y;
            }
            _ => runs.push((x, y, y, r)),
        }
    }
    runs
}

/// A phase map with its title, drawn as a square map with the legend on its right.
#[derive(Clone, Copy, Debug)]
pub struct PhaseFigure<'a> {
    /// The map.
    pub map: &'a PhaseMap,
    /// The caption.
    pub title: &'a str,
}

impl Plot for PhaseFigure<'_> {
    fn default_size(&self) -> (u32, u32) {
        (SIDE + LEGEND, SIDE)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let map = self.map;
        let (low, high, step) = map.range;
        let (width, _) = root.dim_in_pixel();
        let legend_w = LEGEND.min(width * 2 / 5);
        let (plot, legend) = root.split_horizontally(width - legend_w);
        let mut chart = ChartBuilder::on(&plot)
            .caption(self.title, (FONT, CAPTION_FONT))
            .margin(12)
            .x_label_area_size(58)
            .y_label_area_size(70)
            .build_cartesian_2d(
                low - step / 2.0..high + step / 2.0,
                low - step / 2.0..high + step / 2.0,
            )
            .map_err(err)?;
        chart
            .draw_series(
                column_runs(&map.points, step)
                    .into_iter()
                    .map(|(x, y0, y1, r)| {
                        let h = step / 2.0;
                        Rectangle::new([(x - h, y0 - h), (x + h, y1 + h)], color(r).filled())
                    }),
            )
            .map_err(err)?;
        // The grid on top of the map, light, at the tick marks only.
        chart
            .configure_mesh()
            .x_labels(7)
            .y_labels(7)
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(GRID.mix(0.6))
            .axis_style(RGBColor(110, 110, 110))
            .label_style((FONT, TICK_FONT))
            .axis_desc_style((FONT, AXIS_FONT))
            .x_desc(map.x.as_str())
            .y_desc(map.y.as_str())
            .draw()
            .map_err(err)?;
        draw_legend(&legend, map)
    }
}

/// One swatch and name per regime present in the map.
fn draw_legend<DB: DrawingBackend>(
    legend: &DrawingArea<DB, Shift>,
    map: &PhaseMap,
) -> Result<(), String> {
    let mut present: Vec<Regime> = map.points.iter().map(|p| p.2).collect();
    present.sort();
    present.dedup();
    for (k, r) in present.iter().enumerate() {
        let top = 48 + 30 * k as i32;
        legend
            .draw(&Rectangle::new(
                [(8, top), (28, top + 18)],
                ShapeStyle::from(&color(*r)).filled(),
            ))
            .map_err(err)?;
        legend
            .draw(&Rectangle::new(
                [(8, top), (28, top + 18)],
                RGBColor(90, 90, 90).stroke_width(1),
            ))
            .map_err(err)?;
        legend
            .draw(&Text::new(
                r.name().to_string(),
                (36, top + 2),
                (FONT, LEGEND_FONT).into_font().color(&BLACK),
            ))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colors_of_the_regimes_are_distinct() {
        let all = [
            Regime::NeuralOde,
            Regime::LinearOde,
            Regime::ConstantOde,
            Regime::Sde,
            Regime::SdeWithoutTrend,
            Regime::Trivial,
            Regime::Explosion,
            Regime::NotAnalysed,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(color(*a), color(*b), "{a:?} and {b:?}");
            }
        }
    }
}
