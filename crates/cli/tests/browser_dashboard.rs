//! The dashboard of `forecast serve` in a real browser (Debian's headless Chromium via
//! playwright-core) against the real server: the page loads with no console or script
//! error and fetches nothing from elsewhere, the chart draws, its tooltip shows the last
//! bar's prices, and a bar sent over the server's WebSocket stream by another client
//! appears on the chart, moves the forecast and fires the band alert on the page.
//! Screenshots: `dashboard.png` and `dashboard-live.png`. Skipped loudly without
//! Chromium unless `FORECAST_REQUIRE_BROWSER=1`.

mod common;

use common::serving::{next_json, send, serve, ws};
use common::{dataset, ok, root, train_args, MSFT_NEXT_TRADING_DAYS};
use forecast_test_support::browser::{assert_clean, browser_or_skip, screenshot_dir};
use serde_json::json;

/// The last row of `datasets/msft_daily.csv`: its date and open, high, low, close.
fn last_bar() -> (String, [f64; 4]) {
    let csv = std::fs::read_to_string(dataset("msft_daily.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let col = |name: &str| -> f64 {
        let i = header.iter().position(|h| *h == name).unwrap();
        last[i].parse().unwrap()
    };
    (
        last[0].to_string(),
        [col("open"), col("high"), col("low"), col("close")],
    )
}

/// The number after `label` in a tooltip line such as `O 84.04 H 84.54 L 83.40 C 84.09`.
fn after(text: &str, label: &str) -> f64 {
    text.split_whitespace()
        .skip_while(|t| *t != label)
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no {label} in {text}"))
}

#[test]
fn a_bar_sent_to_the_server_appears_on_the_dashboard_and_moves_the_forecast() {
    let Some(browser) = browser_or_skip("dashboard in Chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("msft");
    let model = model.to_str().unwrap();
    ok(&train_args(
        &dataset("msft_daily.csv"),
        "close",
        "naive",
        model,
        &[],
    ));
    let rules = root().join("experiments/alerts/dashboard.toml");
    let srv = serve(
        &[
            "--model",
            model,
            "--data",
            &dataset("msft_daily.csv"),
            "--rules",
            rules.to_str().unwrap(),
        ],
        &[],
    );
    let url = format!("http://{}/", srv.addr);
    let shots = screenshot_dir();

    // The page as it opens: the last 500 bars (the data endpoint's default), then the
    // forecast; the tooltip over the last bar shows its prices (2 decimals).
    let (date, ohlc) = last_bar();
    let first = browser.check(&url, None, &[("dashboard", 499)], Some("data-ready=true"));
    assert_clean(&first, 150);
    let text = first["tooltips"]["dashboard:499"]
        .as_str()
        .unwrap_or_else(|| panic!("no tooltip: {first:#}"));
    assert!(text.contains(&date), "{text}");
    for (label, v) in ["O", "H", "L", "C"].iter().zip(ohlc) {
        assert!(
            (after(text, label) - v).abs() <= 0.005 + 1e-9,
            "{label}: {text}"
        );
    }

    // Live: the page is open and ready; another client streams a bar far above the
    // 95% band.
    let page = browser.open_live(
        &url,
        Some(&shots.join("dashboard.png")),
        "data-ready=true",
        1,
    );
    assert!(
        page.ready,
        "the dashboard did not become ready: {:#}",
        page.finish()
    );
    let mut stream = ws(&srv.addr, "/v1/models/msft/stream", None).unwrap();
    send(
        &mut stream,
        json!({"type": "subscribe", "h": 5, "level": [95]}),
    );
    assert_eq!(next_json(&mut stream)["type"], "subscribed");
    assert_eq!(next_json(&mut stream)["type"], "forecast");
    let close = ohlc[3];
    let jump = close * 1.25;
    send(
        &mut stream,
        json!({"type": "bar", "ds": MSFT_NEXT_TRADING_DAYS[0], "y": jump,
               "open": close, "high": jump * 1.01, "low": close * 0.99}),
    );
    let summary = page.finish();
    assert_clean(&summary, 150);
    let (before, after_) = (&summary["before"], &summary["after"]);
    assert_eq!(
        after_["total"].as_u64().unwrap(),
        before["total"].as_u64().unwrap() + 1,
        "{summary:#}"
    );
    // The bar is on the chart: the page's last bar is the one sent.
    let ds = after_["ds"].as_array().unwrap();
    assert_eq!(ds.last().unwrap(), MSFT_NEXT_TRADING_DAYS[0], "{summary:#}");
    assert_eq!(after_["close"].as_array().unwrap().last().unwrap(), jump);
    // The forecast moved: a naive model now forecasts the new close, from the next day.
    assert_eq!(after_["forecast"][0]["ds"], MSFT_NEXT_TRADING_DAYS[1]);
    assert_eq!(after_["forecast"][0]["mean"], jump);
    assert_ne!(before["forecast"][0]["mean"], after_["forecast"][0]["mean"]);
    // The alert panel lists the band alert.
    let alerts: Vec<&str> = summary["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        alerts.iter().any(|a| a.contains("outside-95")),
        "{alerts:?}"
    );
    assert!(shots.join("dashboard-live.png").exists());
}
