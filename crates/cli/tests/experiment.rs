//! `forecast experiment run` end to end on tiny specs (baselines only, fast in debug).

use serde_json::Value;
use std::path::Path;
use std::process::Output;

mod common;
use common::{failed, isolated};

/// `forecast experiment run SPEC --out OUT_DIR`, its runs recorded in `runs`.
fn experiment_run(spec: &Path, out_dir: &Path, runs: &Path) -> Output {
    isolated(runs)
        .args(["experiment", "run"])
        .arg(spec)
        .arg("--out")
        .arg(out_dir)
        .output()
        .expect("run forecast")
}

const TINY: &str = r#"
name = "tiny-airpassengers"
[data]
path = "datasets/airpassengers.csv"
target = "passengers"
[evaluation]
horizons = [6, 12]
folds = 3
[[model]]
kind = "seasonal-naive"
[[model]]
kind = "drift"
transform = "log"
"#;

#[test]
fn runs_a_spec_and_writes_json_and_markdown_beside_naive() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("tiny.toml");
    std::fs::write(&spec, TINY).unwrap();
    let out_dir = dir.path().join("results");
    let runs = dir.path().join("runs");
    let out = experiment_run(&spec, &out_dir, &runs);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("### horizon 12"), "{stdout}");
    let md = std::fs::read_to_string(out_dir.join("tiny-airpassengers.md")).unwrap();
    assert_eq!(md, stdout, "the printed tables are the written ones");
    assert!(md.contains("| naive |") && md.contains("| seasonal-naive |"));
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("tiny-airpassengers.json")).unwrap(),
    )
    .unwrap();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for h in results {
        let models = h["models"].as_array().unwrap();
        let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["naive", "seasonal-naive", "drift"]);
        assert_eq!(h["folds"], 3);
        // The naive row is the baseline of every row.
        for m in models {
            assert_eq!(m["naive"], models[0]["metrics"]);
            assert!(m["metrics"]["mase"].as_f64().unwrap() > 0.0);
        }
    }
    // AirPassengers is strongly seasonal: the seasonal naive forecast beats naive a year out.
    assert_eq!(results[1]["models"][1]["beats_naive"], true);
    assert!(doc["provenance"]["command"]
        .as_str()
        .unwrap()
        .contains("experiment run"));
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn bad_specs_give_one_error_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("results");
    let runs = dir.path().join("runs");
    let cases = [
        (TINY.replace("\"drift\"", "\"prophet\""), "prophet"),
        (
            TINY.replace("transform = \"log\"", "set = { horizon_x = 1 }"),
            "horizon_x",
        ),
        (TINY.replace("folds = 3", "folds = 30"), "folds"),
        (TINY.replace("[[model]]", "[[models]]"), "models"),
        (TINY.replace("airpassengers.csv", "nope.csv"), "nope.csv"),
    ];
    for (text, needle) in cases {
        let spec = dir.path().join("bad.toml");
        std::fs::write(&spec, &text).unwrap();
        let stderr = failed(&experiment_run(&spec, &out_dir, &runs), needle);
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(!out_dir.exists(), "no output for a bad spec");
    }
}
