//! The dashboard's charts, drawn as SVG on the server: no chart library
//! in the browser, nothing to download, and they print.
//!
//! Two shapes cover the issue's charts: vertical grouped bars over
//! categories (received and resolved per month; share on time per month)
//! and horizontal bars with labels (overdue by unit below; cases by
//! topic). Scales start at zero and end at a "nice" number (1, 2 or 5
//! times a power of ten) at or above the largest value, so bars are
//! proportional and comparable by eye. Every chart has a `<title>` and a
//! `<desc>` for screen readers, each bar a `<title>` with its value, and
//! the pages put the same numbers in a table beside it.

use std::fmt::Write;

/// The drawing's width in user units (it scales to its box).
const WIDTH: f64 = 640.0;
/// Room left of the plot for the scale's numbers.
const AXIS_LEFT: f64 = 48.0;
/// Room under the plot for the categories' labels.
const AXIS_BOTTOM: f64 = 28.0;
/// Room above the plot.
const TOP: f64 = 12.0;
/// Height of the plot of a vertical bar chart.
const PLOT_HEIGHT: f64 = 200.0;
/// Height of one row of a horizontal bar chart.
const ROW_HEIGHT: f64 = 26.0;
/// Room for the labels of a horizontal bar chart.
const LABEL_WIDTH: f64 = 220.0;
/// Longest label drawn before it is cut with "…" (the table has it whole).
const LABEL_CHARS_MAX: usize = 32;
/// Most categories or rows one chart draws.
pub const BARS_MAX: usize = 60;

/// One series of a bar chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Its name (legend and bar titles).
    pub name: String,
    /// A CSS class that colours it (`received`, `resolved`, `overdue`, `topic`).
    pub class: &'static str,
    /// One value per category.
    pub values: Vec<f64>,
}

/// What every chart says about itself.
#[derive(Clone, Debug)]
pub struct Caption<'a> {
    /// A unique id prefix within the page.
    pub id: &'a str,
    /// The chart's title.
    pub title: &'a str,
    /// A sentence describing it.
    pub desc: &'a str,
    /// What to draw when there is nothing to show.
    pub empty: &'a str,
}

/// The fill of a series' class, written into the drawing so that it keeps
/// its colours outside the page too (a saved or printed chart).
fn fill_of(class: &str) -> &'static str {
    match class {
        "received" => "#0a4f8a",
        "resolved" => "#2e7d32",
        "overdue" => "#b3261e",
        _ => "#6a4c93",
    }
}

/// Escapes text for XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS_MAX {
        return label.to_owned();
    }
    let mut short: String = label.chars().take(LABEL_CHARS_MAX - 1).collect();
    short.push('…');
    short
}

/// The smallest of 1, 2, 5 × 10^k at or above `max` (1 for nothing).
pub fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= max - 1e-9)
        .unwrap_or(10.0 * magnitude)
}

fn open_svg(out: &mut String, caption: &Caption<'_>, height: f64) {
    let id = escape(caption.id);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-t {id}-d" class="chart"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        escape(caption.title),
        escape(caption.desc)
    );
}

fn empty_chart(caption: &Caption<'_>) -> String {
    let mut out = String::new();
    open_svg(&mut out, caption, 60.0);
    let _ = write!(
        out,
        r##"<text x="{}" y="35" text-anchor="middle" fill="#4a5563">{}</text></svg>"##,
        WIDTH / 2.0,
        escape(caption.empty)
    );
    out
}

