//! The offline report: one self-contained `index.html` with tables, SVG charts and a 3D replay
//! viewer, readable from `file://` without a network.
//!
//! - [`svg`] draws charts (grouped bars, lines, empirical CDFs) as SVG strings with no external
//!   fonts or stylesheets.
//! - [`html`] assembles a [`html::ReportPage`] of Markdown, SVG and replay sections into one page
//!   with inline CSS, inline SVG, the replays inlined as JSON, and the viewer script
//!   (`viewer.js`, no libraries) that draws them on a canvas.

pub mod html;
pub mod svg;

/// Escapes `s` for HTML/SVG text and attribute values (`&`, `<`, `>`, `"`, `'`).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }
}
