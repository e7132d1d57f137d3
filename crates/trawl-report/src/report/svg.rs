//! Hand-written SVG charts: grouped bars, lines (linear or log axes), sorted difference bars and
//! latency boxes. No script: hover values are SVG `<title>` elements. Series differ by colour
//! (Okabe-Ito, safe for colour-blind readers) *and* by a second channel that survives greyscale
//! printing: bar hatching, line dashes and marker shapes.

use std::fmt::Write;

/// Okabe & Ito's palette, ordered so neighbours differ in lightness.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000",
];
const DASHES: [&str; 7] = ["", "7 3", "2 2", "9 3 2 3", "4 4", "1 3", "12 4"];
/// Hatch pattern ids defined once per page by [`defs`] (`None`: solid).
const HATCH: [Option<&str>; 7] = [
    None,
    Some("h-diag"),
    Some("h-dots"),
    Some("h-cross"),
    Some("h-horiz"),
    Some("h-anti"),
    Some("h-vert"),
];

pub const W: f64 = 640.0;
pub const H: f64 = 300.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 46.0;

pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The hatch patterns, in a hidden SVG at the top of the page (ids shared by every chart).
pub fn defs() -> String {
    let mut s = String::from(
        "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>",
    );
    let pats = [
        ("h-diag", "<path d=\"M0,6 L6,0\" />"),
        (
            "h-dots",
            "<circle cx=\"3\" cy=\"3\" r=\"1.2\" fill=\"#fff\" stroke=\"none\"/>",
        ),
        ("h-cross", "<path d=\"M0,3 H6 M3,0 V6\" />"),
        ("h-horiz", "<path d=\"M0,3 H6\" />"),
        ("h-anti", "<path d=\"M0,0 L6,6\" />"),
        ("h-vert", "<path d=\"M3,0 V6\" />"),
    ];
    for (id, body) in pats {
        let _ = write!(
            s,
            "<pattern id=\"{id}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><g stroke=\"#fff\" stroke-width=\"1.4\">{body}</g></pattern>"
        );
    }
    s.push_str("</defs></svg>");
    s
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A value as a short label: 4 significant digits, no trailing noise.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 4) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v:.2e}")
    }
}

/// One axis: a data range mapped onto pixels, linear or log10.
#[derive(Clone, Copy)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub px_lo: f64,
    pub px_hi: f64,
}

impl Axis {
    pub fn new(lo: f64, hi: f64, log: bool, px_lo: f64, px_hi: f64) -> Self {
        let (mut lo, mut hi) = (lo, hi);
        if log {
            lo = lo.max(1e-12);
            hi = hi.max(lo * 10.0);
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil());
        } else if hi <= lo {
            hi = lo + 1.0;
        }
        Axis {
            lo,
            hi,
            log,
            px_lo,
            px_hi,
        }
    }

    pub fn px(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.px_lo + t * (self.px_hi - self.px_lo)
    }

    /// Tick values: decades on a log axis, about 5 round steps on a linear one.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut t = Vec::new();
            let mut v = self.lo;
            while v <= self.hi * 1.0001 {
                t.push(v);
                v *= 10.0;
            }
            return t;
        }
        let span = self.hi - self.lo;
        let raw = span / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| span / s <= 6.0)
            .unwrap_or(10.0 * mag);
        let mut t = Vec::new();
        let mut v = (self.lo / step).ceil() * step;
        while v <= self.hi + step * 1e-9 {
            t.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
            v += step;
        }
        t
    }
}

fn open(out: &mut String, title: &str, kind: &str) {
    let _ = write!(
        out,
        "<svg class=\"chart\" data-chart=\"{kind}\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\"/><text x=\"{LEFT}\" y=\"18\" class=\"ct\">{t}</text>",
        t = esc(title)
    );
}

