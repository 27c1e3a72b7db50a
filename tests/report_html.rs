//! The offline report page: it holds the Markdown table, the SVG chart and the replays as JSON;
//! and, where Chromium is installed (`scripts/install_chromium.sh`), the 3D replay viewer runs in a
//! headless browser without errors and paints a canvas that is not blank.
//!
//! Set `EBMPC_KEEP_REPORT=<dir>` to keep the page and the screenshot in `<dir>` for a look.

use ebmpc::replay::{REPLAY_FORMAT, REPLAY_VERSION, Replay, ReplayScene, ReplayStep};
use ebmpc::report::html::{ReportPage, Section, write_index};
use ebmpc::report::svg::{Series, bar_chart, cdf_chart, line_chart};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a Chromium call may take before the test kills it and fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// A synthetic episode: the palm moves in a straight line from `from` to `to` over `n` steps,
/// closing the fingers at the end, while the cube (yawed by `yaw` rad) slides by `cube_shift`.
fn replay(
    task: &str,
    seed: u64,
    success: bool,
    n: usize,
    yaw: f32,
    cube_shift: [f32; 2],
) -> Replay {
    let from = [-0.12, -0.1, 0.22];
    let to = [0.08, 0.05, 0.07];
    let lerp = |t: f32| -> [f32; 3] {
        let t = t.clamp(0.0, 1.0);
        [0, 1, 2].map(|j| from[j] + (to[j] - from[j]) * t)
    };
    let steps = (0..n)
        .map(|i| {
            let t = i as f32 / (n - 1) as f32;
            let last = i + 1 == n;
            ReplayStep {
                phase: 0,
                palm: lerp(t),
                finger_gap: if t > 0.8 { 0.04 } else { 0.08 },
                cube_pos: [0.08 + cube_shift[0] * t, 0.05 + cube_shift[1] * t, 0.02],
                cube_quat: [0.0, 0.0, (yaw / 2.0).sin(), (yaw / 2.0).cos()],
                action: if last {
                    [0.0; 4]
                } else {
                    [0.5, 0.4, -0.4, 0.0]
                },
                planned_palm: if last {
                    vec![]
                } else {
                    (1..=8)
                        .map(|k| lerp(t + k as f32 / (n - 1) as f32))
                        .collect()
                },
                plan_ms: 2.0 + (i as f64 * 0.7).sin().abs() * 3.0,
                energy: 1.0 - 0.9 * t,
            }
        })
        .collect();
    Replay {
        format: REPLAY_FORMAT.into(),
        version: REPLAY_VERSION,
        task: task.into(),
        model: "oracle".into(),
        planner: "cem".into(),
        seed,
        success,
        goal: [0.15, 0.1, 0.02],
        scene: ReplayScene {
            cube_size: 0.04,
            palm_half: [0.07, 0.025, 0.01],
            finger_half: [0.008, 0.012, 0.03],
            workspace_min: [-0.25, -0.25, 0.0],
            workspace_max: [0.25, 0.25, 0.35],
        },
        steps,
    }
}

fn replays() -> Vec<Replay> {
    vec![
        replay("pick_place", 11, true, 30, 0.5, [0.0, 0.0]),
        replay("push", 12, false, 20, 0.0, [0.05, 0.03]),
    ]
}

