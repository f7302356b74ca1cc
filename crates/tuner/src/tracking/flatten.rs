//! Configs and statistics (JSON) as MLflow params and metrics.

use serde_json::Value;

/// A JSON object as MLflow params: nested objects become dotted keys (`a.b`), strings are
/// taken as they are, everything else (numbers, booleans, arrays, null) as its JSON text
/// (`[1,1,1]`). A scalar at the top is the param `prefix`.
pub fn flatten_params(value: &Value, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(value, prefix, &mut |k, v| {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push((k, text));
    });
    out
}

/// The numeric leaves of a JSON object as metrics (`a.b` keys); booleans, strings, arrays
/// and nulls are skipped.
pub fn numeric_leaves(value: &Value, prefix: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    walk(value, prefix, &mut |k, v| {
        if let Some(x) = v.as_f64() {
            out.push((k, x));
        }
    });
    out
}

fn walk(value: &Value, prefix: &str, f: &mut dyn FnMut(String, &Value)) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(v, &key, f);
            }
        }
        other if !prefix.is_empty() => f(prefix.to_string(), other),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_configs_flatten_to_dotted_string_params() {
        let v = json!({"order": [1, 1, 1], "constant": true, "name": "x",
                       "inner": {"lr": 0.01, "deep": {"n": 3}}, "none": null});
        let mut p = flatten_params(&v, "");
        p.sort();
        assert_eq!(
            p,
            vec![
                ("constant".into(), "true".into()),
                ("inner.deep.n".into(), "3".into()),
                ("inner.lr".into(), "0.01".into()),
                ("name".into(), "x".into()),
                ("none".into(), "null".into()),
                ("order".into(), "[1,1,1]".into()),
            ]
        );
        let m = numeric_leaves(
            &json!({"aic": 1.5, "coef": {"ar1": -0.2}, "kind": "x"}),
            "fit",
        );
        assert_eq!(
            m,
            vec![("fit.aic".into(), 1.5), ("fit.coef.ar1".into(), -0.2)]
        );
    }
}
