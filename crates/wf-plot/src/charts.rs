//! The report's charts, drawn with plotters into PNG (and SVG) files.
//!
//! Latencies span three orders of magnitude (a 40 ms step, a 60 s outlier), so
//! every latency axis is logarithmic: the seed's linear histograms squashed all but
//! the tail into one bar. Text is drawn with a font compiled into the binary, so a
//! fresh machine without fontconfig or system fonts draws the same charts.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use wf_agg::{Hist, Report, Window};
use wf_events::units::clock;

/// DejaVu Sans (its licence is assets/DejaVuSans-LICENSE.txt).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 500;
const BINS: usize = 40;

const BLUE_: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const RED_: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(160, 160, 160);

/// Makes the shipped font the one every chart uses. Call once before drawing.
pub fn register_font() -> Result<(), String> {
    plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
        .map_err(|_| "the built-in font cannot be loaded".to_string())
}

/// What the charts are drawn from: the same aggregation as `wf-agg --json`.
pub struct ChartData<'a> {
    pub report: &'a Report,
    pub txn: &'a Hist,
    pub gaps: &'a Hist,
    pub injected: &'a Hist,
    pub windows: Vec<Window>,
    pub window_ms: i64,
    /// Windows flagged as anomalies (--window): start and end.
    pub anomalies: Vec<(i64, i64)>,
}

/// One chart of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    Transactions,
    Gaps,
    Percentiles,
    Steps,
    OverTime,
}

impl Chart {
    pub const ALL: [Chart; 5] = [
        Chart::Transactions,
        Chart::Gaps,
        Chart::Percentiles,
        Chart::Steps,
        Chart::OverTime,
    ];

    /// File name without extension.
    pub fn file_stem(self) -> &'static str {
        match self {
            Chart::Transactions => "txn_durations",
            Chart::Gaps => "inter_step_gaps",
            Chart::Percentiles => "latency_by_percentile",
            Chart::Steps => "steps",
            Chart::OverTime => "over_time",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Chart::Transactions => "Transaction durations",
            Chart::Gaps => "Inter-step gaps",
            Chart::Percentiles => "Latency by percentile",
            Chart::Steps => "Steps",
            Chart::OverTime => "Over time",
        }
    }

    /// Whether there is anything to draw.
    pub fn has_data(self, d: &ChartData<'_>) -> bool {
        match self {
            Chart::Transactions | Chart::OverTime => d.txn.count() > 0,
            Chart::Gaps => d.gaps.count() > 0,
            Chart::Percentiles => d.txn.count() > 0 || d.gaps.count() > 0,
            Chart::Steps => d.report.steps.iter().any(|s| s.duration_ms.count > 0),
        }
    }

    fn size(self, d: &ChartData<'_>) -> (u32, u32) {
        match self {
            Chart::Steps => {
                let rows = d.report.steps.len() as u32;
                (WIDTH, (110 + 30 * rows).max(HEIGHT))
            }
            _ => (WIDTH, HEIGHT),
        }
    }

    /// Draws the chart into `path` as PNG, or as SVG when the path ends in .svg.
    pub fn draw(self, d: &ChartData<'_>, path: &Path) -> Result<(), String> {
        let size = self.size(d);
        if path.extension().is_some_and(|e| e == "svg") {
            let root = SVGBackend::new(path, size).into_drawing_area();
            self.draw_on(&root, d)
        } else {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            self.draw_on(&root, d)
        }
    }

    fn draw_on<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        d: &ChartData<'_>,
    ) -> Result<(), String> {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Chart::Transactions => {
                histogram(root, self.title(), "transaction duration", d.txn, None, &[])?
            }
            Chart::Gaps => histogram(
                root,
                self.title(),
                &format!("inter-step gap ({})", d.report.gaps.source),
                d.gaps,
                Some(d.injected),
                &[(
                    d.report.gaps.outlier_threshold_ms,
                    format!(
                        "outlier >= {}",
                        fmt_ms(d.report.gaps.outlier_threshold_ms as f64)
                    ),
                )],
            )?,
            Chart::Percentiles => percentiles(root, self.title(), d.txn, d.gaps)?,
            Chart::Steps => steps(root, self.title(), d.report)?,
            Chart::OverTime => over_time(root, self.title(), d)?,
        }
        root.present().map_err(err)
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The legend every chart draws, boxed on white at `position`.
fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// A latency as people read it: `250 ms`, `2.5 s`, `1.5 min`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 60_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else if ms >= 1_000.0 {
        let s = ms / 1_000.0;
        if s >= 10.0 {
            format!("{s:.0} s")
        } else {
            format!("{s:.1} s")
        }
    } else {
        format!("{ms:.0} ms")
    }
}

/// The axis range of a log axis holding `lo..=hi` (values below 1 ms sit at 1).
fn log_range(lo: i64, hi: i64) -> (f64, f64) {
    let lo = (lo.max(1) as f64) / 1.2;
    let hi = (hi.max(1) as f64 * 1.2).max(lo * 10.0);
    (lo, hi)
}

