//! Bar charts drawn on the server as SVG (no script needed). Every bar
//! carries its label and its number in text, so the chart reads without
//! colour; the page shows the same numbers as a table too.

/// One bar, placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the bar counts, e.g. "On leave".
    pub label: String,
    /// The count.
    pub value: i64,
    /// The bar's rectangle.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Where the label's text sits (its anchor point).
    pub label_x: u32,
    /// Baseline of the label.
    pub label_y: u32,
    /// A second line under the label (a column's year), or empty.
    pub sublabel: String,
    /// Where the number's text starts.
    pub value_x: u32,
    /// Baseline of the number.
    pub value_y: u32,
}

/// A chart ready for `charts.html`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Element id prefix, unique on the page.
    pub id: &'static str,
    /// The chart's title, also its accessible name.
    pub title: String,
    /// Drawing width (the SVG scales to its box).
    pub width: u32,
    /// Drawing height.
    pub height: u32,
    /// Bars in order.
    pub bars: Vec<Bar>,
    /// Labels beside the bars (true) or under them.
    pub horizontal: bool,
}

/// Width of the label column of a horizontal chart.
const LABEL_COLUMN: u32 = 150;
/// Room kept right of the longest bar for its number.
const VALUE_ROOM: u32 = 56;
/// Height of one row of a horizontal chart.
const ROW: u32 = 30;
/// Width of a chart's drawing: narrow enough that its 13-unit text stays
/// readable when a phone shrinks it to fit (about 360 px).
const WIDE: u32 = 420;
/// Height of the bars' area of a vertical chart.
const COLUMN_AREA: u32 = 140;

/// How long a bar of `value` is when the largest is `max` and gets `room`.
fn scaled(value: i64, max: i64, room: u32) -> u32 {
    if max <= 0 || value <= 0 {
        return 0;
    }
    let len = (value as f64 / max as f64 * f64::from(room)).round() as u32;
    // A non-zero count always shows a sliver.
    len.max(2)
}

/// Bars from left to right, labels at the left: for categories with long
/// names (departments, statuses).
pub fn horizontal(id: &'static str, title: &str, data: &[(String, i64)]) -> Chart {
    let max = data.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let room = WIDE - LABEL_COLUMN - VALUE_ROOM;
    let bars = data
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let top = i as u32 * ROW + 4;
            let width = scaled(*value, max, room);
            Bar {
                label: shorten(label, 24),
                value: *value,
                x: LABEL_COLUMN,
                y: top,
                width,
                height: ROW - 10,
                label_x: LABEL_COLUMN - 8,
                label_y: top + 15,
                sublabel: String::new(),
                value_x: LABEL_COLUMN + width + 6,
                value_y: top + 15,
            }
        })
        .collect();
    Chart {
        id,
        title: title.to_owned(),
        width: WIDE,
        height: (data.len() as u32 * ROW).max(ROW) + 4,
        bars,
        horizontal: true,
    }
}

/// Bars from the bottom up, labels under them: for a series in time. A
/// label may have a second line after a newline ("Jan\n2026").
pub fn vertical(id: &'static str, title: &str, data: &[(String, i64)]) -> Chart {
    let max = data.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let count = data.len().max(1) as u32;
    let slot = WIDE / count;
    let top_room = 20;
    let bars = data
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let height = scaled(*value, max, COLUMN_AREA);
            let left = i as u32 * slot + slot / 6;
            let width = slot - slot / 3;
            let bottom = top_room + COLUMN_AREA;
            let (label, sublabel) = label.split_once('\n').unwrap_or((label, ""));
            Bar {
                label: label.to_owned(),
                sublabel: sublabel.to_owned(),
                value: *value,
                x: left,
                y: bottom - height,
                width,
                height,
                label_x: left + width / 2,
                label_y: bottom + 16,
                value_x: left + width / 2,
                value_y: bottom - height - 5,
            }
        })
        .collect();
    Chart {
        id,
        title: title.to_owned(),
        width: WIDE,
        height: top_room + COLUMN_AREA + 36,
        bars,
        horizontal: false,
    }
}

/// `s` cut to `most` characters with an ellipsis; the table keeps the
/// whole name.
fn shorten(s: &str, most: usize) -> String {
    if s.chars().count() <= most {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(most - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_bar_fills_the_room_and_zero_draws_nothing() {
        let c = horizontal(
            "s",
            "By status",
            &[
                ("Active".into(), 90),
                ("On leave".into(), 0),
                ("Graduated".into(), 45),
            ],
        );
        assert_eq!(c.bars[0].width, WIDE - LABEL_COLUMN - VALUE_ROOM);
        assert_eq!(c.bars[1].width, 0);
        assert_eq!(c.bars[2].width, (WIDE - LABEL_COLUMN - VALUE_ROOM) / 2);
        // Room for a six-digit count (about 48 units at 13) after every bar.
        assert!(c.bars.iter().all(|b| b.value_x + 48 <= WIDE));
    }

    #[test]
    fn a_tiny_count_still_shows_and_an_empty_chart_has_room() {
        let c = vertical(
            "m",
            "Enrolments",
            &[("Jan".into(), 1), ("Feb".into(), 10_000)],
        );
        assert_eq!(c.bars[0].height, 2);
        assert_eq!(c.bars[1].height, COLUMN_AREA);
        assert!(c.bars.iter().all(|b| b.y + b.height <= c.height));
        let empty = horizontal("e", "Nothing", &[]);
        assert!(empty.height > 0 && empty.bars.is_empty());
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(
            shorten("Department of Very Long Names Indeed", 10),
            "Departmen…"
        );
        assert_eq!(shorten("Arts", 10), "Arts");
    }
}
