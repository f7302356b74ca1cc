//! Naive 2 against an independent implementation: statsmodels' classical multiplicative
//! decomposition with the M4 benchmark code's seasonality test
//! (`benches/peers/naive2_reference.py`, committed as `tests/reference/naive2_m3.csv`:
//! every 10th M3 monthly and quarterly series, 143 + 76 series, 85 + 55 of them
//! seasonally adjusted).

use forecast_core::data::{load_data, Data, LoadOptions, PanelOptions};
use forecast_core::panel::series_of;
use forecast_core::{ForecasterSpec, ModelConfig, SeriesSpec};
use std::collections::HashMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn naive2_matches_statsmodels_on_m3_monthly_and_quarterly() {
    let text =
        std::fs::read_to_string(root().join("crates/forecast-core/tests/reference/naive2_m3.csv"))
            .unwrap();
    // (frequency, id) -> forecasts by step.
    let mut want: HashMap<(String, String), Vec<f64>> = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        want.entry((f[1].to_string(), f[0].to_string()))
            .or_default()
            .push(f[4].parse().unwrap());
    }
    let spec = ForecasterSpec::new(ModelConfig::from_kind("naive2").unwrap());
    let mut checked = 0;
    for freq in ["monthly", "quarterly"] {
        let options = PanelOptions {
            load: LoadOptions {
                required: vec!["y".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let path = root().join(format!("datasets/m3_{freq}_train.csv"));
        let Data::Panel(panel) = load_data(&path, &options).unwrap() else {
            panic!("{freq}: not a panel")
        };
        let target = SeriesSpec {
            target: "y".into(),
            features: vec![],
            indicators: vec![],
            season_length: None,
        };
        let series = series_of(&panel, &target).unwrap();
        for s in &series {
            let Some(reference) = want.get(&(freq.to_string(), s.id.clone())) else {
                continue;
            };
            let fitted = spec.fit_quiet(&s.series).unwrap();
            let fc = fitted.predict(reference.len(), &[], &[]).unwrap();
            for (i, (ours, theirs)) in fc.point.iter().zip(reference).enumerate() {
                // Both sides evaluate the same closed-form procedure in double precision;
                // only summation order differs (relative 1e-12 at most on these series).
                assert!(
                    (ours - theirs).abs() <= 1e-9 * theirs.abs(),
                    "{freq} {} step {}: ours {ours}, statsmodels {theirs}",
                    s.id,
                    i + 1
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 143 + 76, "every reference series was found");
}