fn axes(out: &mut String, x: &Axis, y: &Axis, x_label: &str, y_label: &str, x_ticks: bool) {
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    for t in y.ticks() {
        let py = y.px(t);
        let _ = write!(
            out,
            "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" class=\"grid\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text>",
            x0 - 5.0,
            py + 4.0,
            num(t)
        );
    }
    if x_ticks {
        for t in x.ticks() {
            let px = x.px(t);
            let _ = write!(
                out,
                "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{y0}\" y2=\"{:.1}\" class=\"axis\"/><text x=\"{px:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                y0 + 4.0,
                y0 + 16.0,
                num(t)
            );
        }
    }
    let _ = write!(
        out,
        "<line x1=\"{x0}\" x2=\"{x1}\" y1=\"{y0}\" y2=\"{y0}\" class=\"axis\"/><line x1=\"{x0}\" x2=\"{x0}\" y1=\"{y0}\" y2=\"{y1}\" class=\"axis\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"lab\" text-anchor=\"middle\">{}</text><text transform=\"translate(14 {:.1}) rotate(-90)\" class=\"lab\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        H - 8.0,
        esc(x_label),
        (y0 + y1) / 2.0,
        esc(y_label)
    );
}

/// Legend entries at the right: a swatch (hatched bar or dashed line with marker) and the name.
fn legend(out: &mut String, names: &[String], lines: bool) {
    for (i, name) in names.iter().enumerate() {
        let y = TOP + 6.0 + i as f64 * 18.0;
        let x = W - RIGHT + 12.0;
        if lines {
            let _ = write!(
                out,
                "<line x1=\"{x}\" x2=\"{:.1}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>",
                x + 22.0,
                colour(i),
                DASHES[i % DASHES.len()]
            );
            marker(out, i, x + 11.0, y, "");
        } else {
            bar_rect(out, i, x, y - 6.0, 22.0, 12.0, "");
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"leg\">{}</text>",
            x + 28.0,
            y + 4.0,
            esc(&shorten(name, 24))
        );
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

fn bar_rect(out: &mut String, i: usize, x: f64, y: f64, w: f64, h: f64, title: &str) {
    let t = if title.is_empty() {
        String::new()
    } else {
        format!("<title>{}</title>", esc(title))
    };
    let _ = write!(
        out,
        "<g><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\" stroke=\"#222\" stroke-width=\"0.6\"/>",
        colour(i)
    );
    if let Some(p) = HATCH[i % HATCH.len()] {
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"url(#{p})\"/>"
        );
    }
    let _ = write!(out, "{t}</g>");
}

/// Marker shapes by series: circle, square, triangle, diamond, cross, ...
fn marker(out: &mut String, i: usize, x: f64, y: f64, title: &str) {
    let c = colour(i);
    let t = if title.is_empty() {
        String::new()
    } else {
        format!("<title>{}</title>", esc(title))
    };
    let shape = match i % 5 {
        0 => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\""),
        1 => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\"",
            x - 3.5,
            y - 3.5
        ),
        2 => format!(
            "<path d=\"M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z\"",
            y - 4.5,
            x + 4.2,
            y + 3.0,
            x - 4.2,
            y + 3.0
        ),
        3 => format!(
            "<path d=\"M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z\"",
            y - 4.5,
            x + 4.5,
            y + 4.5,
            x - 4.5
        ),
        _ => format!(
            "<path d=\"M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}\" stroke-width=\"2\"",
            x - 4.0,
            y - 4.0,
            x + 4.0,
            y + 4.0,
            x - 4.0,
            y + 4.0,
            x + 4.0,
            y - 4.0
        ),
    };
    let _ = write!(
        out,
        "<g>{shape} fill=\"{c}\" stroke=\"{}\"/>{t}</g>",
        if i % 5 == 4 { c } else { "#222" }
    );
}