/// The page: the viewer first (so it is in the screenshot's viewport), then a table and a chart.
fn page() -> ReportPage {
    let table = "## Summary\n\n| task | planner | success | p50 ms |\n|---|---|---:|---:|\n\
                 | pick_place | cem | 1.00 | 3.10 |\n| push | cem | 0.00 | 2.70 |\n";
    let svg = bar_chart(
        "success rate",
        "success",
        &["pick_place".to_string(), "push".to_string()],
        &[("cem".to_string(), vec![1.0, 0.0])],
        Some(1.0),
    );
    ReportPage {
        title: "ebmpc report test".into(),
        sections: vec![
            Section::Replays(replays()),
            Section::Markdown(table.into()),
            Section::Svg {
                title: "Success per task".into(),
                svg,
            },
            Section::Svg {
                title: "Energy per iteration".into(),
                svg: line_chart(
                    "best energy per optimizer iteration",
                    "iteration",
                    "energy",
                    &[
                        Series {
                            name: "cem".into(),
                            points: (1..=6).map(|i| (i as f64, 1.0 / i as f64)).collect(),
                        },
                        Series {
                            name: "mppi".into(),
                            points: (1..=6).map(|i| (i as f64, 0.8 / (i * i) as f64)).collect(),
                        },
                    ],
                    false,
                    true,
                ),
            },
            Section::Svg {
                title: "Plan latency".into(),
                svg: cdf_chart(
                    "plan latency per control step",
                    "plan time (ms)",
                    &[
                        (
                            "cem".into(),
                            replays()[0].steps.iter().map(|s| s.plan_ms).collect(),
                        ),
                        (
                            "mppi".into(),
                            replays()[1].steps.iter().map(|s| s.plan_ms * 3.0).collect(),
                        ),
                    ],
                    true,
                ),
            },
        ],
    }
}

/// The JSON inside `<script type="application/json" id="replay-data-0">`.
fn replay_json(html: &str) -> &str {
    let open = "<script type=\"application/json\" id=\"replay-data-0\">";
    let start = html.find(open).expect("replay JSON element") + open.len();
    let end = start
        + html[start..]
            .find("</script>")
            .expect("closed JSON element");
    &html[start..end]
}

#[test]
fn report_page_holds_table_chart_and_replay_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_index(dir.path(), &page()).unwrap();
    assert_eq!(path, dir.path().join("index.html"));
    let html = std::fs::read_to_string(&path).unwrap();

    assert!(
        html.contains("<th>task</th><th>planner</th>"),
        "table header"
    );
    assert!(
        html.contains("<td>pick_place</td><td>cem</td><td style=\"text-align:right\">1.00</td>")
    );
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert!(html.contains("<figcaption>Success per task</figcaption>"));
    // Byte-exact against serde's output once the script-safe escapes are undone (comparing parsed
    // values would trip over serde_json's last-bit float parsing).
    let json = replay_json(&html);
    assert!(!json.contains('<') && !json.contains('>'));
    let unescaped = json
        .replace("\\u003c", "<")
        .replace("\\u003e", ">")
        .replace("\\u0026", "&");
    assert!(
        unescaped == serde_json::to_string(&replays()).unwrap(),
        "replay JSON differs"
    );
    let back: Vec<Replay> = serde_json::from_str(json).unwrap();
    let seeds: Vec<(u64, usize, bool)> = back
        .iter()
        .map(|r| (r.seed, r.steps.len(), r.success))
        .collect();
    assert_eq!(seeds, [(11, 30, true), (12, 20, false)]);
    assert!(html.contains("id=\"viewer-error\""));
    assert!(html.contains("class=\"viewer-canvas\""));
    for offline in ["http://", "https://", "<link", "src=\""] {
        let hits: Vec<_> = html.match_indices(offline).collect();
        // The only URL allowed is the SVG namespace, which is a name, not a fetch.
        let ok = hits
            .iter()
            .all(|(i, _)| html[*i..].starts_with("http://www.w3.org/2000/svg"));
        assert!(ok, "page refers to something outside it: {offline}");
    }
}

/// Chromium's path: `/usr/bin/chromium`, else `chromium` on `PATH`.
fn chromium() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    })
}

/// Runs headless Chromium on `url` with `extra` arguments; returns its stdout. Panics (failing
/// the test) when it runs past [`CHROMIUM_TIMEOUT`] or exits non-zero.
fn run_chromium(bin: &Path, url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--window-size=1200,900")
        .arg("--virtual-time-budget=3000")
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        // Files, not pipes: a chatty browser cannot block on a full pipe while we wait.
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {extra:?} ran past {} s and was killed; stderr:\n{}",
                CHROMIUM_TIMEOUT.as_secs(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium {extra:?} failed with {status}; stderr:\n{stderr}"
    );
    eprintln!("chromium {extra:?}: {:.1} s", start.elapsed().as_secs_f64());
    std::fs::read_to_string(&out_path).unwrap()
}

