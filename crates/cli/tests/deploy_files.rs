//! The launcher files in `deploy/` (Slurm array jobs and the Kubernetes Jobs that do the
//! same), checked for syntax without a cluster, as docs/DISTRIBUTED.md promises: the
//! Slurm scripts with `bash -n`; the manifest read by PyYAML (pinned,
//! `scripts/peer-venv.sh deploy`) and checked for the fields an Indexed Job needs, its
//! container scripts with `sh -n`; and every `--flag` that follows `forecast SUB` in
//! any of them must be one that `forecast SUB --help` lists, so a renamed flag fails
//! here before it fails on a cluster.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The command lines of a shell text: comments dropped, backslash continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

/// Every `--flag` after `forecast SUB` on each line is listed by `forecast SUB --help`;
/// returns how many were checked.
fn check_flags(origin: &str, lines: &[String]) -> usize {
    let mut checked = 0;
    for line in lines {
        let Some(at) = line.find("forecast ") else {
            continue;
        };
        let mut words = line[at + "forecast ".len()..].split_whitespace();
        let Some(sub) = words.next() else { continue };
        let help = Command::new(env!("CARGO_BIN_EXE_forecast"))
            .args([sub, "--help"])
            .output()
            .expect("run forecast --help");
        assert!(
            help.status.success(),
            "{origin}: `forecast {sub} --help` failed"
        );
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        for w in words.filter(|w| w.starts_with("--")) {
            let flag = w.split('=').next().unwrap_or(w).trim_matches('"');
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{origin}: `forecast {sub}` has no flag {flag}"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn slurm_scripts_parse_and_use_existing_flags() {
    let dir = root().join("deploy/slurm");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/slurm")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sbatch"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 2, "{scripts:?}");
    for path in scripts {
        let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("#SBATCH --array="), "{}", path.display());
        let n = check_flags(&path.display().to_string(), &logical_lines(&text));
        assert!(n >= 5, "{}: only {n} flags checked", path.display());
    }
}

#[test]
fn kubernetes_jobs_are_indexed_jobs_with_valid_scripts() {
    let Some(python) =
        forecast_test_support::peer_python_or_skip("deploy", "kubernetes_jobs_are_indexed_jobs")
    else {
        return;
    };
    let path = root().join("deploy/k8s/forecast-jobs.yaml");
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["forecast-tune-workers", "forecast-panel-shards"]);
    let mut flags = 0;
    for job in &docs {
        let name = job["metadata"]["name"].as_str().unwrap();
        assert_eq!(job["apiVersion"], "batch/v1", "{name}");
        assert_eq!(job["kind"], "Job", "{name}");
        let spec = &job["spec"];
        assert_eq!(spec["completionMode"], "Indexed", "{name}");
        assert!(spec["completions"].as_u64().unwrap() >= 2, "{name}");
        assert_eq!(spec["completions"], spec["parallelism"], "{name}");
        assert!(
            spec["backoffLimitPerIndex"].as_u64().unwrap() >= 1,
            "{name}"
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never", "{name}");
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{name}");
        let c = &containers[0];
        assert_eq!(c["command"], serde_json::json!(["/bin/sh", "-c"]), "{name}");
        let script = c["args"][0].as_str().unwrap();
        assert!(script.contains("JOB_COMPLETION_INDEX"), "{name}");
        let out = Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Every volume mounted is declared.
        let volumes: Vec<&str> = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        for m in c["volumeMounts"].as_array().unwrap() {
            assert!(
                volumes.contains(&m["name"].as_str().unwrap()),
                "{name}: {m}"
            );
        }
        flags += check_flags(name, &[script.to_string()]);
    }
    assert!(flags >= 12, "only {flags} flags checked");
}
