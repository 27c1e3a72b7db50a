//! Charts as self-contained SVG strings: grouped bars, lines and empirical CDFs.
//!
//! Every function is pure and returns one `<svg>` element with a white background, a title, axis
//! ticks and labels, and a legend, drawn with the generic `sans-serif` font and a fixed
//! colour-blind-safe palette (Okabe–Ito). No stylesheet, font or script is referenced, so a chart
//! can be inlined in HTML or saved as an `.svg` file. All text is escaped. Non-finite values (and
//! non-positive ones on a log axis) are left out; a chart with nothing to draw says "no data".

use super::escape;
use std::fmt::Write;

/// Writes formatted text into a `String` (writing to a `String` cannot fail).
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {
        let _ = write!($dst, $($arg)*);
    };
}

/// Series colours, in order; the palette repeats past its end.
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#555555",
];

/// Total width of every chart (px).
const WIDTH: f64 = 720.0;
/// Left margin: room for the y tick labels and the y-axis label (px).
const LEFT: f64 = 74.0;
/// Right margin (px).
const RIGHT: f64 = 24.0;
/// Top margin: room for the title (px).
const TOP: f64 = 44.0;
/// Height of the plot area (px).
const PLOT_H: f64 = 280.0;
/// Below the plot: x tick labels and the x-axis label (px).
const BELOW: f64 = 56.0;
/// Height of one legend row (px).
const LEGEND_ROW: f64 = 20.0;

/// One line of a [`line_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points `(x, y)` in drawing order; non-finite points break the line.
    pub points: Vec<(f64, f64)>,
}

/// The colour of series `i`.
fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A number as a short label: integers without decimals, others with about 3 significant digits.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 || (a > 0.0 && a < 1e-3) {
        format!("{v:.2e}")
    } else if a >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A mapping from data values to one pixel axis.
#[derive(Debug, Clone, Copy)]
enum Scale {
    /// Linear between `lo` and `hi`.
    Lin { lo: f64, hi: f64 },
    /// Logarithmic between `10^lo` and `10^hi` (bounds stored as exponents).
    Log { lo: f64, hi: f64 },
}

impl Scale {
    /// A linear scale covering `[lo, hi]`, widened to whole tick steps when `nice`.
    fn lin(lo: f64, hi: f64, nice: bool) -> Self {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else if lo == 0.0 {
            (0.0, 1.0)
        } else {
            (lo - lo.abs() * 0.1, hi + hi.abs() * 0.1)
        };
        if !nice {
            return Scale::Lin { lo, hi };
        }
        let step = tick_step(lo, hi);
        Scale::Lin {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
        }
    }

    /// A log scale covering `[lo, hi]` (both > 0): widened to whole decades when the data span
    /// two decades or more, otherwise to the nearest 1-2-5 values around them.
    fn log(lo: f64, hi: f64) -> Self {
        if hi / lo >= 100.0 {
            let e0 = lo.log10().floor();
            return Scale::Log {
                lo: e0,
                hi: hi.log10().ceil().max(e0 + 1.0),
            };
        }
        let marks = one_two_five(lo.log10().floor() as i32 - 1, hi.log10().ceil() as i32 + 1);
        let below = marks.iter().rev().find(|m| m.0 <= lo * (1.0 + 1e-9));
        let above = marks.iter().find(|m| m.0 >= hi * (1.0 - 1e-9) && m.0 > lo);
        match (below, above) {
            (Some(b), Some(a)) => Scale::Log {
                lo: b.0.log10(),
                hi: a.0.log10(),
            },
            _ => Scale::Log {
                lo: lo.log10().floor(),
                hi: lo.log10().floor() + 1.0,
            },
        }
    }

    /// Position of `v` between pixels `a` (at the low end) and `b` (at the high end).
    fn map(&self, v: f64, a: f64, b: f64) -> f64 {
        let t = match *self {
            Scale::Lin { lo, hi } => (v - lo) / (hi - lo),
            Scale::Log { lo, hi } => (v.log10() - lo) / (hi - lo),
        };
        a + t.clamp(-0.05, 1.05) * (b - a)
    }