/// Vertical grouped bars: one group per category, one bar per series.
/// `max` fixes the top of the scale (100 for shares); else it is the nice
/// ceiling of the largest value. `format` writes a value for titles and
/// the scale.
pub fn grouped_bars(
    caption: &Caption<'_>,
    categories: &[String],
    series: &[Series],
    max: Option<f64>,
    format: &dyn Fn(f64) -> String,
) -> String {
    let categories = &categories[..categories.len().min(BARS_MAX)];
    let largest = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    if categories.is_empty() || series.is_empty() {
        return empty_chart(caption);
    }
    let top = max.unwrap_or_else(|| nice_ceiling(largest));
    let height = TOP + PLOT_HEIGHT + AXIS_BOTTOM;
    let mut out = String::new();
    open_svg(&mut out, caption, height);
    scale(&mut out, top, format);
    let group_width = (WIDTH - AXIS_LEFT) / categories.len() as f64;
    let bar_width = group_width * 0.8 / series.len() as f64;
    for (index, category) in categories.iter().enumerate() {
        let x0 = AXIS_LEFT + index as f64 * group_width + group_width * 0.1;
        for (k, s) in series.iter().enumerate() {
            let value = s.values.get(index).copied().unwrap_or(0.0).max(0.0);
            let bar_height = (value / top).min(1.0) * PLOT_HEIGHT;
            let _ = write!(
                out,
                r#"<rect class="bar {}" fill="{}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" data-value="{value}"><title>{}: {}, {}</title></rect>"#,
                s.class,
                fill_of(s.class),
                x0 + k as f64 * bar_width,
                TOP + PLOT_HEIGHT - bar_height,
                bar_width,
                bar_height,
                escape(category),
                escape(&s.name),
                escape(&format(value)),
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#1b1f24">{}</text>"##,
            x0 + group_width * 0.4,
            TOP + PLOT_HEIGHT + 16.0,
            escape(&shorten(category))
        );
    }
    out.push_str("</svg>");
    out
}

/// The scale of a vertical chart: gridlines and numbers at quarters.
fn scale(out: &mut String, top: f64, format: &dyn Fn(f64) -> String) {
    for step in 0..=4 {
        let value = top * f64::from(step) / 4.0;
        let y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * f64::from(step) / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{AXIS_LEFT}" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="#c9d1da"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#4a5563">{}</text>"##,
            AXIS_LEFT - 6.0,
            y + 4.0,
            escape(&format(value))
        );
    }
}

