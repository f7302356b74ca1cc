//! Data ready for modelling: one series or a panel of many, loaded the same way by the
//! command line (`--data`) and by specs (`[data]`), and the held-out rows that
//! competition-style scoring forecasts.

use crate::data::{
    load_data, Data, DataSpec, Frame, LoadOptions, MissingPolicy, Panel, PanelOptions, Wide,
    WIDE_VALUE,
};
use crate::error::{Error, Result};
use crate::features::Feature;
use crate::panel::{series_of, PanelSeries, Shard};
use crate::series::{Series, SeriesSpec};
use std::path::Path;
use std::str::FromStr;

/// What a data path held, in its modelling view.
#[derive(Debug, Clone)]
pub enum Dataset {
    /// One series: the validated frame and its modelling view.
    One(Box<(Frame, Series)>),
    /// Many series: the panel and each series' modelling view, in the panel's order.
    Panel(Panel, Vec<PanelSeries>),
}

impl Dataset {
    /// Load and validate `path` (a file, folder or glob; see
    /// [`crate::data::load_data`]) and build the modelling series of `spec`.
    pub fn load(path: &Path, options: &PanelOptions, spec: &SeriesSpec) -> Result<Dataset> {
        Ok(match load_data(path, options)? {
            Data::One(frame) => {
                let series = Series::from_frame(&frame, spec)?;
                Dataset::One(Box::new((frame, series)))
            }
            Data::Panel(panel) => {
                let series = series_of(&panel, spec)?;
                Dataset::Panel(panel, series)
            }
        })
    }

    /// The id column of a panel (`None` for one series).
    pub fn id_column(&self) -> Option<&str> {
        match self {
            Dataset::One(_) => None,
            Dataset::Panel(p, _) => Some(&p.id_column),
        }
    }

    /// Where the data came from.
    pub fn source(&self) -> &Path {
        match self {
            Dataset::One(one) => &one.0.source,
            Dataset::Panel(p, _) => &p.source,
        }
    }

    /// Only the series of `shard` (a panel's; one series cannot be sharded).
    pub fn shard(self, shard: Shard) -> Result<Dataset> {
        match self {
            Dataset::One(one) => Err(Error::config(
                "shard",
                format!(
                    "{} is one series; --shard splits a panel's series",
                    one.0.source.display()
                ),
            )),
            Dataset::Panel(mut panel, series) => {
                panel.members = shard.take(panel.members);
                Ok(Dataset::Panel(panel, shard.take(series)))
            }
        }
    }

    /// The modelling series: a one-series dataset is a panel of one series whose id is
    /// its target column.
    pub fn into_series(self) -> Vec<PanelSeries> {
        match self {
            Dataset::One(one) => {
                let (_, series) = *one;
                vec![PanelSeries {
                    id: series.schema.target.clone(),
                    series,
                }]
            }
            Dataset::Panel(_, series) => series,
        }
    }
}

/// The held-out rows of each training series (competition-style scoring): `path` is
/// read as the training data was (`options`), and must be a panel when the training
/// data is one (`id_column` set) and one series when it is one series (then its rows
/// belong to `train`'s only series). Only the target is required.
pub fn load_test(
    path: &Path,
    options: &PanelOptions,
    train: &[PanelSeries],
    id_column: Option<&str>,
) -> Result<Vec<(String, Frame)>> {
    let first = train
        .first()
        .ok_or_else(|| Error::config("test", "the training data holds no series"))?;
    let mut options = options.clone();
    options.load.required = vec![first.series.schema.target.clone()];
    let mismatch = |what: &str| {
        Error::config(
            "test",
            format!(
                "{} is {what}, but the training data is {}",
                path.display(),
                if id_column.is_some() {
                    "a panel"
                } else {
                    "one series"
                }
            ),
        )
    };
    match (load_data(path, &options)?, id_column) {
        (Data::Panel(p), Some(_)) => Ok(p.members.into_iter().map(|m| (m.id, m.frame)).collect()),
        (Data::One(f), None) => Ok(vec![(first.id.clone(), f)]),
        (Data::Panel(_), None) => Err(mismatch("a panel")),
        (Data::One(_), Some(_)) => Err(mismatch("one series")),
    }
}

/// Complete `options` for a target selection: one column (required, with `features`),
/// or several (`a,b,c` or `*`, see [`Wide::parse`]): a wide table, each column one
/// series whose values are named [`WIDE_VALUE`]. Returns the options and the column the
/// modelling series take as their target.
pub fn target_options(
    target: &str,
    features: &[String],
    mut options: PanelOptions,
) -> Result<(PanelOptions, String)> {
    match Wide::parse(target) {
        Some(wide) => {
            if !features.is_empty() {
                return Err(Error::config(
                    "features",
                    "input columns with several target columns (a wide table) are not supported; use a long table with an id column",
                ));
            }
            options.load.required = vec![];
            options.wide = Some(wide);
            Ok((options, WIDE_VALUE.to_string()))
        }
        None => {
            let mut required = vec![target.to_string()];
            required.extend(features.iter().cloned());
            options.load.required = required;
            options.wide = None;
            Ok((options, target.to_string()))
        }
    }
}

impl DataSpec {
    /// The default target column of a spec (`y`, statsforecast's convention).
    pub fn default_target() -> String {
        "y".into()
    }

    /// How to read the data (the target and features are required, other columns are
    /// not validated; `target = "a,b"` or `"*"` reads a wide table), and the modelling
    /// series' target column.
    pub fn options(&self) -> Result<(PanelOptions, String)> {
        let missing = match &self.missing {
            Some(m) => MissingPolicy::from_str(m).map_err(|e| Error::config("data.missing", e))?,
            None => MissingPolicy::default(),
        };
        let base = PanelOptions {
            id_column: self.id_column.clone(),
            load: LoadOptions {
                time_col: self.time_col.clone(),
                required: vec![],
                missing,
                calendar: self.calendar,
            },
            wide: None,
        };
        target_options(&self.target, &self.features, base)
    }

    /// The modelling view of `target`: features, indicators and season length.
    fn series_spec(&self, target: String) -> Result<SeriesSpec> {
        let indicators = if self.indicators.is_empty() {
            vec![]
        } else {
            Feature::parse_list(&self.indicators.join(","))?
        };
        Ok(SeriesSpec {
            target,
            features: self.features.clone(),
            indicators,
            season_length: self.season_length,
        })
    }

    /// Load and validate the data: one series or a panel.
    pub fn load(&self) -> Result<Dataset> {
        let (options, target) = self.options()?;
        Dataset::load(&self.path, &options, &self.series_spec(target)?)
    }
}
