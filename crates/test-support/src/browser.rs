//! Real-browser checks: `web/browser/check-page.mjs` opens a page in Debian's headless
//! Chromium through playwright-core (from `web/package-lock.json`; no browser download)
//! and reports console errors, requests that left the page, the pixels each chart drew,
//! tooltip texts and a screenshot.
//!
//! Tests skip with a loud notice when Node.js, Chromium or `web/node_modules` are
//! missing, unless `FORECAST_REQUIRE_BROWSER=1` (CI), where that fails them.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// The workspace's root directory: two levels above the running test's package
/// (`CARGO_MANIFEST_DIR`, which cargo sets when it runs a test). Read at run time: a
/// build cache shared by two checkouts of the same code may hand a test binary built in
/// the other checkout, whose compile-time path is not this one.
pub fn workspace_root() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package.join("../..")
}

/// A browser the tests can drive.
#[derive(Debug, Clone)]
pub struct Browser {
    script: PathBuf,
}

/// Where the tests write their screenshots: `$FORECAST_SCREENSHOTS`, else
/// `browser-screenshots/` in the build directory.
pub fn screenshot_dir() -> PathBuf {
    let dir = match std::env::var("FORECAST_SCREENSHOTS") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| workspace_root().join("target"));
            target.join("browser-screenshots")
        }
    };
    std::fs::create_dir_all(&dir).expect("creating the screenshot directory");
    dir
}

/// The browser, or `None` after printing a SKIPPED notice for `test`; panics instead
/// under `FORECAST_REQUIRE_BROWSER=1`.
pub fn browser_or_skip(test: &str) -> Option<Browser> {
    let root = workspace_root();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = if !node_ok {
        Some("node is not on PATH (apt-get install nodejs npm)".to_string())
    } else if !Path::new(&chromium).exists() {
        Some(format!(
            "{chromium} does not exist (apt-get install chromium)"
        ))
    } else if !root.join("web/node_modules/playwright-core").exists() {
        Some("web/node_modules/playwright-core is missing (cd web && npm ci)".to_string())
    } else {
        None
    };
    match missing {
        None => Some(Browser {
            script: root.join("web/browser/check-page.mjs"),
        }),
        Some(why) => {
            assert!(
                std::env::var("FORECAST_REQUIRE_BROWSER").map_or(true, |v| v != "1"),
                "{test}: {why}, but FORECAST_REQUIRE_BROWSER=1"
            );
            let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {test}: {why} ***\n");
            None
        }
    }
}

/// A file path as a `file://` URL.
pub fn file_url(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).expect("the page exists");
    format!("file://{}", abs.display())
}

impl Browser {
    fn command(&self, url: &str, screenshot: Option<&Path>, hovers: &[(&str, usize)]) -> Command {
        let mut cmd = Command::new("node");
        cmd.arg(&self.script).arg("--url").arg(url);
        if let Some(s) = screenshot {
            cmd.arg("--screenshot").arg(s);
        }
        for (id, index) in hovers {
            cmd.arg("--hover").arg(format!("{id}:{index}"));
        }
        cmd
    }

    /// Opens `url`, waits until the page says it has drawn (`body[data-rendered]`, or
    /// `wait` such as `data-ready=true`), hovers each `(chart id, axis index)` and
    /// returns the script's summary (`console_errors`, `page_errors`,
    /// `external_requests`, `charts`, `tooltips`, `render_ms`, `error`).
    pub fn check(
        &self,
        url: &str,
        screenshot: Option<&Path>,
        hovers: &[(&str, usize)],
        wait: Option<&str>,
    ) -> Value {
        let mut cmd = self.command(url, screenshot, hovers);
        if let Some(w) = wait {
            cmd.arg("--wait").arg(w);
        }
        let out = cmd.output().expect("running node");
        summary(&out.stdout, &out.stderr)
    }

    /// Opens a live page and returns once it is ready; the caller then sends bars and
    /// calls [`LivePage::finish`], which waits until the page has drawn `bars` live bars.
    pub fn open_live(
        &self,
        url: &str,
        screenshot: Option<&Path>,
        wait: &str,
        bars: usize,
    ) -> LivePage {
        let mut cmd = self.command(url, screenshot, &[]);
        cmd.arg("--wait")
            .arg(wait)
            .arg("--wait-for-bars")
            .arg(bars.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running node");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("reading the page's first line");
        let ready: Value = serde_json::from_str(first.trim()).unwrap_or(Value::Null);
        LivePage {
            child,
            stdout,
            first,
            ready: ready["ready"] == true,
        }
    }
}

/// A page opened by [`Browser::open_live`].
#[derive(Debug)]
pub struct LivePage {
    child: Child,
    stdout: BufReader<ChildStdout>,
    first: String,
    /// Whether the page became ready (else [`LivePage::finish`] returns the error).
    pub ready: bool,
}

impl LivePage {
    /// Waits for the page's summary (see [`Browser::check`]; plus `before`, `after` and
    /// `alerts`).
    pub fn finish(mut self) -> Value {
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut self.stdout, &mut rest).expect("reading the summary");
        let mut stderr = Vec::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_end(&mut e, &mut stderr);
        }
        let _ = self.child.wait();
        let mut all = self.first.into_bytes();
        all.extend(rest);
        summary(&all, &stderr)
    }
}

fn summary(stdout: &[u8], stderr: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "the browser script printed no summary ({e}):\nstdout: {text}\nstderr: {}",
            String::from_utf8_lossy(stderr)
        )
    })
}

/// Panics with the summary unless the page loaded cleanly: no script error, no console
/// error, nothing fetched from elsewhere, and every chart drew at least `min_pixels`
/// coloured pixels.
pub fn assert_clean(summary: &Value, min_pixels: u64) {
    assert!(summary["error"].is_null(), "the page failed: {summary:#}");
    for key in ["console_errors", "page_errors", "external_requests"] {
        let list = summary[key].as_array().map_or(0, Vec::len);
        assert_eq!(list, 0, "{key}: {:#}", summary[key]);
    }
    let charts = summary["charts"]
        .as_object()
        .expect("charts in the summary");
    assert!(!charts.is_empty(), "the page drew no chart: {summary:#}");
    for (id, c) in charts {
        let px = c["coloured_pixels"].as_u64().unwrap_or(0);
        assert!(
            px >= min_pixels,
            "chart {id} drew {px} coloured pixels (< {min_pixels}): blank? {c}"
        );
    }
}

/// The numbers in a tooltip line `name: value` (or `name: lo – hi`) for `name`.
pub fn tooltip_values(tooltip: &str, name: &str) -> Option<Vec<f64>> {
    tooltip.lines().find_map(|line| {
        let line = line.trim();
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let nums: Vec<f64> = rest
            .split(['–', ' '])
            .filter_map(|t| t.trim().parse().ok())
            .collect();
        (!nums.is_empty()).then_some(nums)
    })
}
