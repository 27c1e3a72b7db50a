//! The report page: Markdown, SVG and replay sections rendered into one self-contained HTML file.
//!
//! The page needs no network and opens from `file://`: the stylesheet, the SVG charts and the
//! viewer script are inline, and each replay section carries its episodes as JSON in a
//! `<script type="application/json">` element (with `<`, `>` and `&` written as `\u003c`,
//! `\u003e`, `\u0026`, so no `</script>` can end it early). The viewer (`viewer.js`) draws the
//! first episode's first step as soon as the page loads and sets `data-viewer="ready"` on
//! `<body>`; any script error is written into the `#viewer-error` element instead of vanishing.

use super::escape;
use crate::replay::{REPLAY_FORMAT, REPLAY_VERSION, Replay};
use anyhow::{Context, Result, bail};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Writes formatted text into a `String` (writing to a `String` cannot fail).
macro_rules! w {
    ($dst:expr, $($arg:tt)*) => {
        let _ = write!($dst, $($arg)*);
    };
}

/// The page's stylesheet, inlined into `<style>`.
const STYLE: &str = include_str!("style.css");
/// The replay viewer, inlined into `<script>` when the page has replays.
const VIEWER_JS: &str = include_str!("viewer.js");
/// Runs before the viewer: reports script errors (a syntax error in the viewer included) and a
/// viewer that never started in `#viewer-error`.
const ERROR_HOOK_JS: &str = r#"(function () {
  function report(msg) {
    var box = document.getElementById("viewer-error");
    if (box) { box.textContent += (box.textContent ? "\n" : "") + msg; }
    document.body.dataset.viewer = "error";
    if (window.console) { console.error(msg); }
  }
  window.ebmpcReportError = report;
  window.addEventListener("error", function (e) {
    report("viewer error: " + e.message + (e.filename ? " (" + e.filename + ":" + e.lineno + ")" : ""));
  });
  window.addEventListener("unhandledrejection", function (e) { report("viewer error: " + e.reason); });
  window.addEventListener("load", function () {
    if (!document.body.dataset.viewer) { report("viewer error: the replay viewer did not start"); }
  });
})();"#;

/// One block of the report, in page order.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    /// Text in the Markdown subset of [`markdown_to_html`] (headings, pipe tables, lists, code).
    Markdown(String),
    /// A chart, e.g. from [`super::svg`]: `svg` must be one `<svg>…</svg>` element.
    Svg {
        /// Caption shown above the chart.
        title: String,
        /// The SVG text.
        svg: String,
    },
    /// Recorded episodes, shown in one 3D viewer with an episode selector; at least one.
    Replays(Vec<Replay>),
}

/// A whole report page.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPage {
    /// Page title (`<title>` and the top heading).
    pub title: String,
    /// Blocks in page order.
    pub sections: Vec<Section>,
}