    /// Tick values and their labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        match *self {
            Scale::Lin { lo, hi } => {
                let step = tick_step(lo, hi);
                let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
                let mut out = Vec::new();
                let mut k = (lo / step - 1e-9).ceil();
                while k * step <= hi + step * 1e-9 && out.len() < 50 {
                    let v = k * step;
                    let mut label = format!("{v:.decimals$}");
                    if label.starts_with('-') && label[1..].chars().all(|c| c == '0' || c == '.') {
                        label.remove(0);
                    }
                    out.push((v, label));
                    k += 1.0;
                }
                out
            }
            Scale::Log { lo, hi } => {
                let decades = (hi - lo).round() as i32;
                if lo.fract() != 0.0 || hi.fract() != 0.0 || decades < 2 {
                    // A narrow range (see `Scale::log`): every 1-2-5 value inside it.
                    let (a, b) = (10f64.powf(lo) * (1.0 - 1e-9), 10f64.powf(hi) * (1.0 + 1e-9));
                    return one_two_five(lo.floor() as i32, hi.ceil() as i32)
                        .into_iter()
                        .filter(|m| (a..=b).contains(&m.0))
                        .collect();
                }
                let every = (decades / 8).max(1);
                (lo.round() as i32..=hi.round() as i32)
                    .step_by(every as usize)
                    .map(|e| (10f64.powi(e), decade_label(e, 1)))
                    .collect()
            }
        }
    }
}

/// The values `m * 10^e` for `m` in 1, 2, 5 and `e` in `e0..=e1`, ascending, with labels.
fn one_two_five(e0: i32, e1: i32) -> Vec<(f64, String)> {
    (e0..=e1)
        .flat_map(|e| [1, 2, 5].map(|m| (m as f64 * 10f64.powi(e), decade_label(e, m))))
        .collect()
}

/// Label of `m * 10^e`: plain digits for moderate exponents, `me<e>` otherwise.
fn decade_label(e: i32, m: u32) -> String {
    if (-3..=4).contains(&e) {
        let v = m as f64 * 10f64.powi(e);
        format!("{:.*}", (-e).max(0) as usize, v)
    } else {
        format!("{m}e{e}")
    }
}

/// A 1-2-5 tick step giving about five ticks over `[lo, hi]`.
fn tick_step(lo: f64, hi: f64) -> f64 {
    let raw = ((hi - lo) / 5.0).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// How a legend entry is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    /// A filled square (bars).
    Box,
    /// A short line (lines, CDFs).
    Line,
}

/// The legend's layout: entries per row and column width.
fn legend_layout(labels: &[String]) -> (usize, f64) {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let col = (longest * 6.6 + 34.0).clamp(90.0, plot_w);
    let per_row = ((plot_w / col).floor() as usize).max(1);
    (per_row, col)
}

/// A chart under construction: the frame, then marks, then [`Chart::finish`].
struct Chart {
    /// The SVG text so far.
    out: String,
    /// Plot area `(x0, y0, x1, y1)`, y down.
    plot: (f64, f64, f64, f64),
}