/// Horizontal bars, one labelled row per item.
pub fn horizontal_bars(
    caption: &Caption<'_>,
    rows: &[(String, f64)],
    class: &'static str,
    format: &dyn Fn(f64) -> String,
) -> String {
    let rows = &rows[..rows.len().min(BARS_MAX)];
    if rows.is_empty() {
        return empty_chart(caption);
    }
    let largest = rows.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let top = nice_ceiling(largest);
    let height = TOP * 2.0 + ROW_HEIGHT * rows.len() as f64;
    let plot_width = WIDTH - LABEL_WIDTH - 60.0;
    let mut out = String::new();
    open_svg(&mut out, caption, height);
    for (index, (label, value)) in rows.iter().enumerate() {
        let value = value.max(0.0);
        let y = TOP + index as f64 * ROW_HEIGHT;
        let width = (value / top).min(1.0) * plot_width;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#1b1f24">{}</text><rect class="bar {class}" fill="{}" x="{LABEL_WIDTH}" y="{:.1}" width="{width:.1}" height="{:.1}" data-value="{value}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="12" fill="#1b1f24">{}</text>"##,
            LABEL_WIDTH - 8.0,
            y + ROW_HEIGHT * 0.65,
            escape(&shorten(label)),
            fill_of(class),
            y + 4.0,
            ROW_HEIGHT - 8.0,
            escape(label),
            escape(&format(value)),
            LABEL_WIDTH + width + 6.0,
            y + ROW_HEIGHT * 0.65,
            escape(&format(value)),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn caption() -> Caption<'static> {
        Caption {
            id: "c",
            title: "Cases <by> month",
            desc: "Received & resolved",
            empty: "No data",
        }
    }

    /// (value, height) of every bar, in drawing order.
    fn bars(svg: &str) -> Vec<(f64, f64)> {
        svg.split("<rect ")
            .skip(1)
            .map(|rect| {
                let attr = |name: &str| -> f64 {
                    let start = rect.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    let end = start + rect[start..].find('"').unwrap();
                    rect[start..end].parse().unwrap()
                };
                let vertical =
                    rect.contains("class=\"bar received") || rect.contains("class=\"bar resolved");
                let extent = if vertical {
                    attr("height")
                } else {
                    attr("width")
                };
                (attr("data-value"), extent)
            })
            .collect()
    }

    #[test]
    fn nice_ceilings_are_one_two_or_five_times_a_power_of_ten() {
        for (max, nice) in [
            (0.0, 1.0),
            (1.0, 1.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (12.0, 20.0),
            (20.0, 20.0),
            (51.0, 100.0),
            (0.3, 0.5),
            (1234.0, 2000.0),
        ] {
            assert_eq!(nice_ceiling(max), nice, "{max}");
        }
    }

    #[test]
    fn bars_are_proportional_to_their_values_on_a_shared_scale() {
        let series = vec![
            Series {
                name: "received".into(),
                class: "received",
                values: vec![10.0, 5.0, 0.0],
            },
            Series {
                name: "resolved".into(),
                class: "resolved",
                values: vec![8.0, 2.5, 0.0],
            },
        ];
        let months = vec!["T1".to_owned(), "T2".to_owned(), "T3".to_owned()];
        let svg = grouped_bars(&caption(), &months, &series, None, &|v| format!("{v}"));
        let drawn = bars(&svg);
        assert_eq!(drawn.len(), 6, "one bar per month and series");
        // The scale tops at 10, so a bar's height is value / 10 of the plot.
        for (value, height) in drawn {
            assert!(
                (height - value / 10.0 * PLOT_HEIGHT).abs() < 0.1,
                "{value}: {height}"
            );
        }
    }

    #[test]
    fn a_fixed_maximum_is_kept_for_shares() {
        let series = vec![Series {
            name: "on time".into(),
            class: "resolved",
            values: vec![50.0],
        }];
        let svg = grouped_bars(&caption(), &["T1".to_owned()], &series, Some(100.0), &|v| {
            format!("{v}%")
        });
        assert_eq!(bars(&svg), vec![(50.0, PLOT_HEIGHT / 2.0)]);
        assert!(svg.contains(">100%</text>"), "the scale ends at 100%");
    }

    #[test]
    fn horizontal_bars_label_each_row_and_scale_to_the_largest() {
        let rows = vec![
            ("Ấp Âu Thọ A".to_owned(), 4.0),
            ("Xã <Vĩnh Hải>".to_owned(), 2.0),
        ];
        let svg = horizontal_bars(&caption(), &rows, "overdue", &|v| format!("{v}"));
        assert!(svg.contains("Ấp Âu Thọ A"));
        assert!(svg.contains("Xã &lt;Vĩnh Hải&gt;"), "labels are escaped");
        let widths: Vec<f64> = bars(&svg).into_iter().map(|(_, w)| w).collect();
        assert!((widths[0] / widths[1] - 2.0).abs() < 1e-6, "{widths:?}");
    }

    #[test]
    fn a_chart_without_data_says_so_and_every_chart_is_titled() {
        let svg = horizontal_bars(&caption(), &[], "topic", &|v| format!("{v}"));
        assert!(svg.contains(">No data</text>"));
        assert!(!svg.contains("<rect"));
        for svg in [
            svg,
            grouped_bars(&caption(), &[], &[], None, &|v| format!("{v}")),
        ] {
            assert!(svg.contains("<title id=\"c-t\">Cases &lt;by&gt; month</title>"));
            assert!(svg.contains("<desc id=\"c-d\">Received &amp; resolved</desc>"));
            assert!(svg.contains("role=\"img\""));
        }
    }

    #[test]
    fn long_labels_are_cut_in_the_drawing_but_whole_in_the_title() {
        let long = "Ban chỉ huy Bộ đội Biên phòng tỉnh Sóc Trăng và các đồn".to_owned();
        let svg = horizontal_bars(&caption(), &[(long.clone(), 1.0)], "topic", &|v| {
            format!("{v}")
        });
        assert!(svg.contains('…'));
        assert!(svg.contains(&format!("<title>{}: 1</title>", escape(&long))));
    }
}
