//! MLflow's scoring protocol (`POST /invocations`) for forecasting models: each input
//! row is one request (`h`, optional `level`, optional `unique_id`), the convention of
//! MLflow's forecasting flavours; `params` (`h`, `level`) overrides every row.

use crate::error::ApiError;
use crate::forecast::{horizon_of, id_of, levels_of, short, Query};
use serde_json::{Map, Value};

/// The columns an input row may hold.
const COLUMNS: &[&str] = &["h", "level", "unique_id"];
/// The four JSON input shapes MLflow's scoring server takes.
const SHAPES: &[&str] = &[
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

type Row = Map<String, Value>;

/// The requests of a JSON body.
pub(crate) fn parse_json(body: &[u8]) -> Result<Vec<Query>, ApiError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(obj) = doc else {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object with one of {}; got {}",
            SHAPES.join(", "),
            short(&doc)
        )));
    };
    let mut shape = None;
    let mut params = None;
    for (k, v) in &obj {
        if SHAPES.contains(&k.as_str()) {
            if let Some((first, _)) = shape {
                return Err(ApiError::bad_request(format!(
                    "the body holds both '{first}' and '{k}'; send exactly one of {}",
                    SHAPES.join(", ")
                )));
            }
            shape = Some((k.as_str(), v));
        } else if k == "params" {
            params = Some(v);
        } else {
            return Err(ApiError::bad_request(format!(
                "unknown key '{k}' in the body; expected one of {} and optionally 'params'",
                SHAPES.join(", ")
            )));
        }
    }
    let Some((name, input)) = shape else {
        return Err(ApiError::bad_request(format!(
            "the body holds none of {}; send exactly one",
            SHAPES.join(", ")
        )));
    };
    let rows = match name {
        "dataframe_split" => split_rows(input)?,
        "dataframe_records" => record_rows(input, name)?,
        _ => tensor_rows(input, name)?,
    };
    let params = match params {
        None | Some(Value::Null) => Row::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "params: must be an object such as {{\"h\": 10, \"level\": [80, 95]}}, got {}",
                short(other)
            )))
        }
    };
    queries(rows, &params)
}

/// The requests of a CSV body: a header line naming the columns (`h`, `level` as
/// `80;95`, `unique_id`), then one request per line.
pub(crate) fn parse_csv(body: &[u8]) -> Result<Vec<Query>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::bad_request(format!("CSV header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| ApiError::bad_request(format!("CSV line {}: {e}", i + 2)))?;
        let mut row = Row::new();
        for (name, cell) in header.iter().zip(rec.iter()) {
            if !cell.is_empty() {
                row.insert(name.clone(), Value::String(cell.to_string()));
            }
        }
        rows.push(row);
    }
    queries(rows, &Row::new())
}

/// `{"columns": [...], "data": [[...], ...]}` (pandas' split orientation).
fn split_rows(input: &Value) -> Result<Vec<Row>, ApiError> {
    let Value::Object(o) = input else {
        return Err(ApiError::bad_request(
            "dataframe_split: must be an object {\"columns\": [...], \"data\": [[...]]}",
        ));
    };
    for k in o.keys() {
        if !["columns", "data", "index"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "dataframe_split: unknown key '{k}' (expected columns, data, index)"
            )));
        }
    }
    let columns: Vec<String> = match o.get("columns") {
        Some(Value::Array(c)) => c
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(ApiError::bad_request(format!(
                    "dataframe_split.columns: column names are strings, got {}",
                    short(other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ApiError::bad_request(
                "dataframe_split.columns: a list of column names is required",
            ))
        }
    };
    let Some(Value::Array(data)) = o.get("data") else {
        return Err(ApiError::bad_request(
            "dataframe_split.data: a list of rows (lists of values) is required",
        ));
    };
    data.iter()
        .enumerate()
        .map(|(i, r)| match r {
            Value::Array(cells) if cells.len() == columns.len() => {
                Ok(columns.iter().cloned().zip(cells.iter().cloned()).collect())
            }
            Value::Array(cells) => Err(ApiError::bad_request(format!(
                "dataframe_split.data[{i}]: {} values for {} columns",
                cells.len(),
                columns.len()
            ))),
            other => Err(ApiError::bad_request(format!(
                "dataframe_split.data[{i}]: a row is a list of values, got {}",
                short(other)
            ))),
        })
        .collect()
}

/// A list of records `[{"h": 10}, ...]`.
fn record_rows(input: &Value, name: &str) -> Result<Vec<Row>, ApiError> {
    let Value::Array(items) = input else {
        return Err(ApiError::bad_request(format!(
            "{name}: must be a list of records such as [{{\"h\": 10}}], got {}",
            short(input)
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Value::Object(o) => Ok(o.clone()),
            other => Err(ApiError::bad_request(format!(
                "{name}[{i}]: a record is an object such as {{\"h\": 10}}, got {}",
                short(other)
            ))),
        })
        .collect()
}

/// `instances` / `inputs`: a list of records, a dict of columns (`{"h": [10, 5]}`) or
/// one record of scalars (`{"h": 10}`).
fn tensor_rows(input: &Value, name: &str) -> Result<Vec<Row>, ApiError> {
    match input {
        Value::Array(_) => record_rows(input, name),
        Value::Object(o) if o.values().any(Value::is_array) && o.contains_key("h") => {
            let n = match o.get("h") {
                Some(Value::Array(a)) => a.len(),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "{name}: in a dict of columns every column is a list (h is not)"
                    )))
                }
            };
            let mut rows = vec![Row::new(); n];
            for (k, v) in o {
                let Value::Array(col) = v else {
                    return Err(ApiError::bad_request(format!(
                        "{name}.{k}: in a dict of columns every column is a list of {n} values"
                    )));
                };
                if col.len() != n {
                    return Err(ApiError::bad_request(format!(
                        "{name}.{k}: {} values where h has {n}",
                        col.len()
                    )));
                }
                for (row, cell) in rows.iter_mut().zip(col) {
                    row.insert(k.clone(), cell.clone());
                }
            }
            Ok(rows)
        }
        Value::Object(o) => Ok(vec![o.clone()]),
        other => Err(ApiError::bad_request(format!(
            "{name}: must be a list of records or a dict of columns, got {}",
            short(other)
        ))),
    }
}

