//! The figures (`--plot`): their structure read back from the SVG (a distinct colour and
//! marker per curve within a panel, the derived slopes dashed on top, light grids,
//! readable fonts, the requested size), PNG output of the requested size, `--plot-only`,
//! and the command-line errors of the plot flags.

mod common;

use common::{stderr, temp_path, tp};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tp::report::plot::{convergence_panel, legend_width, Figure, Predictions};
use tp::report::style::{self, Plot, PlotTarget};

/// One element of an SVG document: its tag, attributes and text content.
#[derive(Clone, Debug)]
struct El {
    tag: String,
    attrs: HashMap<String, String>,
    text: String,
}

impl El {
    fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }

    /// The points of a polyline or polygon.
    fn points(&self) -> Vec<(f64, f64)> {
        self.attr("points")
            .split_whitespace()
            .filter_map(|p| {
                let (x, y) = p.split_once(',')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            })
            .collect()
    }

    /// The element's leftmost x, if it has a position.
    fn x(&self) -> Option<f64> {
        let pts = self.points();
        if !pts.is_empty() {
            return Some(pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min));
        }
        ["x", "cx", "x1"]
            .iter()
            .find_map(|a| self.attrs.get(*a)?.parse().ok())
    }
}

/// Every element of `svg`, in document order (enough of a parser for plotters' output).
fn elements(svg: &str) -> Vec<El> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').expect("tag closes");
        let inner = &rest[..end];
        rest = &rest[end + 1..];
        if inner.starts_with('/') || inner.starts_with('?') {
            continue;
        }
        let tag: String = inner.chars().take_while(|c| c.is_alphanumeric()).collect();
        let mut attrs = HashMap::new();
        let mut a = &inner[tag.len()..];
        while let Some(eq) = a.find("=\"") {
            let name = a[..eq].trim().to_string();
            let after = &a[eq + 2..];
            let close = after.find('"').expect("attribute closes");
            attrs.insert(name, after[..close].to_string());
            a = &after[close + 1..];
        }
        let text = if tag == "text" {
            rest[..rest.find("</text>").expect("text closes")]
                .trim()
                .to_string()
        } else {
            String::new()
        };
        out.push(El { tag, attrs, text });
    }
    out
}

/// A short two-point polyline 2 px wide in a palette colour: one dash of a dashed line
/// (plotters draws a dashed line as one polyline per dash, 9 px long; tick marks and
/// error bars are 1 px wide).
fn is_dash(e: &El) -> bool {
    let p = e.points();
    let palette: BTreeSet<String> = style::PALETTE.iter().map(hex).collect();
    e.tag == "polyline"
        && e.attr("stroke-width") == "2"
        && palette.contains(e.attr("stroke"))
        && p.len() == 2
        && ((p[1].0 - p[0].0).powi(2) + (p[1].1 - p[0].1).powi(2)).sqrt() <= 10.0
}

/// A measured curve's line: a polyline with a palette colour and stroke width 2 that is
/// not a dash.
fn is_curve(e: &El) -> bool {
    let palette: BTreeSet<String> = style::PALETTE.iter().map(hex).collect();
    e.tag == "polyline"
        && e.attr("stroke-width") == "2"
        && palette.contains(e.attr("stroke"))
        && !is_dash(e)
}