impl Chart {
    /// Opens a chart with room for `legend` entries below the plot.
    fn new(title: &str, legend: &[String]) -> Self {
        let rows = if legend.is_empty() {
            0
        } else {
            let (per_row, _) = legend_layout(legend);
            legend.len().div_ceil(per_row)
        };
        let height = TOP + PLOT_H + BELOW + rows as f64 * LEGEND_ROW + 8.0;
        let mut out = String::new();
        w!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12" role="img" aria-label="{t}">"#,
            t = escape(title)
        );
        w!(out, "<title>{}</title>", escape(title));
        w!(
            out,
            r##"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##
        );
        w!(
            out,
            r##"<text x="{LEFT}" y="26" font-size="15" font-weight="bold" fill="#222222">{}</text>"##,
            escape(title)
        );
        Chart {
            out,
            plot: (LEFT, TOP, WIDTH - RIGHT, TOP + PLOT_H),
        }
    }

    /// Draws the y axis: grid lines, tick labels and the rotated axis label.
    fn y_axis(&mut self, scale: &Scale, label: &str) {
        let (x0, y0, x1, y1) = self.plot;
        for (v, text) in scale.ticks() {
            let y = scale.map(v, y1, y0);
            w!(
                self.out,
                r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#e3e3e3"/>"##
            );
            w!(
                self.out,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444444">{}</text>"##,
                x0 - 6.0,
                y + 4.0,
                escape(&text)
            );
        }
        let cy = (y0 + y1) / 2.0;
        w!(
            self.out,
            r##"<text x="16" y="{cy:.1}" text-anchor="middle" fill="#222222" transform="rotate(-90 16 {cy:.1})">{}</text>"##,
            escape(label)
        );
    }

    /// Draws the x axis of a numeric scale: ticks, labels and the axis label.
    fn x_axis(&mut self, scale: &Scale, label: &str) {
        let (x0, y0, x1, y1) = self.plot;
        for (v, text) in scale.ticks() {
            let x = scale.map(v, x0, x1);
            w!(
                self.out,
                r##"<line x1="{x:.1}" y1="{y0:.1}" x2="{x:.1}" y2="{y1:.1}" stroke="#efefef"/>"##
            );
            w!(
                self.out,
                r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#444444">{}</text>"##,
                y1 + 17.0,
                escape(&text)
            );
        }
        self.x_label(label);
    }

    /// Draws the x-axis label under the tick labels.
    fn x_label(&mut self, label: &str) {
        let (x0, _, x1, y1) = self.plot;
        w!(
            self.out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222222">{}</text>"##,
            (x0 + x1) / 2.0,
            y1 + 40.0,
            escape(label)
        );
    }

    /// Draws the plot frame (on top of grid lines, under nothing else that matters).
    fn frame(&mut self) {
        let (x0, y0, x1, y1) = self.plot;
        w!(
            self.out,
            r##"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999999"/>"##,
            x1 - x0,
            y1 - y0
        );
    }

    /// Draws the legend rows below the x-axis label.
    fn legend(&mut self, labels: &[String], swatch: Swatch) {
        if labels.is_empty() {
            return;
        }
        let (per_row, col) = legend_layout(labels);
        self.out.push_str(r#"<g class="legend">"#);
        for (i, label) in labels.iter().enumerate() {
            let x = LEFT + (i % per_row) as f64 * col;
            let y = TOP + PLOT_H + BELOW + (i / per_row) as f64 * LEGEND_ROW + 6.0;
            match swatch {
                Swatch::Box => {
                    w!(
                        self.out,
                        r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{}"/>"#,
                        y - 10.0,
                        color(i)
                    );
                }
                Swatch::Line => {
                    w!(
                        self.out,
                        r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="3"/>"#,
                        y - 4.0,
                        x + 16.0,
                        y - 4.0,
                        color(i)
                    );
                }
            }
            w!(
                self.out,
                r##"<text x="{:.1}" y="{y:.1}" fill="#222222">{}</text>"##,
                x + 20.0,
                escape(label)
            );
        }
        self.out.push_str("</g>");
    }

    /// Closes the chart and returns the SVG text.
    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A chart with only its title, a frame and the words "no data".
fn no_data(title: &str) -> String {
    let mut c = Chart::new(title, &[]);
    let (x0, y0, x1, y1) = c.plot;
    c.frame();
    w!(
        c.out,
        r##"<text class="no-data" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="16" fill="#888888">no data</text>"##,
        (x0 + x1) / 2.0,
        (y0 + y1) / 2.0
    );
    c.finish()
}

/// Grouped bars: one group per entry of `groups` (e.g. tasks) and, inside each group, one bar per
/// series (e.g. planners). `series[s].1[g]` is the value of series `s` in group `g`; a missing or
/// non-finite value is drawn as a grey "–" instead of a bar. The y axis starts at 0 (or the lowest
/// value, when negative) and ends at `y_max` when given (values above it are cut at the top),
/// otherwise at the largest value rounded up to a tick. Each bar carries a `<title>` tooltip.
pub fn bar_chart(
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[(String, Vec<f64>)],
    y_max: Option<f64>,
) -> String {
    let value = |s: usize, g: usize| series[s].1.get(g).copied().filter(|v| v.is_finite());
    let finite: Vec<f64> = (0..series.len())
        .flat_map(|s| (0..groups.len()).filter_map(move |g| value(s, g)))
        .collect();
    if finite.is_empty() {
        return no_data(title);
    }
    let lo = finite.iter().copied().fold(0.0, f64::min);
    let scale = match y_max.filter(|m| m.is_finite() && *m > lo) {
        Some(hi) => Scale::lin(lo, hi, false),
        None => Scale::lin(lo, finite.iter().copied().fold(0.0, f64::max), true),
    };
    let names: Vec<String> = series.iter().map(|(n, _)| n.clone()).collect();
    let mut c = Chart::new(title, &names);
    let (x0, y0, x1, y1) = c.plot;
    c.y_axis(&scale, y_label);
    let group_w = (x1 - x0) / groups.len() as f64;
    let bar_w = group_w * 0.8 / series.len() as f64;
    let base = scale.map(0f64.max(lo), y1, y0);
    let rotate = groups.len() > 6;
    for (g, group) in groups.iter().enumerate() {
        let gx = x0 + g as f64 * group_w;
        for (s, (name, _)) in series.iter().enumerate() {
            let bx = gx + group_w * 0.1 + s as f64 * bar_w;
            let cx = bx + bar_w / 2.0;
            match value(s, g) {
                Some(v) => {
                    let top = scale.map(v, y1, y0).clamp(y0, y1);
                    let (y, h) = if top <= base {
                        (top, base - top)
                    } else {
                        (base, top - base)
                    };
                    w!(
                        c.out,
                        r#"<rect class="bar" x="{bx:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {}: {}</title></rect>"#,
                        (bar_w - 1.0).max(0.5),
                        color(s),
                        escape(group),
                        escape(name),
                        short(v)
                    );
                    if bar_w >= 26.0 {
                        // Above the bar, or inside its top in white when there is no room above.
                        let (ty, fill) = if y - 3.0 >= y0 + 11.0 {
                            (y - 3.0, "#333333")
                        } else {
                            (y + 12.0, "#ffffff")
                        };
                        w!(
                            c.out,
                            r#"<text x="{cx:.1}" y="{ty:.1}" text-anchor="middle" font-size="10" fill="{fill}">{}</text>"#,
                            short(v)
                        );
                    }
                }
                None => {
                    w!(
                        c.out,
                        r##"<text class="missing" x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#999999">–<title>{}: {}: missing</title></text>"##,
                        base - 3.0,
                        escape(group),
                        escape(name)
                    );
                }
            }
        }
        let lx = gx + group_w / 2.0;
        let ly = y1 + 17.0;
        if rotate {
            w!(
                c.out,
                r##"<text x="{lx:.1}" y="{ly:.1}" text-anchor="end" fill="#444444" transform="rotate(-25 {lx:.1} {ly:.1})">{}</text>"##,
                escape(group)
            );
        } else {
            w!(
                c.out,
                r##"<text x="{lx:.1}" y="{ly:.1}" text-anchor="middle" fill="#444444">{}</text>"##,
                escape(group)
            );
        }
    }
    w!(
        c.out,
        r##"<line x1="{x0:.1}" y1="{base:.1}" x2="{x1:.1}" y2="{base:.1}" stroke="#666666"/>"##
    );
    c.frame();
    c.legend(&names, Swatch::Box);
    c.finish()
}

/// The range `(lo, hi)` of the values in `vals` that `accept` keeps, or `None` when none is kept.
fn range(vals: impl Iterator<Item = f64>, accept: impl Fn(f64) -> bool) -> Option<(f64, f64)> {
    vals.filter(|v| accept(*v)).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A scale for the values in `[lo, hi]`, logarithmic when `log`.
fn scale_for(lo: f64, hi: f64, log: bool) -> Scale {
    if log {
        Scale::log(lo, hi)
    } else {
        Scale::lin(lo, hi, true)
    }
}

/// Lines through the points of each series (e.g. energy per optimizer iteration, success rate
/// against planning budget), each with its own colour and legend entry, one `<path>` per series
/// that has a drawable point. Points that are not finite, or not positive on a log axis, are
/// skipped and break the line. Series of up to 60 points also get a dot per point.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
) -> String {
    let ok = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let valid = |&(x, y): &(f64, f64)| ok(x, log_x) && ok(y, log_y);
    let all = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| valid(p)))
    };
    let (Some((xl, xh)), Some((yl, yh))) = (
        range(all().map(|p| p.0), |_| true),
        range(all().map(|p| p.1), |_| true),
    ) else {
        return no_data(title);
    };
    let (sx, sy) = (scale_for(xl, xh, log_x), scale_for(yl, yh, log_y));
    let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    let mut c = Chart::new(title, &names);
    let (x0, y0, x1, y1) = c.plot;
    c.y_axis(&sy, y_label);
    c.x_axis(&sx, x_label);
    c.frame();
    for (i, s) in series.iter().enumerate() {
        let mut d = String::new();
        let mut pen_down = false;
        let mut dots = String::new();
        for p in &s.points {
            if !valid(p) {
                pen_down = false;
                continue;
            }
            let (px, py) = (sx.map(p.0, x0, x1), sy.map(p.1, y1, y0));
            w!(d, "{}{px:.1},{py:.1} ", if pen_down { "L" } else { "M" });
            pen_down = true;
            if s.points.len() <= 60 {
                w!(
                    dots,
                    r#"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="{}"><title>{}: ({}, {})</title></circle>"#,
                    color(i),
                    escape(&s.name),
                    short(p.0),
                    short(p.1)
                );
            }
        }
        if d.is_empty() {
            continue;
        }
        w!(
            c.out,
            r#"<path class="series" d="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>"#,
            d.trim_end(),
            color(i)
        );
        c.out.push_str(&dots);
    }
    c.legend(&names, Swatch::Line);
    c.finish()
}

