//! Registered models fetched from the tracking server into a local cache, for serving:
//! `models:/NAME/VERSION` and `models:/NAME/latest`, with the credentials rules of
//! tracking ([`Destination::from_env`]).
//!
//! A version's files are downloaded once into
//! `CACHE/<server>/<NAME>/<VERSION>/<NAME>/` (written beside and renamed into place, so a
//! cached version is always complete; versions never change, so a cached one is not
//! fetched again). `latest` is resolved on the server each time and remembered in
//! `CACHE/<server>/<NAME>/latest`. When the server cannot be reached, a cached version is
//! used instead (for `latest`, the one last resolved), and [`Fetched::offline`] says why.

use super::client::{MlflowClient, RetryPolicy};
use super::config::Destination;
use super::error::{Result, TrackingError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A `models:/NAME/VERSION` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUri {
    /// The registered model's name.
    pub name: String,
    /// A version number, or `latest`.
    pub version: String,
}

impl ModelUri {
    /// `None` when `s` is not a `models:/` reference; an error when it is one but
    /// malformed.
    pub fn parse(s: &str) -> Option<Result<ModelUri>> {
        let rest = s.strip_prefix("models:/")?;
        let bad = |why: &str| {
            Some(Err(TrackingError::Config(format!(
                "`{s}`: {why}; write models:/NAME/VERSION or models:/NAME/latest"
            ))))
        };
        let Some((name, version)) = rest.trim_matches('/').rsplit_once('/') else {
            return bad("no version");
        };
        if name.is_empty() || name.contains('/') {
            return bad("the model name is empty or has a '/'");
        }
        if version != "latest" && version.parse::<u64>().is_err() {
            return bad("the version is neither a number nor `latest`");
        }
        Some(Ok(ModelUri {
            name: name.to_string(),
            version: version.to_string(),
        }))
    }
}

/// A registered model version on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The model directory (named after the registered model).
    pub dir: PathBuf,
    /// The version it holds.
    pub version: String,
    /// Why the cache was used without asking the server (it could not be reached);
    /// `None` when the server answered.
    pub offline: Option<String>,
}

/// A folder name for the server (`http://127.0.0.1:5000` → `http_127.0.0.1_5000`).
fn server_slug(uri: &str) -> String {
    uri.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('_')
        .to_string()
}

/// Fetch `model` from the server of `destination` into `cache` (or find it there).
pub fn fetch_model(model: &ModelUri, destination: Destination, cache: &Path) -> Result<Fetched> {
    let home = cache.join(server_slug(&destination.uri)).join(&model.name);
    let version_dir = |v: &str| home.join(v).join(&model.name);
    let latest_file = home.join("latest");
    // Few retries: an unreachable server falls back to the cache.
    let client = MlflowClient::new(
        destination,
        RetryPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_millis(200),
        },
    )?;
    let mv = match client.model_version(&model.name, &model.version) {
        Ok(mv) => mv,
        Err(e @ TrackingError::Unreachable { .. }) => {
            let version = if model.version == "latest" {
                std::fs::read_to_string(&latest_file)
                    .ok()
                    .map(|s| s.trim().to_string())
            } else {
                Some(model.version.clone())
            };
            return match version.filter(|v| version_dir(v).is_dir()) {
                Some(v) => Ok(Fetched {
                    dir: version_dir(&v),
                    version: v,
                    offline: Some(e.to_string()),
                }),
                None => Err(TrackingError::Config(format!(
                    "models:/{}/{}: {e}, and no cached copy in {}",
                    model.name,
                    model.version,
                    home.display()
                ))),
            };
        }
        Err(e) => return Err(e),
    };
    let dir = version_dir(&mv.version);
    if !dir.is_dir() {
        let (root, rel) = match mv.source.strip_prefix("runs:/") {
            Some(rest) => {
                let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
                (client.run_artifact_uri(run)?, path.to_string())
            }
            None if mv.source.starts_with("mlflow-artifacts:") => {
                (mv.source.clone(), String::new())
            }
            None => {
                return Err(TrackingError::Config(format!(
                    "models:/{}/{}: its source `{}` is neither runs:/ nor mlflow-artifacts:",
                    model.name, mv.version, mv.source
                )))
            }
        };
        let mut failure: Option<TrackingError> = None;
        let written = forecast_core::fsio::write_dir(&dir, |tmp| {
            download_tree(&client, &root, &rel, tmp).map_err(|e| {
                let message = e.to_string();
                failure = Some(e);
                forecast_core::Error::Artifact {
                    path: tmp.to_path_buf(),
                    message,
                }
            })
        });
        if let Err(e) = written {
            return Err(failure.unwrap_or(TrackingError::Core(e)));
        }
    }
    if model.version == "latest" {
        forecast_core::fsio::write_file(&latest_file, mv.version.as_bytes())?;
    }
    Ok(Fetched {
        dir,
        version: mv.version,
        offline: None,
    })
}

/// Download folder `rel` of artifact root `root` into `into`, recursively.
fn download_tree(client: &MlflowClient, root: &str, rel: &str, into: &Path) -> Result<()> {
    let entries = client.list_artifacts(root, rel)?;
    if entries.is_empty() && rel.is_empty() {
        return Err(TrackingError::Config(format!(
            "{root}: the model's artifact folder is empty"
        )));
    }
    for entry in entries {
        // Listings name entries relative to the folder listed (some servers give the
        // full path from the root): keep the last component.
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let target = into.join(name);
        if entry.is_dir {
            std::fs::create_dir_all(&target).map_err(|e| TrackingError::Io {
                path: target.clone(),
                source: e,
            })?;
            download_tree(client, root, &child, &target)?;
        } else {
            let bytes = client.download_artifact(root, &child)?;
            std::fs::write(&target, bytes).map_err(|e| TrackingError::Io {
                path: target.clone(),
                source: e,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_parse_or_say_what_is_wrong() {
        assert!(ModelUri::parse("models/x").is_none());
        assert_eq!(
            ModelUri::parse("models:/air/3").unwrap().unwrap(),
            ModelUri {
                name: "air".into(),
                version: "3".into()
            }
        );
        assert_eq!(
            ModelUri::parse("models:/air/latest")
                .unwrap()
                .unwrap()
                .version,
            "latest"
        );
        for bad in ["models:/air", "models:/air/x", "models:/", "models://3"] {
            let e = ModelUri::parse(bad).unwrap().unwrap_err().to_string();
            assert!(e.contains("models:/NAME/VERSION"), "{bad}: {e}");
        }
        assert_eq!(
            server_slug("http://127.0.0.1:5000"),
            "http___127.0.0.1_5000"
        );
    }
}