/// Renders `page` as one self-contained HTML document.
///
/// Errors when an SVG section is not an `<svg>` element, or when a replay section is empty, holds
/// a replay of another format or version than [`REPLAY_FORMAT`] v[`REPLAY_VERSION`], or a replay
/// with no steps.
pub fn render(page: &ReportPage) -> Result<String> {
    let mut body = String::new();
    let mut viewers = 0usize;
    for (i, section) in page.sections.iter().enumerate() {
        match section {
            Section::Markdown(md) => {
                w!(
                    body,
                    "<section class=\"markdown\">\n{}</section>\n",
                    markdown_to_html(md)
                );
            }
            Section::Svg { title, svg } => {
                let s = svg.trim();
                if !s.starts_with("<svg") || !s.ends_with("</svg>") {
                    bail!(
                        "section {i} ({title:?}): SVG of {} bytes does not start with <svg and end with </svg>",
                        s.len()
                    );
                }
                w!(
                    body,
                    "<figure class=\"chart\">\n<figcaption>{}</figcaption>\n{s}\n</figure>\n",
                    escape(title)
                );
            }
            Section::Replays(replays) => {
                check_replays(i, replays)?;
                body.push_str(&replay_section(viewers, replays)?);
                viewers += 1;
            }
        }
    }
    let mut out = String::with_capacity(body.len() + STYLE.len() + VIEWER_JS.len() + 1024);
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{t}</h1></header>\n<main>\n",
        t = escape(&page.title)
    );
    if viewers > 0 {
        out.push_str("<pre id=\"viewer-error\" class=\"viewer-error\" role=\"alert\"></pre>\n");
    }
    out.push_str(&body);
    out.push_str("</main>\n<footer>Generated by ebmpc. This page works offline.</footer>\n");
    if viewers > 0 {
        w!(
            out,
            "<script>\n{ERROR_HOOK_JS}\n</script>\n<script>\n{VIEWER_JS}</script>\n"
        );
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// Renders `page` and writes it to `dir/index.html` (creating `dir`) through a temporary file and
/// a rename, so a reader never sees half a page. Returns the file's path.
pub fn write_index(dir: &Path, page: &ReportPage) -> Result<PathBuf> {
    let html = render(page)?;
    let path = dir.join("index.html");
    sim::dataset::write_atomic(&path, html.as_bytes()).with_context(|| {
        format!(
            "writing the report {} ({} bytes)",
            path.display(),
            html.len()
        )
    })?;
    Ok(path)
}

/// Checks that the viewer can draw every replay of section `section`.
fn check_replays(section: usize, replays: &[Replay]) -> Result<()> {
    if replays.is_empty() {
        bail!("section {section}: a replay section needs at least 1 replay, got 0");
    }
    for (k, r) in replays.iter().enumerate() {
        if r.format != REPLAY_FORMAT || r.version != REPLAY_VERSION {
            bail!(
                "section {section}, replay {k} (seed {}): format {:?} version {}, expected {REPLAY_FORMAT:?} version {REPLAY_VERSION}",
                r.seed,
                r.format,
                r.version
            );
        }
        if r.steps.is_empty() {
            bail!(
                "section {section}, replay {k} (task {}, seed {}): 0 steps, the viewer needs at least 1",
                r.task,
                r.seed
            );
        }
    }
    Ok(())
}

/// The markup of replay viewer number `n`: controls, canvases and the episodes as JSON.
fn replay_section(n: usize, replays: &[Replay]) -> Result<String> {
    let json = serde_json::to_string(replays)
        .with_context(|| format!("encoding {} replays as JSON", replays.len()))?;
    let mut s = String::new();
    w!(
        s,
        "<section class=\"replays\">\n<h2>Episode replays</h2>\n\
         <div class=\"replay-viewer\" data-source=\"replay-data-{n}\">\n<div class=\"viewer-controls\">\n\
         <label>Episode <select class=\"viewer-episode\">"
    );
    for (k, r) in replays.iter().enumerate() {
        w!(
            s,
            "<option value=\"{k}\">{} · seed {} · {} · {} · {} steps</option>",
            escape(&r.task),
            r.seed,
            if r.success { "success" } else { "failure" },
            escape(&r.planner),
            r.steps.len()
        );
    }
    s.push_str(
        "</select></label>\n\
         <button type=\"button\" class=\"viewer-play\">Play</button>\n\
         <input type=\"range\" class=\"viewer-step\" min=\"0\" max=\"0\" value=\"0\" aria-label=\"step\">\n\
         <span class=\"viewer-step-label\">step 0</span>\n</div>\n\
         <canvas class=\"viewer-canvas\" width=\"960\" height=\"540\" tabindex=\"0\"></canvas>\n\
         <div class=\"viewer-stats\"></div>\n\
         <canvas class=\"viewer-timeline\" width=\"960\" height=\"90\"></canvas>\n\
         <p class=\"viewer-help\">Drag to orbit, scroll to zoom, double-click to reset the view; \
         ←/→ step, space plays. The orange line is the plan's intended palm path at this step \
         (the sum of its clipped displacements), the grey line the palm's path so far.</p>\n\
         <noscript>The replay viewer needs JavaScript.</noscript>\n</div>\n",
    );
    w!(
        s,
        "<script type=\"application/json\" id=\"replay-data-{n}\">{}</script>\n</section>\n",
        json_for_script(&json)
    );
    Ok(s)
}

/// JSON text made safe inside a `<script>` element: `<`, `>` and `&` (which JSON allows only
/// inside strings) become `\u003c`, `\u003e`, `\u0026`; `JSON.parse` reads them back unchanged.
pub fn json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            _ => out.push(c),
        }
    }
    out
}

