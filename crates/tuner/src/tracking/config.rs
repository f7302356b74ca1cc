//! Where runs go: the tracking URI, experiment and credentials, from flags and the
//! environment variables MLflow clients honour, and where the local spool lives.

use super::error::{Result, TrackingError};
use std::fmt;
use std::path::PathBuf;

/// Experiment used when neither `--experiment` nor `MLFLOW_EXPERIMENT_NAME` is given.
pub const DEFAULT_EXPERIMENT: &str = "forecast";

/// How requests authenticate. Never printed: `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No `Authorization` header.
    #[default]
    None,
    /// HTTP Basic (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`; DagsHub user + token).
    Basic {
        /// User name.
        username: String,
        /// Password or access token.
        password: String,
    },
    /// `Authorization: Bearer` (`MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// A tracking server to ship runs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Base URL without credentials and without a trailing slash
    /// (`http://127.0.0.1:5000`, `https://dagshub.com/user/repo.mlflow`).
    pub uri: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Accept any TLS certificate (`MLFLOW_TRACKING_INSECURE_TLS=true`).
    pub insecure_tls: bool,
}

impl Destination {
    /// A destination from a URI, taking credentials embedded in it
    /// (`https://user:token@host/...`) out of the URI, else from `credentials`.
    pub fn parse(uri: &str, credentials: Credentials, insecure_tls: bool) -> Result<Destination> {
        let mut url = reqwest::Url::parse(uri.trim()).map_err(|e| {
            TrackingError::Config(format!("tracking URI `{}`: {e}", redact_uri(uri)))
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(TrackingError::Config(format!(
                "tracking URI `{}`: only http:// and https:// MLflow servers are supported",
                redact_uri(uri)
            )));
        }
        let mut credentials = credentials;
        if !url.username().is_empty() {
            let decode = percent_decode;
            credentials = Credentials::Basic {
                username: decode(url.username()),
                password: decode(url.password().unwrap_or("")),
            };
            // Infallible for http(s) URLs.
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        url.set_query(None);
        url.set_fragment(None);
        let uri = url.as_str().trim_end_matches('/').to_string();
        Ok(Destination {
            uri,
            credentials,
            insecure_tls,
        })
    }

    /// The destination described by the environment: `MLFLOW_TRACKING_URI` (or `uri_override`,
    /// the `--tracking-uri` flag), `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD`
    /// (Basic, when both are set), else `MLFLOW_TRACKING_TOKEN` (Bearer), and
    /// `MLFLOW_TRACKING_INSECURE_TLS`. `None` when no URI is given at all.
    pub fn from_env(uri_override: Option<&str>) -> Result<Option<Destination>> {
        Self::from_lookup(uri_override, |k| std::env::var(k).ok())
    }

    /// As [`Destination::from_env`], reading variables through `var` (for tests).
    pub fn from_lookup(
        uri_override: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Destination>> {
        let non_empty = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let uri = match uri_override
            .map(str::to_string)
            .or_else(|| non_empty("MLFLOW_TRACKING_URI"))
        {
            Some(u) => u,
            None => return Ok(None),
        };
        let credentials = match (
            non_empty("MLFLOW_TRACKING_USERNAME"),
            non_empty("MLFLOW_TRACKING_PASSWORD"),
            non_empty("MLFLOW_TRACKING_TOKEN"),
        ) {
            (Some(username), Some(password), _) => Credentials::Basic { username, password },
            (_, _, Some(token)) => Credentials::Bearer(token),
            _ => Credentials::None,
        };
        let insecure_tls = match non_empty("MLFLOW_TRACKING_INSECURE_TLS") {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                other => {
                    return Err(TrackingError::Config(format!(
                        "MLFLOW_TRACKING_INSECURE_TLS=`{other}`: expected true or false"
                    )))
                }
            },
        };
        Destination::parse(&uri, credentials, insecure_tls).map(Some)
    }
}

/// The experiment name: the `--experiment` flag, else `MLFLOW_EXPERIMENT_NAME`, else
/// [`DEFAULT_EXPERIMENT`].
pub fn experiment_from_env(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("MLFLOW_EXPERIMENT_NAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_EXPERIMENT.to_string())
}

/// The spool directory: `FORECAST_RUNS_DIR`, else `$FORECAST_HOME/runs`, else
/// `$XDG_DATA_HOME/forecast/runs`, else `~/.local/share/forecast/runs`.
pub fn default_runs_dir() -> Result<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("FORECAST_RUNS_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = var("FORECAST_HOME") {
        return Ok(PathBuf::from(d).join("runs"));
    }
    if let Some(d) = var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("forecast").join("runs"));
    }
    if let Some(h) = var("HOME") {
        return Ok(PathBuf::from(h).join(".local/share/forecast/runs"));
    }
    Err(TrackingError::Config(
        "no spool directory: set FORECAST_RUNS_DIR (or HOME)".to_string(),
    ))
}