/// Counts per log-spaced bin between `lo` and `hi`.
fn log_bins(h: &Hist, lo: f64, hi: f64) -> Vec<u64> {
    let mut bins = vec![0u64; BINS];
    let span = (hi / lo).ln();
    for (v, c) in h.sorted() {
        let x = (v.max(1) as f64).max(lo);
        let i = ((x / lo).ln() / span * BINS as f64) as usize;
        bins[i.min(BINS - 1)] += c;
    }
    bins
}

fn bin_edges(lo: f64, hi: f64) -> Vec<f64> {
    (0..=BINS)
        .map(|i| lo * (hi / lo).powf(i as f64 / BINS as f64))
        .collect()
}

/// A histogram on a log duration axis, with p50/p95/p99 marked, an optional
/// second series stacked on top (injected outliers) and extra marks (thresholds).
fn histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    what: &str,
    all: &Hist,
    apart: Option<&Hist>,
    marks: &[(i64, String)],
) -> Result<(), String> {
    let s = all.summary();
    let (lo, hi) = log_range(s.min.unwrap_or(1), s.max.unwrap_or(1));
    let edges = bin_edges(lo, hi);
    let total = log_bins(all, lo, hi);
    let apart_bins = apart.map_or_else(|| vec![0; BINS], |h| log_bins(h, lo, hi));
    let ymax = total.iter().copied().max().unwrap_or(1).max(1);

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), 0u64..ymax + ymax / 10 + 1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(format!("{what} (log scale)"))
        .y_desc("count")
        .x_label_formatter(&|v| fmt_ms(*v))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(err)?;

    let injected_any = apart_bins.iter().any(|&c| c > 0);
    chart
        .draw_series((0..BINS).map(|i| {
            let own = total[i] - apart_bins[i].min(total[i]);
            Rectangle::new(
                [(edges[i], 0), (edges[i + 1], own)],
                BLUE_.mix(0.7).filled(),
            )
        }))
        .map_err(err)?
        .label(if injected_any { "observed" } else { "count" })
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE_.mix(0.7).filled()));
    if injected_any {
        chart
            .draw_series((0..BINS).filter(|&i| apart_bins[i] > 0).map(|i| {
                let own = total[i] - apart_bins[i].min(total[i]);
                Rectangle::new(
                    [(edges[i], own), (edges[i + 1], total[i])],
                    RED_.mix(0.8).filled(),
                )
            }))
            .map_err(err)?
            .label("injected outliers")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RED_.mix(0.8).filled()));
    }

    let top = ymax + ymax / 10;
    let mut lines: Vec<(f64, String, RGBColor)> = [
        ("p50", s.p50, GREEN_),
        ("p95", s.p95, ORANGE),
        ("p99", s.p99, PURPLE),
    ]
    .into_iter()
    .filter_map(|(name, v, c)| {
        v.map(|v| (v.max(1) as f64, format!("{name} {}", fmt_ms(v as f64)), c))
    })
    .collect();
    for (v, label) in marks {
        lines.push(((*v).max(1) as f64, label.clone(), BLACK));
    }
    for (x, label, color) in lines {
        if x < lo || x > hi {
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                vec![(x, 0), (x, top)],
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 15, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// A named line: its label, color and points.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Percentiles plotted HdrHistogram-style: x is log10(1 / (1 - p)), so 90%, 99%,
/// 99.9% and 99.99% are evenly spaced and the tail gets the room it deserves.
fn percentiles<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    txn: &Hist,
    gaps: &Hist,
) -> Result<(), String> {
    const X_MAX: f64 = 4.0; // p99.99
    let xs: Vec<f64> = (0..=80).map(|i| i as f64 * X_MAX / 80.0).collect();
    let ps: Vec<f64> = xs.iter().map(|x| 100.0 * (1.0 - 10f64.powf(-x))).collect();
    let series: Vec<Series> = [
        ("transactions", BLUE_, txn),
        ("inter-step gaps", ORANGE, gaps),
    ]
    .into_iter()
    .filter(|(_, _, h)| h.count() > 0)
    .map(|(name, color, h)| {
        let values = h.percentiles(&ps);
        let points = xs
            .iter()
            .zip(values)
            .filter_map(|(&x, v)| v.map(|v| (x, v.max(1) as f64)))
            .collect();
        (name, color, points)
    })
    .collect();
    let lo = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, y)| y))
        .fold(f64::MAX, f64::min);
    let hi = series
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|&(_, y)| y))
        .fold(1.0, f64::max);
    let (lo, hi) = log_range(lo as i64, hi as i64);

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..X_MAX, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(5)
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|v| fmt_ms(*v))
        .x_desc("percentile")
        .y_desc("latency (log scale)")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(err)?;
    for (name, color, points) in series {
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 15, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// `0%`, `90%`, `99%`, `99.9%`, `99.99%` for x = 0..4.
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let decimals = (x.ceil() as usize).saturating_sub(2);
    format!("{p:.decimals$}%")
}