fn hex(c: &plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// The marker drawn right after a curve's line, by shape.
fn marker_of(e: &El) -> String {
    match (e.tag.as_str(), e.points().len()) {
        ("circle", _) => "circle".into(),
        ("polygon", 3) => "triangle".into(),
        ("rect", _) => "square".into(),
        ("polygon", 4) => "diamond".into(),
        ("line", _) => "cross".into(),
        (tag, n) => format!("{tag}/{n}"),
    }
}

/// What one panel of a coordinate-check figure draws, read from the SVG.
#[derive(Debug, Default)]
struct PanelDrawing {
    /// (colour, marker) per measured curve, in drawing order.
    curves: Vec<(String, String)>,
    /// (colour, index of its first dash) per dashed line.
    dashed: Vec<(String, usize)>,
    /// Index of the last measured line.
    last_curve: usize,
}

/// Splits the elements of a coordinate-check SVG into its panels (each starts at its
/// caption), leaving out the legend column on the right.
fn panels(svg: &str, figure: &Figure, width: u32) -> Vec<PanelDrawing> {
    let legend_x = f64::from(width - legend_width(width));
    let captions: Vec<String> = figure.panels().map(|p| p.title.clone()).collect();
    let els: Vec<El> = elements(svg)
        .into_iter()
        .filter(|e| e.x().map_or(true, |x| x < legend_x))
        .collect();
    let mut out: Vec<PanelDrawing> = Vec::new();
    let mut next_caption = 0;
    let mut last_dash: Option<(String, (f64, f64))> = None;
    for (i, e) in els.iter().enumerate() {
        if e.tag == "text" && next_caption < captions.len() && e.text == captions[next_caption] {
            out.push(PanelDrawing::default());
            next_caption += 1;
            last_dash = None;
            continue;
        }
        let Some(panel) = out.last_mut() else {
            continue;
        };
        if is_curve(e) {
            let marker = els.get(i + 1).map(marker_of).unwrap_or_default();
            panel.curves.push((e.attr("stroke").to_string(), marker));
            panel.last_curve = i;
            last_dash = None;
        } else if is_dash(e) {
            let colour = e.attr("stroke").to_string();
            let p = e.points();
            // A new dashed line starts where the colour changes or the dash does not
            // continue the previous one (6 px gap).
            let continues = last_dash.as_ref().is_some_and(|(c, end)| {
                *c == colour && ((p[0].0 - end.0).powi(2) + (p[0].1 - end.1).powi(2)).sqrt() < 9.0
            });
            if !continues {
                panel.dashed.push((colour.clone(), i));
            }
            last_dash = Some((colour, p[1]));
        }
    }
    assert_eq!(next_caption, captions.len(), "every panel caption is drawn");
    out
}

fn mup_report() -> tp::report::SimulationReport {
    let program = common::shipped("mlp_mup.tp", &[] as &[&str]);
    let result = tp::sim::sweep(&program, &[16, 32, 64], &[0, 1, 2], None, None).expect("sweeps");
    tp::report::SimulationReport::new("mup", None, result)
}

/// Predictions for every size at step 1 and every change at step 2 (the values do not
/// matter: each is drawn as a dashed line).
fn some_predictions(report: &tp::report::SimulationReport) -> Predictions {
    let mut p = Predictions::default();
    for s in &report.stats {
        match s.quantity.step {
            Some(1) => {
                p.size.insert(s.quantity.name.clone(), -0.5);
            }
            Some(2) => {
                p.delta.insert(s.quantity.name.clone(), -1.0);
            }
            _ => {}
        }
    }
    p
}

/// The check figure's shape: coordinate panels with derived slopes and a convergence
/// panel with a predicted rate.
fn check_like_figure(report: &tp::report::SimulationReport) -> Figure {
    let mut figure = report.figure(&some_predictions(report));
    let limits = HashMap::from([("f_1".to_string(), 0.3), ("f_2".to_string(), 0.1)]);
    let rates = HashMap::from([("f_1".to_string(), -0.5)]);
    figure.convergence = convergence_panel(&report.result, &limits, &rates);
    figure
}

#[test]
fn every_curve_of_a_panel_has_its_own_colour_and_marker_and_a_legend_entry_keeps_its_style() {
    let report = mup_report();
    let figure = report.figure(&Predictions::default());
    let size = (1300, 1000);
    let svg = style::render_svg(&figure, Some(size)).expect("renders");
    let drawn = panels(&svg, &figure, size.0);
    assert_eq!(drawn.len(), figure.panels().count());
    let mut style_of: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut most = 0;
    for (panel, drawing) in figure.panels().zip(&drawn) {
        assert_eq!(
            drawing.curves.len(),
            panel.curves.len(),
            "{}: one line per curve",
            panel.title
        );
        let distinct: BTreeSet<_> = drawing.curves.iter().collect();
        assert_eq!(
            distinct.len(),
            drawing.curves.len(),
            "{}: two curves share (colour, marker): {:?}",
            panel.title,
            drawing.curves
        );
        most = most.max(panel.curves.len());
        for (curve, style) in panel.curves.iter().zip(&drawing.curves) {
            let previous = style_of.insert(curve.legend.clone(), style.clone());
            assert!(
                previous.map_or(true, |p| p == *style),
                "{} changes style between panels",
                curve.legend
            );
        }
    }
    // The step-0 panel has more curves than the palette has colours: the markers, not
    // the colours alone, keep them apart.
    assert!(most > style::PALETTE.len(), "{most} curves at most");
    let entries: BTreeSet<_> = style_of.values().collect();
    assert_eq!(
        entries.len(),
        style_of.len(),
        "legend entries share a style"
    );
}

#[test]
fn derived_slopes_are_dashed_in_the_curve_colour_on_top_of_the_measured_lines() {
    let report = mup_report();
    let figure = check_like_figure(&report);
    let size = figure.default_size();
    let svg = style::render_svg(&figure, None).expect("renders");
    let drawn = panels(&svg, &figure, size.0);
    let mut total = 0;
    for (panel, drawing) in figure.panels().zip(&drawn) {
        let predicted: Vec<_> = panel
            .curves
            .iter()
            .filter(|c| c.predicted_slope.is_some())
            .collect();
        total += predicted.len();
        assert_eq!(
            drawing.dashed.len(),
            predicted.len(),
            "{}: one dashed line per curve with a prediction",
            panel.title
        );
        for (colour, at) in &drawing.dashed {
            assert!(
                *at > drawing.last_curve,
                "{}: dashed line under a curve",
                panel.title
            );
            assert!(
                drawing.curves.iter().any(|(c, _)| c == colour),
                "{}: dashed {colour} matches no curve",
                panel.title
            );
        }
    }
    // Every size at step 1, every change at step 2, and f_1's rate.
    let step = |t: usize| {
        report
            .stats
            .iter()
            .filter(move |s| s.quantity.step == Some(t))
    };
    let expected = step(1).count() + step(2).filter(|s| s.quantity.base.is_some()).count() + 1;
    assert_eq!(total, expected);
    assert!(svg.contains("derived slope (dashed)"), "no legend entry");
    assert!(svg.contains("convergence to the infinite-width limit"));
}

#[test]
fn grids_are_light_and_sparse_and_fonts_readable() {
    let report = mup_report();
    let figure = check_like_figure(&report);
    let svg = style::render_svg(&figure, None).expect("renders");
    let els = elements(&svg);
    let grid = hex(&style::GRID);
    let lines = els.iter().filter(|e| e.attr("stroke") == grid).count();
    let panels = figure.panels().count();
    assert!(lines > 0, "no grid at all");
    assert!(
        lines <= 16 * panels,
        "{lines} grid lines in {panels} panels"
    );
    let texts: Vec<&El> = els.iter().filter(|e| e.tag == "text").collect();
    for t in &texts {
        let size: f64 = t.attr("font-size").parse().expect("font size");
        assert!(size >= 14.0 - 1e-9, "{size} px text `{}`", t.text);
    }
    for panel in figure.panels() {
        let caption = texts
            .iter()
            .find(|t| t.text == panel.title)
            .expect("caption");
        let size: f64 = caption.attr("font-size").parse().expect("font size");
        assert!(size >= 16.0, "caption `{}` at {size} px", panel.title);
    }
}

#[test]
fn panels_wrap_into_three_columns_and_share_the_requested_size() {
    let report = mup_report();
    let figure = check_like_figure(&report);
    // Four steps of sizes, three of changes and the convergence panel: 3 × 3.
    assert_eq!(figure.panels().count(), 8);
    assert_eq!(figure.grid(), (3, 3));
    let (w, h) = figure.default_size();
    assert!(w < 2000, "{w} px wide");
    for size in [(1200, 800), (640, 2000)] {
        let svg = style::render_svg(&figure, Some(size)).expect("renders");
        let head = format!("<svg width=\"{}\" height=\"{}\"", size.0, size.1);
        assert!(svg.starts_with(&head), "{}", &svg[..80]);
        // Nothing is drawn outside the requested width.
        let beyond = elements(&svg)
            .iter()
            .filter(|e| e.x().is_some_and(|x| x > f64::from(size.0)))
            .count();
        assert_eq!(beyond, 0);
    }
    assert!(h > w / 2, "rows grow: {w} × {h}");
}

/// Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian).
fn png_size(path: &std::path::Path) -> (u32, u32) {
    let bytes = std::fs::read(path).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn png_output_has_the_requested_size_and_other_extensions_are_refused() {
    let report = mup_report();
    let figure = check_like_figure(&report);
    let path = temp_path("figures", "check.png");
    let target = PlotTarget {
        path: path.clone(),
        size: Some((900, 700)),
    };
    style::write_plot(&figure, &target).expect("writes");
    assert_eq!(png_size(&path), (900, 700));
    // The default size when none is asked for.
    let target = PlotTarget {
        path: path.clone(),
        size: None,
    };
    style::write_plot(&figure, &target).expect("writes");
    assert_eq!(png_size(&path), figure.default_size());
    let pdf = PlotTarget {
        path: temp_path("figures", "check.pdf"),
        size: None,
    };
    let e = style::write_plot(&figure, &pdf).unwrap_err();
    assert!(e.contains(".svg") && e.contains(".png"), "{e}");
    assert!(!pdf.path.exists());
}

#[test]
fn plot_only_keeps_the_named_quantities_and_families() {
    let report = mup_report();
    let full = check_like_figure(&report);
    let only = vec!["h2".to_string(), "f_1".to_string()];
    let wanted = |c: &tp::report::plot::Curve| c.legend == "h2" || c.quantity == "f_1";
    let expected: usize = full
        .panels()
        .map(|p| p.curves.iter().filter(|c| wanted(c)).count())
        .sum();
    assert!(expected >= 5, "h2 at 4 steps, 3 changes, f_1 twice");
    let mut figure = full.clone();
    figure.restrict(&only);
    assert!(figure.panels().all(|p| p.curves.iter().all(wanted)));
    assert!(figure.panels().all(|p| !p.curves.is_empty()));
    let svg = style::render_svg(&figure, None).expect("renders");
    let (w, _) = figure.default_size();
    let drawn: usize = panels(&svg, &figure, w)
        .iter()
        .map(|p| p.curves.len())
        .sum();
    assert_eq!(drawn, expected);
    // Names are checked against the program's quantities and families.
    let available: BTreeSet<String> = ["h2", "h2_0", "f_1"].map(String::from).into();
    assert!(tp::report::plot::check_only(&only, &available).is_ok());
    let e = tp::report::plot::check_only(&["h9".to_string()], &available).unwrap_err();
    assert!(e.contains("h9") && e.contains("h2_0"), "{e}");
}

#[test]
fn the_phase_diagram_has_the_requested_size_and_the_shared_style() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("programs/resnet_phase.tp");
    let Ok(tp::Compiled::Depth(prog)) = tp::load_any(&path, &[]) else {
        panic!("resnet_phase.tp is a depth program");
    };
    let d = tp::depth::derive::derive(&prog, None);
    let map = tp::report::phase_plot::phase_map(&d.counting, &prog.symbols).expect("map");
    let figure = tp::report::phase_plot::PhaseFigure {
        map: &map,
        title: "phase",
    };
    let svg = style::render_svg(&figure, Some((700, 500))).expect("renders");
    assert!(svg.starts_with("<svg width=\"700\" height=\"500\""));
    let els = elements(&svg);
    for t in els.iter().filter(|e| e.tag == "text") {
        let size: f64 = t.attr("font-size").parse().expect("font size");
        assert!(size >= 14.0 - 1e-9, "{size} px text `{}`", t.text);
    }
    // The regimes of the diagram are filled with Okabe–Ito colours.
    let fills: BTreeSet<&str> = els.iter().map(|e| e.attr("fill")).collect();
    let palette = style::PALETTE
        .iter()
        .map(hex)
        .filter(|c| fills.contains(c.as_str()));
    assert!(palette.count() >= 4, "{fills:?}");
    let png = temp_path("figures", "phase.png");
    let target = PlotTarget {
        path: png.clone(),
        size: Some((640, 480)),
    };
    style::write_plot(&figure, &target).expect("writes");
    assert_eq!(png_size(&png), (640, 480));
}

#[test]
fn mean_field_figures_share_the_style_and_size() {
    use tp::report::meanfield_plot::*;
    let errors = [ErrorPanel {
        title: "error".into(),
        series: vec![
            (
                "eq. 6".into(),
                vec![
                    (64.0, 0.1, 0.01),
                    (128.0, 0.05, 0.005),
                    (256.0, 0.025, 0.002),
                ],
            ),
            (
                "reference".into(),
                vec![(64.0, 0.2, 0.01), (128.0, 0.14, 0.005), (256.0, 0.1, 0.002)],
            ),
        ],
        derived: vec![
            ("N^-1".into(), vec![(64.0, 0.1), (256.0, 0.025)]),
            ("N^-1/2".into(), vec![(64.0, 0.2), (256.0, 0.1)]),
        ],
    }];
    let figure = MfFigure {
        title: "rates",
        columns: 2,
        panels: MfPanels::Errors(&errors),
    };
    let svg = style::render_svg(&figure, Some((800, 600))).expect("renders");
    assert!(svg.starts_with("<svg width=\"800\" height=\"600\""));
    // The series legend box comes last (from the first label on): leave it out.
    let all = elements(&svg);
    let legend_at = all
        .iter()
        .position(|e| e.tag == "text" && e.text == "eq. 6")
        .expect("legend");
    let els = &all[..legend_at];
    let curves: Vec<usize> = (0..els.len()).filter(|&i| is_curve(&els[i])).collect();
    let dashes: Vec<usize> = (0..els.len()).filter(|&i| is_dash(&els[i])).collect();
    assert_eq!(curves.len(), 2, "two measured series");
    assert!(!dashes.is_empty());
    // Drawn after both measured series, in their colours.
    assert!(
        dashes.iter().all(|d| d > &curves[1]),
        "derived under measured"
    );
    let dash_colours: BTreeSet<&str> = dashes.iter().map(|&d| els[d].attr("stroke")).collect();
    let expected: BTreeSet<String> = (0..2).map(|s| hex(&style::series_color(s))).collect();
    assert_eq!(
        dash_colours,
        expected.iter().map(String::as_str).collect(),
        "derived lines in the colours of their series"
    );
    assert!(svg.contains("N^-1 (dashed)"));

    let histograms = [HistogramPanel {
        title: "beta = 1/2".into(),
        series: (0..3)
            .map(|s| {
                let v = (0..300)
                    .map(|i| i as f64 / 300.0 + s as f64 * 0.1)
                    .collect();
                (format!("N = {}", 64 << (3 * s)), v)
            })
            .collect(),
        reference: None,
    }];
    let figure = MfFigure {
        title: "hist",
        columns: 1,
        panels: MfPanels::Histograms(&histograms),
    };
    let svg = style::render_svg(&figure, Some((500, 400))).expect("renders");
    assert!(svg.starts_with("<svg width=\"500\" height=\"400\""));
    let colours: BTreeSet<String> = elements(&svg)
        .iter()
        .filter(|e| is_curve(e))
        .map(|e| e.attr("stroke").to_string())
        .collect();
    assert!(
        colours.len() >= 3,
        "three series, three colours: {colours:?}"
    );

    let paths: Vec<Vec<(f64, f64)>> = (0..4)
        .map(|r| (0..10).map(|t| (t as f64, (t * r) as f64)).collect())
        .collect();
    let trajectories: Vec<TrajectoryPanel> = (0..4)
        .map(|k| TrajectoryPanel {
            title: format!("N = {}", 64 << k),
            y_label: "w".into(),
            paths: paths.clone(),
        })
        .collect();
    let figure = MfFigure {
        title: "paths",
        columns: 4,
        panels: MfPanels::Trajectories(&trajectories),
    };
    // Four panels wrap into 3 + 1.
    let (w, h) = figure.default_size();
    assert!(h > w / 2, "{w} × {h}");
    let png = temp_path("figures", "paths.png");
    let target = PlotTarget {
        path: png.clone(),
        size: Some((1000, 700)),
    };
    style::write_plot(&figure, &target).expect("writes");
    assert_eq!(png_size(&png), (1000, 700));
}

#[test]
fn plot_flags_from_the_command_line() {
    let small = ["--widths", "16,32", "--seeds", "2", "--quiet"];
    let svg = temp_path("figures-cli", "x.svg");
    let svg_text = svg.display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["simulate", "programs/mlp_mup.tp"];
        args.extend(small);
        args.extend(extra);
        tp(&args)
    };
    // An unknown name: exit 2 with the names there are, and no file written.
    let out = run(&["--plot", &svg_text, "--plot-only", "h2,nosuch"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("nosuch") && err.contains("available") && err.contains("dh1"),
        "{err}"
    );
    assert!(!svg.exists());
    // tp check refuses it before the limit evaluation and the sweep.
    let started = std::time::Instant::now();
    let out = tp(&[
        "check",
        "programs/mlp_mup.tp",
        "--plot",
        &svg_text,
        "--plot-only",
        "nosuch",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(started.elapsed().as_secs() < 5, "refused after a run");
    // Sizes out of bounds, a size without a plot, an unknown extension.
    for extra in [
        &["--plot", &svg_text, "--plot-size", "100,100"][..],
        &["--plot", &svg_text, "--plot-size", "800"][..],
        &["--plot-size", "800,600"][..],
        &["--plot-only", "h2"][..],
    ] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
    }
    let pdf = temp_path("figures-cli", "x.pdf").display().to_string();
    let out = run(&["--plot", &pdf]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".png"), "{}", stderr(&out));
    // A PNG of the requested size, restricted to one family.
    let png = temp_path("figures-cli", "x.png");
    let png_text = png.display().to_string();
    let out = run(&[
        "--plot",
        &png_text,
        "--plot-size",
        "640,480",
        "--plot-only",
        "h2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(png_size(&png), (640, 480));
    // The phase diagram takes the size and the format too.
    let phase = temp_path("figures-cli", "phase.png");
    let phase_text = phase.display().to_string();
    let out = tp(&[
        "scale",
        "programs/resnet_phase.tp",
        "--plot",
        &phase_text,
        "--plot-size",
        "700,500",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(png_size(&phase), (700, 500));
}

/// A family without a figure refuses `--plot` instead of ignoring it and writing nothing.
#[test]
fn families_without_a_figure_refuse_plot() {
    let path = temp_path("figures", "none.svg");
    let path = path.to_str().expect("utf-8 path");
    for (command, program) in [
        ("simulate", "programs/resnet_ode.tp"),
        ("check", "programs/resnet_ode.tp"),
        ("simulate", "programs/shaped_relu.tp"),
        ("check", "programs/shaped_relu.tp"),
    ] {
        let out = tp(&[command, program, "--plot", path]);
        assert_eq!(out.status.code(), Some(2), "{command} {program}");
        assert!(stderr(&out).contains("has no figure"), "{}", stderr(&out));
        assert!(!std::path::Path::new(path).exists());
    }
}