/// The value at quantile `p` of `sorted` (nearest rank, as the run summary computes it).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Empirical CDFs, one step line per series (e.g. plan latency per planner), with dashed guides
/// at 0.5 and 0.99 and each series' p50 and p99 in its legend text. Values that are not finite, or
/// not positive when `log_x`, are left out (the legend's `n` counts the values kept).
pub fn cdf_chart(title: &str, x_label: &str, series: &[(String, Vec<f64>)], log_x: bool) -> String {
    let sorted: Vec<Vec<f64>> = series
        .iter()
        .map(|(_, vals)| {
            let mut v: Vec<f64> = vals
                .iter()
                .copied()
                .filter(|v| v.is_finite() && (!log_x || *v > 0.0))
                .collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let Some((lo, hi)) = range(sorted.iter().flatten().copied(), |_| true) else {
        return no_data(title);
    };
    let sx = scale_for(lo, hi, log_x);
    let sy = Scale::lin(0.0, 1.0, false);
    let labels: Vec<String> = series
        .iter()
        .zip(&sorted)
        .map(|((name, _), v)| {
            if v.is_empty() {
                format!("{name}: no data")
            } else {
                format!(
                    "{name}: p50 {}, p99 {} (n={})",
                    short(quantile(v, 0.5)),
                    short(quantile(v, 0.99)),
                    v.len()
                )
            }
        })
        .collect();
    let mut c = Chart::new(title, &labels);
    let (x0, y0, x1, y1) = c.plot;
    c.y_axis(&sy, "fraction ≤ x");
    c.x_axis(&sx, x_label);
    // The p99 label goes under its line, which runs close to the frame's top.
    for (q, name, dy) in [(0.5, "p50", -3.0), (0.99, "p99", 11.0)] {
        let y = sy.map(q, y1, y0);
        w!(
            c.out,
            r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}" stroke="#aaaaaa" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10" fill="#777777">{name}</text>"##,
            x1 - 4.0,
            y + dy
        );
    }
    c.frame();
    for (i, v) in sorted.iter().enumerate() {
        if v.is_empty() {
            continue;
        }
        let n = v.len() as f64;
        let mut d = String::new();
        let mut prev_y = sy.map(0.0, y1, y0);
        w!(d, "M{:.1},{prev_y:.1}", sx.map(v[0], x0, x1));
        for (k, &val) in v.iter().enumerate() {
            let x = sx.map(val, x0, x1);
            let y = sy.map((k + 1) as f64 / n, y1, y0);
            w!(d, " L{x:.1},{prev_y:.1} L{x:.1},{y:.1}");
            prev_y = y;
        }
        w!(d, " L{x1:.1},{prev_y:.1}");
        w!(
            c.out,
            r#"<path class="series" d="{d}" fill="none" stroke="{}" stroke-width="2"><title>{}</title></path>"#,
            color(i),
            escape(&labels[i])
        );
    }
    c.legend(&labels, Swatch::Line);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that every opened tag is closed in order; returns the tag names seen.
    fn balanced(svg: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("unclosed '<'") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.trim()),
                    "mismatched </{name}>"
                );
            } else {
                let name: String = tag.chars().take_while(|c| c.is_alphanumeric()).collect();
                seen.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(stack.is_empty(), "unclosed tags: {stack:?}");
        seen
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    fn groups() -> Vec<String> {
        vec!["reach".into(), "push".into(), "pick <&> place".into()]
    }

    #[test]
    fn bar_chart_draws_one_bar_per_finite_value_and_marks_nan_missing() {
        let series = vec![
            ("cem".to_string(), vec![1.0, 0.5, 0.25]),
            ("mppi".to_string(), vec![0.75, f64::NAN, f64::INFINITY]),
        ];
        let svg = bar_chart("success", "rate", &groups(), &series, Some(1.0));
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"));
        balanced(&svg);
        assert_eq!(count(&svg, r#"<rect class="bar""#), 4);
        assert_eq!(count(&svg, r#"class="missing""#), 2);
        assert!(svg.contains("pick &lt;&amp;&gt; place"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(svg.contains(">cem<") && svg.contains(">mppi<"), "legend");
    }

    #[test]
    fn bar_chart_short_series_count_as_missing() {
        let series = vec![("a".to_string(), vec![2.0])];
        let svg = bar_chart("t", "y", &groups(), &series, None);
        balanced(&svg);
        assert_eq!(count(&svg, r#"<rect class="bar""#), 1);
        assert_eq!(count(&svg, r#"class="missing""#), 2);
    }

    #[test]
    fn empty_or_all_nan_input_says_no_data() {
        let nan = vec![("a".to_string(), vec![f64::NAN])];
        let charts = [
            bar_chart("t", "y", &[], &[], None),
            bar_chart("t", "y", &groups(), &nan, None),
            line_chart("t", "x", "y", &[], false, false),
            line_chart(
                "t",
                "x",
                "y",
                &[Series {
                    name: "neg".into(),
                    points: vec![(-1.0, 1.0), (f64::NAN, 2.0)],
                }],
                true,
                false,
            ),
            cdf_chart("t", "ms", &[], false),
            cdf_chart("t", "ms", &nan, true),
        ];
        for svg in charts {
            assert!(svg.starts_with("<svg"));
            balanced(&svg);
            assert!(svg.contains("no data"), "{svg}");
        }
    }

    #[test]
    fn line_chart_draws_one_path_per_series_and_skips_bad_points() {
        let series = vec![
            Series {
                name: "cem".into(),
                points: (1..=20).map(|i| (i as f64, 100.0 / i as f64)).collect(),
            },
            Series {
                name: "grad".into(),
                points: vec![(1.0, 50.0), (2.0, f64::NAN), (3.0, 0.0), (4.0, 5.0)],
            },
        ];
        for (lx, ly) in [(false, false), (true, true)] {
            let svg = line_chart("energy", "iteration", "energy", &series, lx, ly);
            assert!(svg.starts_with("<svg"));
            balanced(&svg);
            assert_eq!(count(&svg, r#"<path class="series""#), 2, "{svg}");
            assert!(!svg.contains("NaN"));
        }
        let svg = line_chart("energy", "iteration", "energy", &series, false, true);
        // On a log y axis the 0.0 point is dropped too: the grad line is two pieces.
        let grad = svg.split(r#"<path class="series""#).nth(2).unwrap();
        let d = grad.split('"').nth(1).unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
    }

    #[test]
    fn cdf_chart_has_one_path_per_series_and_quantiles_in_legend() {
        let a: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        let b = vec![5.0, f64::NAN, f64::INFINITY, 7.0];
        let svg = cdf_chart(
            "plan latency",
            "ms",
            &[("cem".into(), a), ("mppi".into(), b)],
            true,
        );
        assert!(svg.starts_with("<svg"));
        balanced(&svg);
        assert_eq!(count(&svg, r#"<path class="series""#), 2);
        assert!(svg.contains("cem: p50 51, p99 99 (n=100)"), "{svg}");
        assert!(svg.contains("mppi: p50 7, p99 7 (n=2)"), "{svg}");
    }

    #[test]
    fn ticks_cover_the_range_with_round_labels() {
        let t = Scale::lin(0.0, 0.93, true).ticks();
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = Scale::log(0.3, 2000.0).ticks();
        let labels: Vec<&str> = t.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["0.1", "1", "10", "100", "1000", "10000"]);
        let labels = |lo, hi| -> Vec<String> {
            Scale::log(lo, hi)
                .ticks()
                .into_iter()
                .map(|t| t.1)
                .collect()
        };
        assert_eq!(labels(2.0, 3.0), ["2", "5"]);
        assert_eq!(labels(2.1, 15.0), ["2", "5", "10", "20"]);
        assert_eq!(labels(0.3, 20.0), ["0.2", "0.5", "1", "2", "5", "10", "20"]);
        assert_eq!(labels(5.0, 5.0), ["5", "10"]);
    }
}
