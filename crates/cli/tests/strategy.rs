//! `forecast strategy backtest` end to end: the table, JSON and output files on MSFT,
//! bad strategy files, and parity with backtesting.py (the real package, in CI).

mod common;

use common::{dataset, root};
use serde_json::Value;
use std::io::Write;
use std::process::Command;

fn forecast() -> Command {
    Command::new(env!("CARGO_BIN_EXE_forecast"))
}

/// `forecast strategy backtest --data DATA --strategy STRATEGY EXTRA...`.
fn backtest(data: &str, strategy_file: &str, extra: &[&str]) -> std::process::Output {
    forecast()
        .args(["strategy", "backtest", "--data", &dataset(data)])
        .args(["--strategy", strategy_file])
        .args(extra)
        .output()
        .unwrap()
}

fn strategy(name: &str) -> String {
    root()
        .join("experiments/strategies")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn ma_cross_on_msft_prints_stats_beside_buy_and_hold_and_writes_its_files() {
    let out = backtest("msft_daily.csv", &strategy("ma-cross.toml"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("buy & hold") && table.contains("sharpe"),
        "{table}"
    );

    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let run_arg = run_dir.display().to_string();
    let out = backtest(
        "msft_daily.csv",
        &strategy("ma-cross.toml"),
        &["--json", "--out", &run_arg],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "return_pct",
        "buy_hold_return_pct",
        "sharpe",
        "max_drawdown_bars",
        "avg_trade_bars",
        "equity_final",
    ] {
        assert!(v["stats"].get(key).is_some(), "stats.{key}");
        assert!(v["benchmark"].get(key).is_some(), "benchmark.{key}");
    }
    let trades = v["trades"].as_array().unwrap();
    assert!(trades.len() > 50, "{}", trades.len());
    assert_eq!(
        v["stats"]["n_trades"].as_f64().unwrap() as usize,
        trades.len()
    );
    // Next-open fills: each entry is the bar after a crossing.
    for t in trades {
        assert!(t["exit_bar"].as_u64() > t["entry_bar"].as_u64());
        assert!(t["entry_time"].as_str().unwrap().len() == 10);
    }
    // The benchmark's return is the buy-and-hold return.
    assert_eq!(
        v["benchmark"]["return_pct"].as_f64().unwrap(),
        v["stats"]["buy_hold_return_pct"].as_f64().unwrap()
    );
    let equity = std::fs::read_to_string(run_dir.join("equity.csv")).unwrap();
    assert_eq!(equity.lines().count(), 7983 + 1);
    let trades_csv = std::fs::read_to_string(run_dir.join("trades.csv")).unwrap();
    assert_eq!(trades_csv.lines().count(), trades.len() + 1);
    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("stats.json")).unwrap())
            .unwrap();
    assert_eq!(stats["stats"], v["stats"]);
}