/// p50/p95/p99 of each step's duration as bars on a log axis, error rate beside.
fn steps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    report: &Report,
) -> Result<(), String> {
    let rows: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.duration_ms.count > 0)
        .collect();
    let n = rows.len();
    let hi = rows
        .iter()
        .filter_map(|s| s.duration_ms.p99)
        .max()
        .unwrap_or(1);
    let lo = rows
        .iter()
        .filter_map(|s| s.duration_ms.p50)
        .min()
        .unwrap_or(1);
    let (lo, hi) = log_range(lo, hi);
    let label = |i: usize| {
        rows.get(i).map_or_else(String::new, |s| {
            format!(
                "{} / {}  (err {:.1}%)",
                s.workflow.as_deref().unwrap_or("-"),
                s.step,
                s.error_rate * 100.0
            )
        })
    };
    let label_width = (0..n).map(|i| label(i).chars().count()).max().unwrap_or(10) as u32;

    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(20 + 7 * label_width)
        .build_cartesian_2d((lo..hi).log_scale(), -0.5..n as f64 - 0.5)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_labels(n.max(1))
        .y_label_formatter(&|y| {
            // Rows are drawn top down: row i sits at n - 1 - i.
            let r = y.round();
            if (y - r).abs() > 1e-6 || r < 0.0 {
                return String::new();
            }
            label(n - 1 - r as usize)
        })
        .x_label_formatter(&|v| fmt_ms(*v))
        .x_desc("step duration (log scale)")
        .disable_y_mesh()
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(err)?;
    for (k, (name, color)) in [("p50", GREEN_), ("p95", ORANGE), ("p99", PURPLE)]
        .into_iter()
        .enumerate()
    {
        let bars = rows.iter().enumerate().filter_map(move |(i, s)| {
            let v = match k {
                0 => s.duration_ms.p50,
                1 => s.duration_ms.p95,
                _ => s.duration_ms.p99,
            }?;
            let y = (n - 1 - i) as f64 + 0.3 - 0.25 * k as f64;
            Some(Rectangle::new(
                [(lo, y - 0.1), ((v.max(1) as f64).max(lo), y + 0.1)],
                color.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// Throughput (bars, right axis) and p50/p95/p99 (lines, left log axis) per window.
fn over_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    d: &ChartData<'_>,
) -> Result<(), String> {
    let (windows, window_ms) = (d.windows.as_slice(), d.window_ms);
    let start = windows.first().map_or(0, |w| w.start_ms);
    let end = windows.last().map_or(start + window_ms, |w| w.end_ms);
    let lo = windows
        .iter()
        .filter_map(|w| w.duration_ms.p50)
        .min()
        .unwrap_or(1);
    let hi = windows
        .iter()
        .filter_map(|w| w.duration_ms.p99)
        .max()
        .unwrap_or(1);
    let (lo, hi) = log_range(lo, hi);
    let tmax = windows
        .iter()
        .map(|w| w.throughput)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.15;

    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{title} (windows of {})", fmt_ms(window_ms as f64)),
            (FAMILY, 22),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .right_y_label_area_size(70)
        .build_cartesian_2d(start..end, (lo..hi).log_scale())
        .map_err(err)?
        .set_secondary_coord(start..end, 0.0..tmax);
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|ms| clock(*ms))
        .y_label_formatter(&|v| fmt_ms(*v))
        .x_desc("close time (UTC)")
        .y_desc("transaction duration (log scale)")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(err)?;
    chart
        .configure_secondary_axes()
        .y_desc("closed per second")
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15))
        .draw()
        .map_err(err)?;
    chart
        .draw_secondary_series(windows.iter().map(|w| {
            Rectangle::new(
                [(w.start_ms, 0.0), (w.end_ms, w.throughput)],
                GREY.mix(0.35).filled(),
            )
        }))
        .map_err(err)?
        .label("throughput (right axis)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], GREY.mix(0.35).filled()));
    if !d.anomalies.is_empty() {
        chart
            .draw_secondary_series(
                d.anomalies
                    .iter()
                    .map(|&(s, e)| Rectangle::new([(s, 0.0), (e, tmax)], RED.mix(0.18).filled())),
            )
            .map_err(err)?
            .label("anomaly")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], RED.mix(0.18).filled()));
    }
    for (k, (name, color)) in [("p50", GREEN_), ("p95", ORANGE), ("p99", PURPLE)]
        .into_iter()
        .enumerate()
    {
        let points = windows.iter().filter_map(move |w| {
            let v = match k {
                0 => w.duration_ms.p50,
                1 => w.duration_ms.p95,
                _ => w.duration_ms.p99,
            }?;
            Some((w.start_ms + window_ms / 2, v.max(1) as f64))
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 15, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(fmt_ms(250.0), "250 ms");
        assert_eq!(fmt_ms(2500.0), "2.5 s");
        assert_eq!(fmt_ms(15_000.0), "15 s");
        assert_eq!(fmt_ms(90_000.0), "1.5 min");
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }

    #[test]
    fn log_bins_keep_every_value() {
        let mut h = Hist::new();
        for v in [0, 1, 5, 50, 500, 5000, 50_000] {
            h.record(v);
        }
        let (lo, hi) = log_range(0, 50_000);
        let bins = log_bins(&h, lo, hi);
        assert_eq!(bins.iter().sum::<u64>(), 7);
        assert_eq!(bins[0], 2);
    }
}