/// The value of `attr="…"` in the `<body>` tag of `dom`.
fn body_attr<'a>(dom: &'a str, attr: &str) -> Option<&'a str> {
    let body = &dom[dom.find("<body")?..];
    let tag = &body[..body.find('>')?];
    let key = format!("{attr}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// Decodes an 8-bit RGB(A) PNG into `(width, height, rgb pixels)`.
fn decode_png(bytes: Vec<u8>) -> (usize, usize, Vec<[u8; 3]>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "expected a colour screenshot, got {:?}",
        info.color_type
    );
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width as usize, info.height as usize, pixels)
}

#[test]
fn viewer_draws_the_first_step_in_headless_chromium() {
    let Some(bin) = chromium() else {
        println!("skipped: chromium not installed (run scripts/install_chromium.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let index = write_index(dir.path(), &page()).unwrap();
    let url = format!("file://{}", index.display());
    let started = Instant::now();

    let dom = run_chromium(&bin, &url, &["--dump-dom".to_string()]);
    let err_start = dom
        .find("id=\"viewer-error\"")
        .expect("error element in the DOM");
    let err_text = &dom[err_start..];
    let err_text = &err_text[err_text.find('>').unwrap() + 1..err_text.find("</pre>").unwrap()];
    assert_eq!(err_text, "", "the viewer reported errors");
    assert_eq!(
        body_attr(&dom, "data-viewer"),
        Some("ready"),
        "viewer did not finish its first draw"
    );
    let first = &replays()[0].steps[0];
    assert!(
        dom.contains(&format!("plan {:.2} ms", first.plan_ms)),
        "the stats line does not show step 0's plan time"
    );
    assert!(
        dom.contains("step 0 / 29"),
        "step label of the first episode"
    );
    let rect: Vec<f64> = body_attr(&dom, "data-viewer-canvas")
        .expect("canvas position")
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(rect.len(), 4, "{rect:?}");

    let shot = dir.path().join("shot.png");
    run_chromium(&bin, &url, &[format!("--screenshot={}", shot.display())]);
    let (w, h, px) = decode_png(std::fs::read(&shot).expect("screenshot file"));
    if let Some(keep) = std::env::var_os("EBMPC_KEEP_REPORT") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&index, keep.join("index.html")).unwrap();
        std::fs::copy(&shot, keep.join("shot.png")).unwrap();
    }

    // The inner 80% of the canvas, clipped to the screenshot (device scale factor 1).
    let (cx, cy, cw, ch) = (rect[0], rect[1], rect[2], rect[3]);
    let x0 = (cx + 0.1 * cw).max(0.0) as usize;
    let y0 = (cy + 0.1 * ch).max(0.0) as usize;
    let x1 = ((cx + 0.9 * cw) as usize).min(w);
    let y1 = ((cy + 0.9 * ch) as usize).min(h);
    assert!(
        x1 > x0 + 100 && y1 > y0 + 100,
        "canvas {rect:?} is not inside the {w}x{h} screenshot"
    );
    let mut colours = std::collections::HashSet::new();
    let mut painted = 0usize;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = px[y * w + x];
            colours.insert(p);
            // An unpainted canvas shows the white section behind it.
            if p != [255, 255, 255] {
                painted += 1;
            }
        }
    }
    let total = (x1 - x0) * (y1 - y0);
    eprintln!(
        "canvas region {}x{}: {} colours, {:.1}% painted; browser test took {:.1} s",
        x1 - x0,
        y1 - y0,
        colours.len(),
        100.0 * painted as f64 / total as f64,
        started.elapsed().as_secs_f64()
    );
    assert!(
        colours.len() >= 50,
        "canvas looks blank: {} colours",
        colours.len()
    );
    assert!(
        painted * 10 >= total * 9,
        "canvas looks blank: {painted} of {total} pixels painted"
    );
}