#[test]
fn bad_strategy_files_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[signal]\nkind = \"sma-cross\"\nfast = 50\nslow = 20\n",
            "signal.fast",
        ),
        ("[signal]\nkind = \"stochastic\"\n", "stochastic"),
        (
            "[signal]\nkind = \"rsi\"\n[execution]\ncash = -5\n",
            "execution.cash",
        ),
        (
            "[signal]\nkind = \"rsi\"\n[execution]\nslipage_bps = 1\n",
            "slipage_bps",
        ),
        (
            "[signal]\nkind = \"sma-cross\"\nfast = 10\nslow = 9000\n",
            "signal.slow",
        ),
        ("[signal]\nkind = \"rsi\"\nperiod = \"x\"\n", "period"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("s{i}.toml"));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = backtest("msft_daily.csv", &path.display().to_string(), &[]);
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// backtesting.py 0.6.6 and us on the same MSFT bars, strategies and costs: every
/// statistic and every trade equal to 1e-9 (see the peer script). Needs the peer's
/// venv (`eval "$(scripts/peer-venv.sh backtesting)"`); skipped without it unless
/// `FORECAST_REQUIRE_PEERS=1` (CI).
#[test]
fn statistics_and_trades_equal_backtesting_py() {
    let Some(python) = forecast_test_support::peer_python_or_skip(
        "backtesting",
        "statistics_and_trades_equal_backtesting_py",
    ) else {
        return;
    };
    let out = Command::new(python)
        .arg(root().join("benches/peers/strategy_vs_backtesting.py"))
        .args(["--forecast", env!("CARGO_BIN_EXE_forecast")])
        .args(["--data", &dataset("msft_daily.csv")])
        .args([
            strategy("ma-cross.toml"),
            strategy("rsi.toml"),
            strategy("ma-cross-long-short.toml"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("every statistic and trade equal"), "{text}");
}

#[test]
fn a_panel_of_tickers_gives_each_its_backtest_and_the_portfolio() {
    let out = backtest(
        "techstocks_daily.csv",
        &strategy("ma-cross.toml"),
        &["--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let series = v["series"].as_array().unwrap();
    assert!(series.len() >= 3, "{}", series.len());
    // Each ticker trades an equal share of the cash; the portfolio is their sum.
    let sum: f64 = series
        .iter()
        .map(|s| s["stats"]["equity_final"].as_f64().unwrap())
        .sum();
    let total = v["portfolio"]["stats"]["equity_final"].as_f64().unwrap();
    assert!((sum - total).abs() < 1e-6 * total, "{sum} vs {total}");
    let trades: usize = series
        .iter()
        .map(|s| s["trades"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        v["portfolio"]["stats"]["n_trades"].as_f64().unwrap() as usize,
        trades
    );
    for s in series {
        assert!(s["ticker"].is_string());
        assert!(s["stats"]["n_trades"].as_f64().unwrap() > 0.0);
    }
    // The table: one line per ticker, the portfolio and buy and hold.
    let out = backtest("techstocks_daily.csv", &strategy("ma-cross.toml"), &[]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table.lines().count(), series.len() + 3, "{table}");
    assert!(table.contains("portfolio") && table.contains("buy & hold"));
}

/// `forecast tune` on a strategy sweep: the best pair's in-sample and held-out
/// statistics are those `strategy backtest` gives on the same rows (the first 75%, and
/// the last 25% with the warm-up rows before them), so no trial saw the held-out rows.
#[test]
fn a_sweep_reports_in_sample_and_held_out_statistics_of_its_best_pair() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("sweep.toml");
    let msft = dataset("msft_daily.csv");
    std::fs::write(
        &spec,
        format!(
            "name = \"sweep\"\n[data]\npath = \"{msft}\"\n[strategy]\nfile = \"{}\"\nholdout = 0.25\n[space.signal]\nfast = {{ grid = [5, 10, 20] }}\nslow = {{ grid = [30, 60] }}\n[tune]\nmetric = \"sharpe\"\nmode = \"max\"\nsearch = \"grid\"\nmax_concurrent = 2\n",
            strategy("ma-cross.toml")
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = common::run_ok(
        common::isolated(&dir.path().join("runs"))
            .args(["tune", "--spec", spec.to_str().unwrap(), "--json", "--out"])
            .arg(&out_dir),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["trials"], 6);
    let params = &v["best"]["params"];
    let (fast, slow) = (
        params["signal.fast"].as_u64().unwrap(),
        params["signal.slow"].as_u64().unwrap(),
    );
    let best_file: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("best.json")).unwrap()).unwrap();
    assert_eq!(best_file["held_out"], v["held_out"]);

    // The same rows through `strategy backtest`.
    let text = std::fs::read_to_string(&msft).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (header, rows) = (lines[0], &lines[1..]);
    let n = rows.len();
    let split = n - (n as f64 * 0.25).round() as usize;
    let warmup = slow as usize - 1;
    let base = std::fs::read_to_string(strategy("ma-cross.toml")).unwrap();
    let tuned = base
        .replace("fast = 10", &format!("fast = {fast}"))
        .replace("slow = 30", &format!("slow = {slow}"));
    let strat = dir.path().join("best.toml");
    std::fs::write(&strat, tuned).unwrap();
    for (name, part, key) in [
        ("in.csv", &rows[..split], "in_sample"),
        ("out.csv", &rows[split - warmup..], "held_out"),
    ] {
        let csv = dir.path().join(name);
        std::fs::write(&csv, format!("{header}\n{}\n", part.join("\n"))).unwrap();
        let out = common::ok(&[
            "strategy",
            "backtest",
            "--json",
            "--data",
            csv.to_str().unwrap(),
            "--strategy",
            strat.to_str().unwrap(),
        ]);
        let direct: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[key]["stats"], direct["stats"], "{key}");
        assert_eq!(v[key]["benchmark"], direct["benchmark"], "{key}");
    }
    let first_held_out = rows[split].split(',').next().unwrap();
    assert_eq!(v["held_out"]["start"], first_held_out);
    assert_eq!(v["held_out"]["warmup"], warmup);
    assert_eq!(
        v["in_sample"]["end"],
        rows[split - 1].split(',').next().unwrap()
    );

    // A bad sweep names the key.
    std::fs::write(
        &spec,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("metric = \"sharpe\"", "metric = \"sharp\""),
    )
    .unwrap();
    let out = forecast()
        .args(["tune", "--spec", spec.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("tune.metric"),
        "{err}"
    );
}