/// Converts the Markdown subset that reports use into HTML, escaping everything else:
/// `#` … `######` headings (shifted one level down, as the page title is the only `<h1>`), pipe
/// tables with a `|---|:---:|` separator row (its colons set the alignment), `-`/`*` lists,
/// fenced code blocks, and paragraphs separated by blank lines. Inline: `` `code` ``,
/// `**bold**` and `[text](url)` links.
pub fn markdown_to_html(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if !para.is_empty() {
            w!(out, "<p>{}</p>\n", inline(&para.join(" ")));
            para.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if t.starts_with("```") {
            flush(&mut para, &mut out);
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i]);
                i += 1;
            }
            w!(
                out,
                "<pre><code>{}</code></pre>\n",
                escape(&code.join("\n"))
            );
            i += 1;
        } else if t.is_empty() {
            flush(&mut para, &mut out);
            i += 1;
        } else if let Some((level, text)) = heading(t) {
            flush(&mut para, &mut out);
            let h = (level + 1).min(6);
            w!(out, "<h{h}>{}</h{h}>\n", inline(text));
            i += 1;
        } else if t.starts_with('|') && i + 1 < lines.len() && separator(lines[i + 1]).is_some() {
            flush(&mut para, &mut out);
            let aligns = separator(lines[i + 1]).unwrap_or_default();
            let mut rows = vec![split_row(t)];
            i += 2;
            while i < lines.len() && lines[i].trim().starts_with('|') {
                rows.push(split_row(lines[i].trim()));
                i += 1;
            }
            table(&mut out, &rows, &aligns);
        } else if let Some(item) = list_item(t) {
            flush(&mut para, &mut out);
            out.push_str("<ul>\n");
            w!(out, "<li>{}</li>\n", inline(item));
            i += 1;
            while let Some(item) = lines.get(i).and_then(|l| list_item(l.trim())) {
                w!(out, "<li>{}</li>\n", inline(item));
                i += 1;
            }
            out.push_str("</ul>\n");
        } else {
            para.push(t);
            i += 1;
        }
    }
    flush(&mut para, &mut out);
    out
}

/// `(level, text)` of an ATX heading line such as `## Results`.
fn heading(t: &str) -> Option<(usize, &str)> {
    let level = t.chars().take_while(|&c| c == '#').count();
    let rest = &t[level..];
    if (1..=6).contains(&level) && (rest.is_empty() || rest.starts_with(' ')) {
        Some((level, rest.trim().trim_end_matches('#').trim_end()))
    } else {
        None
    }
}

/// The text of a `- item` or `* item` line.
fn list_item(t: &str) -> Option<&str> {
    t.strip_prefix("- ").or_else(|| t.strip_prefix("* "))
}

/// Column alignment of a table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Align {
    /// No colon: the browser's default.
    Default,
    /// `:---`.
    Left,
    /// `:---:`.
    Center,
    /// `---:`.
    Right,
}

/// The alignments of a separator row such as `|---|:--:|--:|`, or `None` if `line` is not one.
fn separator(line: &str) -> Option<Vec<Align>> {
    let t = line.trim();
    if !t.contains('-') || !(t.starts_with('|') || t.contains('|')) {
        return None;
    }
    split_row(t)
        .iter()
        .map(|cell| {
            let c = cell.trim();
            let dashes = c.trim_matches(':');
            if dashes.is_empty() || !dashes.chars().all(|ch| ch == '-') {
                return None;
            }
            Some(match (c.starts_with(':'), c.ends_with(':')) {
                (true, true) => Align::Center,
                (true, false) => Align::Left,
                (false, true) => Align::Right,
                (false, false) => Align::Default,
            })
        })
        .collect()
}