/// A URI safe to print or store: any `user:password@` part removed.
pub fn redact_uri(uri: &str) -> String {
    match reqwest::Url::parse(uri) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username("");
                let _ = url.set_password(None);
            }
            url.as_str().trim_end_matches('/').to_string()
        }
        // Unparseable: drop everything up to an `@` in the authority, to be safe.
        Err(_) => match uri.find('@') {
            Some(at) => match uri.find("://") {
                Some(s) if s < at => format!("{}{}", &uri[..s + 3], &uri[at + 1..]),
                _ => uri[at + 1..].to_string(),
            },
            None => uri.to_string(),
        },
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn no_uri_means_no_destination() {
        assert_eq!(Destination::from_lookup(None, env(&[])).unwrap(), None);
    }

    #[test]
    fn flag_overrides_environment_and_basic_wins_over_token() {
        let vars = [
            ("MLFLOW_TRACKING_URI", "http://env:5000"),
            ("MLFLOW_TRACKING_USERNAME", "u"),
            ("MLFLOW_TRACKING_PASSWORD", "p"),
            ("MLFLOW_TRACKING_TOKEN", "t"),
        ];
        let d = Destination::from_lookup(Some("https://dagshub.com/me/repo.mlflow/"), env(&vars))
            .unwrap()
            .unwrap();
        assert_eq!(d.uri, "https://dagshub.com/me/repo.mlflow");
        assert_eq!(
            d.credentials,
            Credentials::Basic {
                username: "u".into(),
                password: "p".into()
            }
        );
        let d = Destination::from_lookup(None, env(&vars[..1]))
            .unwrap()
            .unwrap();
        assert_eq!(d.uri, "http://env:5000");
        let d = Destination::from_lookup(None, env(&[vars[0], vars[3]]))
            .unwrap()
            .unwrap();
        assert_eq!(d.credentials, Credentials::Bearer("t".into()));
    }

    #[test]
    fn credentials_in_uri_are_moved_out_and_never_shown() {
        let d = Destination::parse(
            "https://me:s%40cret@dagshub.com/me/r.mlflow",
            Credentials::None,
            false,
        )
        .unwrap();
        assert_eq!(d.uri, "https://dagshub.com/me/r.mlflow");
        assert_eq!(
            d.credentials,
            Credentials::Basic {
                username: "me".into(),
                password: "s@cret".into()
            }
        );
        let shown = format!("{d:?}");
        assert!(!shown.contains("cret"), "{shown}");
        assert_eq!(redact_uri("https://me:secret@host/x"), "https://host/x");
        assert_eq!(redact_uri("weird://me:secret@"), "weird://");
    }

    #[test]
    fn bad_settings_are_errors_naming_them() {
        let e = Destination::from_lookup(Some("ftp://x"), env(&[])).unwrap_err();
        assert!(e.to_string().contains("ftp://x"), "{e}");
        let e = Destination::from_lookup(
            Some("http://x"),
            env(&[("MLFLOW_TRACKING_INSECURE_TLS", "maybe")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("MLFLOW_TRACKING_INSECURE_TLS"),
            "{e}"
        );
    }
}
