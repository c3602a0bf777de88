//! The drill's timeline picture: requests per 100 ms by outcome, a time
//! axis in seconds and a request scale, and the run's moments as numbered
//! markers explained in a legend under the chart, so no label overlaps
//! another or leaves the picture. Written by hand: a few rectangles, lines
//! and texts need no plotting library or fonts.

use super::load::Sample;
use super::report::{Mark, Run};
use std::fmt::Write;

const BUCKET_MS: u64 = 100;
/// The plot area.
const PLOT_WIDTH: f64 = 900.0;
const PLOT_HEIGHT: f64 = 240.0;
/// Room for the request scale's labels.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
/// Room for the title and three rows of marker numbers.
const TOP: f64 = 70.0;
/// A marker number's row height and the width it needs on its row.
const MARKER_ROW: f64 = 13.0;
const MARKER_ROWS: usize = 3;
const MARKER_WIDTH: f64 = 18.0;
const LEGEND_ROW: f64 = 16.0;
/// Longer legend texts are cut (with an ellipsis) to stay in the picture.
const LEGEND_CHARS: usize = 120;

/// Escapes text for SVG.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The smallest of 1, 2, 5 × 10^k (times `unit`) that splits `span` into at
/// most `most` steps.
fn nice_step(span: f64, most: f64, unit: f64) -> f64 {
    let mut scale = unit;
    loop {
        for m in [1.0, 2.0, 5.0] {
            let step = m * scale;
            if span / step <= most {
                return step;
            }
        }
        scale *= 10.0;
    }
}

/// For each mark (in time order), the row its number goes on: the first
/// row where it clears the number before it.
fn marker_rows(xs: &[f64]) -> Vec<usize> {
    let mut row_end = [f64::NEG_INFINITY; MARKER_ROWS];
    xs.iter()
        .map(|&x| {
            let row = (0..MARKER_ROWS)
                .find(|&r| x - MARKER_WIDTH / 2.0 >= row_end[r])
                // Every row is taken this close: the least recently used.
                .unwrap_or_else(|| {
                    (0..MARKER_ROWS)
                        .min_by(|&a, &b| row_end[a].total_cmp(&row_end[b]))
                        .unwrap_or(0)
                });
            row_end[row] = x + MARKER_WIDTH / 2.0;
            row
        })
        .collect()
}

fn cut(text: &str) -> String {
    if text.chars().count() <= LEGEND_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LEGEND_CHARS - 1).collect();
        short.push('…');
        short
    }
}