/// The cells of a table row `| a | b |`; `\|` is a literal bar inside a cell.
fn split_row(t: &str) -> Vec<String> {
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = if t.ends_with('|') && !t.ends_with("\\|") {
        &t[..t.len() - 1]
    } else {
        t
    };
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cur.push('|');
            }
            '|' => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    cells.push(cur);
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Appends a `<table>` with `rows[0]` as the header; rows are cut or padded to its width.
fn table(out: &mut String, rows: &[Vec<String>], aligns: &[Align]) {
    let width = rows[0].len();
    let cell = |out: &mut String, tag: &str, col: usize, text: &str| {
        let style = match aligns.get(col).copied().unwrap_or(Align::Default) {
            Align::Default => "",
            Align::Left => " style=\"text-align:left\"",
            Align::Center => " style=\"text-align:center\"",
            Align::Right => " style=\"text-align:right\"",
        };
        w!(out, "<{tag}{style}>{}</{tag}>", inline(text));
    };
    out.push_str("<div class=\"table-wrap\"><table>\n<thead><tr>");
    for (c, text) in rows[0].iter().enumerate() {
        cell(out, "th", c, text);
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows[1..] {
        out.push_str("<tr>");
        for c in 0..width {
            cell(out, "td", c, row.get(c).map_or("", String::as_str));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// Inline Markdown: `` `code` ``, `**bold**` and `[text](url)`; everything else is escaped.
/// Links to `javascript:` URLs are shown as plain text.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(pos) = rest.find(['`', '*', '[']) {
        out.push_str(&escape(&rest[..pos]));
        let tail = &rest[pos..];
        if let Some(code) = tail.strip_prefix('`')
            && let Some(end) = code.find('`')
        {
            w!(out, "<code>{}</code>", escape(&code[..end]));
            rest = &code[end + 1..];
        } else if let Some(bold) = tail.strip_prefix("**")
            && let Some(end) = bold.find("**")
            && end > 0
        {
            w!(out, "<strong>{}</strong>", inline(&bold[..end]));
            rest = &bold[end + 2..];
        } else if let Some((label, url, after)) = link(tail) {
            if url
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("javascript:")
            {
                out.push_str(&escape(label));
            } else {
                w!(out, "<a href=\"{}\">{}</a>", escape(url), inline(label));
            }
            rest = after;
        } else {
            out.push_str(&escape(&tail[..1]));
            rest = &tail[1..];
        }
    }
    out.push_str(&escape(rest));
    out
}

/// `(label, url, rest)` when `t` starts with `[label](url)`.
fn link(t: &str) -> Option<(&str, &str, &str)> {
    let inner = t.strip_prefix('[')?;
    let close = inner.find("](")?;
    let after = &inner[close + 2..];
    let end = after.find(')')?;
    Some((&inner[..close], &after[..end], &after[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{ReplayScene, ReplayStep};

    fn replay(seed: u64) -> Replay {
        Replay {
            format: REPLAY_FORMAT.into(),
            version: REPLAY_VERSION,
            task: "reach</script><b>".into(),
            model: "oracle".into(),
            planner: "cem".into(),
            seed,
            success: true,
            goal: [0.1, 0.0, 0.1],
            scene: ReplayScene {
                cube_size: 0.04,
                palm_half: [0.07, 0.025, 0.01],
                finger_half: [0.008, 0.012, 0.03],
                workspace_min: [-0.25, -0.25, 0.0],
                workspace_max: [0.25, 0.25, 0.35],
            },
            steps: vec![ReplayStep {
                phase: 0,
                palm: [0.0, 0.0, 0.2],
                finger_gap: 0.05,
                cube_pos: [0.0, 0.1, 0.02],
                cube_quat: [0.0, 0.0, 0.0, 1.0],
                action: [0.0; 4],
                planned_palm: vec![[0.01, 0.0, 0.2]],
                plan_ms: 1.5,
                energy: 0.25,
            }],
        }
    }

    #[test]
    fn markdown_tables_headings_and_inline_code_become_html() {
        let md = "# Results\n\nRun with `ebmpc run --report <dir>` & see.\nSecond line.\n\n\
                  | task | planner | success |\n|:-----|:---:|---:|\n| reach | cem | 0.95 |\n\
                  | a \\| b | **x** |\n\n- one\n- two\n";
        let html = markdown_to_html(md);
        assert!(html.contains("<h2>Results</h2>"), "{html}");
        assert!(html.contains(
            "<p>Run with <code>ebmpc run --report &lt;dir&gt;</code> &amp; see. Second line.</p>"
        ));
        assert!(html.contains("<th style=\"text-align:left\">task</th>"));
        assert!(html.contains("<th style=\"text-align:center\">planner</th>"));
        assert!(html.contains("<td style=\"text-align:right\">0.95</td>"));
        assert!(html.contains("<td style=\"text-align:left\">a | b</td>"));
        assert!(html.contains("<strong>x</strong>"));
        assert!(
            html.contains("<td style=\"text-align:right\"></td>"),
            "padded row"
        );
        assert!(html.contains("<ul>\n<li>one</li>\n<li>two</li>\n</ul>"));
    }

    #[test]
    fn markdown_escapes_html_and_drops_javascript_links() {
        let html = markdown_to_html(
            "<script>alert(1)</script> [x](javascript:alert(1)) [r](replays/a.json)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("<a href=\"replays/a.json\">r</a>"));
        let html = markdown_to_html("```\n<b>|x|</b>\n```\n## Not `closed\n");
        assert!(
            html.contains("<pre><code>&lt;b&gt;|x|&lt;/b&gt;</code></pre>"),
            "{html}"
        );
        assert!(html.contains("<h3>Not `closed</h3>"), "{html}");
    }

    #[test]
    fn replay_json_cannot_close_its_script_element() {
        let page = ReportPage {
            title: "t".into(),
            sections: vec![Section::Replays(vec![replay(1), replay(2)])],
        };
        let html = render(&page).unwrap();
        let start = html.find("id=\"replay-data-0\">").unwrap() + "id=\"replay-data-0\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let back: Vec<Replay> = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(back, vec![replay(1), replay(2)]);
        assert!(html.contains("id=\"viewer-error\""));
        assert!(html.contains("reach&lt;/script&gt;&lt;b&gt; · seed 2 · success"));
    }

    #[test]
    fn bad_sections_are_errors_with_their_numbers() {
        let mut bad = replay(7);
        bad.version = 9;
        let cases = [
            (Section::Replays(vec![]), "got 0"),
            (
                Section::Replays(vec![replay(1), bad]),
                "replay 1 (seed 7): format \"ebmpc_replay\" version 9, expected",
            ),
            (
                Section::Svg {
                    title: "c".into(),
                    svg: "<div/>".into(),
                },
                "SVG of 6 bytes",
            ),
        ];
        for (section, want) in cases {
            let page = ReportPage {
                title: "t".into(),
                sections: vec![Section::Markdown("x".into()), section],
            };
            let err = render(&page).unwrap_err().to_string();
            assert!(err.contains(want) && err.contains("section 1"), "{err}");
        }
        let mut empty = replay(3);
        empty.steps.clear();
        let page = ReportPage {
            title: "t".into(),
            sections: vec![Section::Replays(vec![empty])],
        };
        assert!(render(&page).unwrap_err().to_string().contains("0 steps"));
    }

    #[test]
    fn page_without_replays_has_no_script() {
        let page = ReportPage {
            title: "A & B".into(),
            sections: vec![Section::Markdown("hi".into())],
        };
        let html = render(&page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>A &amp; B</title>"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn write_index_writes_index_html_in_a_new_dir() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report");
        let page = ReportPage {
            title: "t".into(),
            sections: vec![],
        };
        let path = write_index(&target, &page).unwrap();
        assert_eq!(path, target.join("index.html"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render(&page).unwrap()
        );
        let names: Vec<_> = std::fs::read_dir(&target).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
    }
}