/// Grouped bars: one group per `groups` entry, one bar per series; `None` leaves a gap.
pub fn bars(
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[String],
    values: &[Vec<Option<f64>>],
) -> String {
    let mut out = String::new();
    open(&mut out, title, "bars");
    let max = values
        .iter()
        .flatten()
        .flatten()
        .fold(0.0f64, |a, b| a.max(*b));
    let y = Axis::new(
        0.0,
        if max <= 1.0 { 1.0 } else { max * 1.05 },
        false,
        H - BOTTOM,
        TOP,
    );
    let x = Axis::new(0.0, 1.0, false, LEFT, W - RIGHT);
    axes(&mut out, &x, &y, "", y_label, false);
    let gw = (W - RIGHT - LEFT) / groups.len().max(1) as f64;
    let bw = (gw * 0.8 / series.len().max(1) as f64).min(40.0);
    for (g, name) in groups.iter().enumerate() {
        let gx = LEFT + g as f64 * gw + (gw - bw * series.len() as f64) / 2.0;
        for (s, sname) in series.iter().enumerate() {
            if let Some(v) = values[g][s] {
                let py = y.px(v);
                bar_rect(
                    &mut out,
                    s,
                    gx + s as f64 * bw,
                    py,
                    bw - 2.0,
                    (H - BOTTOM) - py,
                    &format!("{sname} on {name}: {v:.4}"),
                );
            }
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            LEFT + (g as f64 + 0.5) * gw,
            H - BOTTOM + 16.0,
            esc(&shorten(name, 22))
        );
    }
    legend(&mut out, series, false);
    out.push_str("</svg>");
    out
}

/// One line series: its name, its points, and the points that get a hoverable marker.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub marked: Vec<(f64, f64)>,
}

/// Lines over shared axes (`x_log`/`y_log`: log10 axes; non-positive values are dropped there).
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_log: bool,
    y_log: bool,
    y_unit_range: bool,
) -> String {
    let mut out = String::new();
    open(&mut out, title, "lines");
    let keep = |&(x, y): &(f64, f64)| {
        x.is_finite() && y.is_finite() && (!x_log || x > 0.0) && (!y_log || y > 0.0)
    };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(keep)
        .collect();
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        all.iter().map(pick).fold(init, f)
    };
    let (xmin, xmax) = (
        fold(f64::min, f64::INFINITY, |p| p.0),
        fold(f64::max, f64::NEG_INFINITY, |p| p.0),
    );
    let (ymin, ymax) = (
        fold(f64::min, f64::INFINITY, |p| p.1),
        fold(f64::max, f64::NEG_INFINITY, |p| p.1),
    );
    if all.is_empty() {
        out.push_str("<text x=\"200\" y=\"150\" class=\"lab\">no data</text></svg>");
        return out;
    }
    let x = Axis::new(xmin, xmax, x_log, LEFT, W - RIGHT);
    let (ylo, yhi) = if y_unit_range {
        (0.0, 1.0)
    } else if y_log {
        (ymin, ymax)
    } else {
        let pad = (ymax - ymin).abs() * 0.05 + 1e-12;
        (
            (ymin - pad).min(if ymin >= 0.0 { 0.0 } else { ymin - pad }),
            ymax + pad,
        )
    };
    let y = Axis::new(ylo, yhi, y_log, H - BOTTOM, TOP);
    axes(&mut out, &x, &y, x_label, y_label, true);
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|p| keep(p))
            .map(|&(a, b)| format!("{:.1},{:.1}", x.px(a), y.px(b)))
            .collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"><title>{}</title></polyline>",
            pts.join(" "),
            colour(i),
            DASHES[i % DASHES.len()],
            esc(&s.name)
        );
        for &(a, b) in s.marked.iter().filter(|p| keep(p)) {
            marker(
                &mut out,
                i,
                x.px(a),
                y.px(b),
                &format!("{}: {x_label} {}, {y_label} {}", s.name, num(a), num(b)),
            );
        }
    }
    let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    legend(&mut out, &names, true);
    out.push_str("</svg>");
    out
}