/// The timeline of one run as an SVG document.
pub fn timeline(run: &Run, samples: &[Sample]) -> String {
    let start = samples.first().map_or(0, |s| s.at_ms);
    let end = samples
        .last()
        .map_or(start + 1000, |s| s.at_ms)
        .max(start + 1000);
    let buckets = ((end - start) / BUCKET_MS + 1) as usize;
    let mut ok = vec![0u32; buckets];
    let mut failed = vec![0u32; buckets];
    for s in samples {
        let b = ((s.at_ms.saturating_sub(start)) / BUCKET_MS) as usize;
        if let (Some(o), Some(f)) = (ok.get_mut(b), failed.get_mut(b)) {
            if s.ok {
                *o += 1;
            } else {
                *f += 1;
            }
        }
    }
    let peak = ok
        .iter()
        .zip(&failed)
        .map(|(a, b)| a + b)
        .max()
        .unwrap_or(1)
        .max(1);
    let y_step = nice_step(f64::from(peak), 5.0, 1.0);
    let y_top = (f64::from(peak) / y_step).ceil() * y_step;
    let span_s = (end - start) as f64 / 1000.0;
    let x_step = nice_step(span_s, 12.0, 0.1);
    let bar = PLOT_WIDTH / buckets as f64;
    let height_of = |n: u32| PLOT_HEIGHT * f64::from(n) / y_top;
    let x_of_ms =
        |ms: u64| LEFT + (ms.saturating_sub(start)) as f64 / (end - start) as f64 * PLOT_WIDTH;
    let base = TOP + PLOT_HEIGHT;
    let mut marks: Vec<&Mark> = run.marks.iter().collect();
    marks.sort_by_key(|m| m.at_ms);
    let legend_top = base + 52.0;
    let width = LEFT + PLOT_WIDTH + RIGHT;
    let height = legend_top + LEGEND_ROW * marks.len() as f64 + 28.0;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n\
         <text x=\"{x}\" y=\"18\" text-anchor=\"end\"><tspan fill=\"#2e7d32\">■ succeeded</tspan>  <tspan fill=\"#c62828\">■ failed</tspan></text>",
        escape(&format!("srs drill: {} ({})", run.fault, run.sync_mode)),
        x = LEFT + PLOT_WIDTH,
    );
    // The request scale, with light grid lines.
    let mut tick = 0.0;
    while tick <= y_top + 1e-9 {
        let ty = base - PLOT_HEIGHT * tick / y_top;
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#e0e0e0\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>",
            LEFT + PLOT_WIDTH,
            LEFT - 6.0,
            ty + 4.0
        );
        tick += y_step;
    }
    let _ = writeln!(
        svg,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">requests per 100 ms</text>",
        TOP + PLOT_HEIGHT / 2.0
    );
    for (i, (o, f)) in ok.iter().zip(&failed).enumerate() {
        let left = LEFT + i as f64 * bar;
        if *o > 0 {
            let _ = writeln!(svg, "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"#2e7d32\"/>", base - height_of(*o), bar.max(0.5), height_of(*o));
        }
        if *f > 0 {
            let _ = writeln!(svg, "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"#c62828\"/>", base - height_of(*o) - height_of(*f), bar.max(0.5), height_of(*f));
        }
    }
    // The time axis.
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{:.1}\" y2=\"{base}\" stroke=\"#424242\"/>\n<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"#424242\"/>",
        LEFT + PLOT_WIDTH
    );
    let mut t = 0.0;
    while t <= span_s + 1e-9 {
        let tx = LEFT + t / span_s * PLOT_WIDTH;
        let label = if x_step < 1.0 {
            format!("{t:.1}")
        } else {
            format!("{t:.0}")
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{base}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#424242\"/>\n<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            base + 4.0,
            base + 17.0
        );
        t += x_step;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">seconds since the load started</text>",
        LEFT + PLOT_WIDTH / 2.0,
        base + 33.0
    );
    // The moments: a dashed line and a number over the plot, explained in
    // the legend.
    let xs: Vec<f64> = marks.iter().map(|m| x_of_ms(m.at_ms)).collect();
    for (n, ((m, x), row)) in marks.iter().zip(&xs).zip(marker_rows(&xs)).enumerate() {
        let number_y = TOP - 8.0 - row as f64 * MARKER_ROW;
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{base}\" stroke=\"#1565c0\" stroke-dasharray=\"4 2\"/>\n<text x=\"{x:.1}\" y=\"{number_y:.1}\" text-anchor=\"middle\" fill=\"#1565c0\" font-weight=\"bold\">{}</text>",
            number_y + 3.0,
            n + 1
        );
        let ly = legend_top + n as f64 * LEGEND_ROW;
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"{ly:.1}\" fill=\"#1565c0\" font-weight=\"bold\">{}</text>\n<text x=\"{:.1}\" y=\"{ly:.1}\">{:.2} s</text>\n<text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
            n + 1,
            LEFT + 24.0,
            m.at_ms.saturating_sub(start) as f64 / 1000.0,
            LEFT + 84.0,
            escape(&cut(&m.what))
        );
    }
    let reads = samples
        .iter()
        .filter(|s| s.kind == super::load::Kind::Read)
        .count();
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#616161\">{} requests ({reads} reads) over {span_s:.1} s; peak {peak} per 100 ms</text>\n</svg>",
        height - 10.0,
        samples.len(),
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::load::Kind;

    fn run(marks: Vec<Mark>) -> Run {
        Run {
            fault: "kill<primary>".into(),
            sync_mode: crate::topology::SyncModeName::Strict,
            detection_seconds: Some(0.3),
            rto_seconds: Some(1.0),
            write_pause_seconds: 1.0,
            failed_requests: 1,
            requests: 3,
            failures: Default::default(),
            acknowledged_writes: 2,
            acknowledged_lost: 0,
            lost_oldest_age_seconds: None,
            split_brain_writes: 0,
            failback_seconds: None,
            passed: true,
            problems: Vec::new(),
            marks,
        }
    }

    fn samples(until_ms: u64) -> Vec<Sample> {
        (0..=until_ms / 50)
            .map(|i| Sample {
                at_ms: 100 + i * 50,
                took_ms: 1,
                kind: Kind::Create,
                ok: i % 7 != 3,
                site: "a".into(),
                status: 201,
            })
            .collect()
    }

    /// Every `<text x=".." y="..">` of the document, with its content.
    fn texts(svg: &str) -> Vec<(f64, f64, String)> {
        svg.lines()
            .filter_map(|l| {
                let l = l.strip_prefix("<text x=\"")?;
                let (x, rest) = l.split_once("\" y=\"")?;
                let (y, rest) = rest.split_once('"')?;
                let (_, rest) = rest.split_once('>')?;
                let (content, _) = rest.split_once("</text>")?;
                Some((x.parse().ok()?, y.parse().ok()?, content.to_owned()))
            })
            .collect()
    }

    #[test]
    fn the_timeline_marks_moments_and_escapes_text() {
        let svg = timeline(
            &run(vec![Mark {
                what: "fault".into(),
                at_ms: 150,
            }]),
            &samples(1_100),
        );
        assert!(svg.contains("kill&lt;primary&gt;"));
        assert!(svg.contains(">0.05 s</text>"), "{svg}");
        assert!(svg.contains(">fault</text>"));
        assert!(svg.contains("seconds since the load started"));
        assert!(svg.contains("requests per 100 ms"));
    }

    #[test]
    fn close_moments_get_numbers_that_do_not_overlap_and_labels_stay_inside() {
        // The report's case: moments 0.8 s apart on a 30 s run, and one at
        // the very end with a long name.
        let marks = vec![
            Mark {
                what: "fault: kill-primary-site".into(),
                at_ms: 3_080,
            },
            Mark {
                what: "first create on site 'dr'".into(),
                at_ms: 3_910,
            },
            Mark {
                what: "promoted".into(),
                at_ms: 3_950,
            },
            Mark {
                what: format!("failed back to site 'primary' {}", "and more ".repeat(30)),
                at_ms: 30_100,
            },
        ];
        let svg = timeline(&run(marks), &samples(30_000));
        let width: f64 = LEFT + PLOT_WIDTH + RIGHT;
        let all = texts(&svg);
        let numbers: Vec<&(f64, f64, String)> = all
            .iter()
            .filter(|(_, y, t)| *y < TOP && t.parse::<usize>().is_ok())
            .collect();
        assert_eq!(numbers.len(), 4, "{svg}");
        for (i, a) in numbers.iter().enumerate() {
            for b in &numbers[i + 1..] {
                assert!(
                    (a.0 - b.0).abs() >= MARKER_WIDTH || a.1 != b.1,
                    "numbers overlap: {a:?} {b:?}"
                );
            }
        }
        for (x, _, text) in &all {
            // Left-anchored texts must fit in the width at ~7 px a
            // character; centred and right-anchored ones sit on the plot.
            assert!(*x >= 0.0 && *x <= width, "{text} at {x}");
        }
        let legend = all
            .iter()
            .find(|(_, _, t)| t.starts_with("failed back"))
            .expect("in the legend");
        assert!(
            legend.0 + 7.0 * legend.2.chars().count() as f64 <= width + 1.0,
            "{legend:?}"
        );
        // Time ticks every 5 s over ~30 s, and a request scale from 0.
        for t in ["0", "5", "10", "30"] {
            assert!(
                all.iter().any(|(_, y, s)| *y > TOP + PLOT_HEIGHT && s == t),
                "tick {t}"
            );
        }
        assert!(all.iter().any(|(x, _, s)| *x < LEFT && s == "0"));
    }

    #[test]
    fn nice_steps_read_well() {
        assert_eq!(nice_step(30.0, 12.0, 0.1), 5.0);
        assert_eq!(nice_step(3.0, 12.0, 0.1), 0.5);
        assert_eq!(nice_step(7.0, 5.0, 1.0), 2.0);
        assert_eq!(nice_step(1.0, 5.0, 1.0), 1.0);
        assert_eq!(nice_step(230.0, 5.0, 1.0), 50.0);
    }
}