/// Each row as a request, `params` overriding.
fn queries(rows: Vec<Row>, params: &Row) -> Result<Vec<Query>, ApiError> {
    for k in params.keys() {
        if !["h", "level"].contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "params: unknown parameter '{k}' (expected h, level)"
            )));
        }
    }
    if rows.is_empty() {
        return Err(ApiError::bad_request(
            "the input holds no rows; each row is one request (h, level, unique_id)",
        ));
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            if let Some(k) = row.keys().find(|k| !COLUMNS.contains(&k.as_str())) {
                return Err(ApiError::bad_request(format!(
                    "row {i}: unknown column '{k}' (expected {})",
                    COLUMNS.join(", ")
                )));
            }
            let h = match (params.get("h"), row.get("h")) {
                (Some(v), _) => horizon_of(v, "params.h")?,
                (None, Some(v)) => horizon_of(v, &format!("row {i}: h"))?,
                (None, None) => {
                    return Err(ApiError::bad_request(format!(
                        "row {i}: h is required (in every input row or in params)"
                    )))
                }
            };
            let levels = match (params.get("level"), row.get("level")) {
                (Some(v), _) => levels_of(v, "params.level")?,
                (None, Some(v)) => levels_of(v, &format!("row {i}: level"))?,
                (None, None) => vec![],
            };
            let ids = match row.get("unique_id") {
                None | Some(Value::Null) => None,
                Some(v) => Some(vec![id_of(v, &format!("row {i}: unique_id"))?]),
            };
            Ok(Query {
                h,
                levels,
                ids,
                ..Query::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(h: usize, levels: &[f64], id: Option<&str>) -> Query {
        Query {
            h,
            levels: levels.to_vec(),
            ids: id.map(|s| vec![s.to_string()]),
            ..Query::default()
        }
    }

    #[test]
    fn the_four_json_shapes_and_csv_give_the_same_requests() {
        let want = vec![q(3, &[80.0, 95.0], Some("A")), q(2, &[], Some("B"))];
        let bodies = [
            r#"{"dataframe_split": {"columns": ["h", "level", "unique_id"], "data": [[3, [80, 95], "A"], [2, null, "B"]]}}"#,
            r#"{"dataframe_records": [{"h": 3, "level": [80, 95], "unique_id": "A"}, {"h": 2, "unique_id": "B"}]}"#,
            r#"{"instances": [{"h": 3, "level": [80, 95], "unique_id": "A"}, {"h": 2, "unique_id": "B"}]}"#,
            r#"{"inputs": {"h": [3, 2], "level": ["80;95", null], "unique_id": ["A", "B"]}}"#,
        ];
        for b in bodies {
            assert_eq!(parse_json(b.as_bytes()).unwrap(), want, "{b}");
        }
        let csv = "h,level,unique_id\n3,80;95,A\n2,,B\n";
        assert_eq!(parse_csv(csv.as_bytes()).unwrap(), want);
    }

    #[test]
    fn params_override_every_row() {
        let b = r#"{"inputs": {"h": 1}, "params": {"h": 7, "level": [90]}}"#;
        assert_eq!(parse_json(b.as_bytes()).unwrap(), vec![q(7, &[90.0], None)]);
    }

    #[test]
    fn malformed_bodies_are_refused_naming_the_place() {
        for (body, needle) in [
            ("not json", "not valid JSON"),
            ("[1]", "must be a JSON object"),
            ("{}", "none of"),
            (r#"{"inputs": {"h": 1}, "instances": [{"h": 1}]}"#, "both"),
            (r#"{"inputs": {"h": 1}, "extra": 1}"#, "unknown key 'extra'"),
            (
                r#"{"dataframe_records": [{"horizon": 1}]}"#,
                "unknown column 'horizon'",
            ),
            (
                r#"{"dataframe_records": [{"level": [80]}]}"#,
                "h is required",
            ),
            (r#"{"dataframe_records": [{"h": 1.5}]}"#, "whole number"),
            (r#"{"dataframe_records": [{"h": "x"}]}"#, "whole number"),
            (
                r#"{"dataframe_records": [{"h": 1, "level": "a;b"}]}"#,
                "level",
            ),
            (r#"{"dataframe_records": []}"#, "no rows"),
            (
                r#"{"dataframe_split": {"columns": ["h"], "data": [[1, 2]]}}"#,
                "2 values for 1 columns",
            ),
            (
                r#"{"inputs": {"h": [1, 2], "level": [80]}}"#,
                "1 values where h has 2",
            ),
            (
                r#"{"inputs": {"h": 1}, "params": {"horizon": 3}}"#,
                "unknown parameter",
            ),
            (
                r#"{"inputs": {"h": 1, "unique_id": {"a": 1}}}"#,
                "unique_id",
            ),
        ] {
            let e = parse_json(body.as_bytes()).unwrap_err();
            assert!(e.status.is_client_error(), "{body}");
            assert!(e.message.contains(needle), "{body}: {}", e.message);
        }
        let e = parse_csv(b"h,level\n1,80\n2\n").unwrap_err();
        assert!(e.message.contains("CSV line 3"), "{}", e.message);
    }
}