/// Sorted per-query differences as thin bars around 0: above (wins) in blue, below (losses)
/// in vermillion with hatching, so the two read apart in greyscale too.
pub fn differences(title: &str, y_label: &str, diffs: &[(String, f64)], caption: &str) -> String {
    let mut out = String::new();
    open(&mut out, title, "differences");
    let m = diffs.iter().fold(0.0f64, |a, d| a.max(d.1.abs())).max(1e-9);
    let y = Axis::new(-m, m, false, H - BOTTOM, TOP);
    let x = Axis::new(0.0, diffs.len().max(1) as f64, false, LEFT, W - RIGHT);
    axes(
        &mut out,
        &x,
        &y,
        "queries, sorted by difference",
        y_label,
        false,
    );
    let bw = (W - RIGHT - LEFT) / diffs.len().max(1) as f64;
    let zero = y.px(0.0);
    for (i, (q, d)) in diffs.iter().enumerate() {
        if *d == 0.0 {
            continue;
        }
        let py = y.px(*d);
        let (top, h) = if *d > 0.0 {
            (py, zero - py)
        } else {
            (zero, py - zero)
        };
        let series = if *d > 0.0 { 0 } else { 4 };
        let hatch = if *d > 0.0 { "" } else { " class=\"loss\"" };
        let _ = write!(
            out,
            "<rect{hatch} x=\"{:.2}\" y=\"{top:.1}\" width=\"{:.2}\" height=\"{h:.1}\" fill=\"{}\"><title>{}: {:+.4}</title></rect>",
            LEFT + i as f64 * bw,
            bw.max(0.6),
            colour(series),
            esc(q),
            d
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{zero:.1}\" y2=\"{zero:.1}\" stroke=\"#222\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"leg\">{}</text>",
        W - RIGHT,
        W - RIGHT + 8.0,
        TOP + 10.0,
        esc(caption)
    );
    out.push_str("</svg>");
    out
}

/// One row of [`latency_boxes`]: min, p25, p50, p75, p95, p99, max (milliseconds).
pub struct BoxRow {
    pub name: String,
    pub stats: [f64; 7],
}

/// Horizontal latency boxes on a log axis: whiskers min..max, box p25..p75, a bar at the
/// median, marks at p95 and p99.
pub fn latency_boxes(title: &str, rows: &[BoxRow]) -> String {
    let mut out = String::new();
    let h = (TOP + BOTTOM + 34.0 * rows.len() as f64).max(120.0);
    let _ = write!(
        out,
        "<svg class=\"chart\" data-chart=\"latency\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title><rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{h}\" fill=\"#fff\"/><text x=\"{LEFT}\" y=\"18\" class=\"ct\">{t}</text>",
        t = esc(title)
    );
    let lo = rows
        .iter()
        .map(|r| r.stats[0])
        .fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.stats[6]).fold(0.0, f64::max);
    let left = 150.0;
    let x = Axis::new(lo.max(1e-3), hi.max(1e-3), true, left, W - 30.0);
    let y0 = h - BOTTOM;
    for t in x.ticks() {
        let px = x.px(t);
        let _ = write!(
            out,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{TOP}\" y2=\"{y0:.1}\" class=\"grid\"/><text x=\"{px:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            y0 + 16.0,
            num(t)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"lab\" text-anchor=\"middle\">latency per query (ms, log scale)</text>",
        (left + W - 30.0) / 2.0,
        h - 8.0
    );
    for (i, r) in rows.iter().enumerate() {
        let cy = TOP + 17.0 + i as f64 * 34.0;
        let [min, p25, p50, p75, p95, p99, max] = r.stats.map(|v| x.px(v.max(1e-3)));
        let tip = format!(
            "{}: p50 {} ms, p95 {} ms, p99 {} ms (min {}, max {})",
            r.name,
            num(r.stats[2]),
            num(r.stats[4]),
            num(r.stats[5]),
            num(r.stats[0]),
            num(r.stats[6])
        );
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{}</text><g><title>{}</title><line x1=\"{min:.1}\" x2=\"{max:.1}\" y1=\"{cy:.1}\" y2=\"{cy:.1}\" stroke=\"#222\"/>",
            left - 8.0,
            cy + 4.0,
            esc(&shorten(&r.name, 24)),
            esc(&tip)
        );
        bar_rect(&mut out, i, p25, cy - 9.0, (p75 - p25).max(1.0), 18.0, "");
        let _ = write!(
            out,
            "<line x1=\"{p50:.1}\" x2=\"{p50:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-width=\"3\"/><path d=\"M{p95:.1},{:.1} v12\" stroke=\"#000\" stroke-width=\"1.5\"/><path d=\"M{p99:.1},{:.1} v12\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"2 2\"/></g>",
            cy - 11.0,
            cy + 11.0,
            cy - 6.0,
            cy - 6.0
        );
    }
    out.push_str("</svg>");
    out
}
