//! What a host passes and gets back: the page's language ([`Lang`]), [`ReportOptions`], and
//! [`write_report`] with its [`ReportError`].

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};

use crate::interface::query::Basis;

/// Language of the page's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文
    Zh,
    /// English
    En,
}

/// A language other than `zh` or `en` was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report language {0:?}: use zh or en")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_string())),
        }
    }
}

/// What the report is about and how it is labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// What had been recorded by this instant (the projections are folded up to it); state
    /// figures such as incidents still open are read at this instant at the latest.
    pub as_of: DateTime<Utc>,
    /// The reference date (CST) that ends every period; `None`: the as-of instant's CST date.
    pub on: Option<NaiveDate>,
    pub lang: Lang,
    /// Page title; the language's default title when `None`.
    pub title: Option<String>,
    /// What the projections were folded from (`query::basis`). With it the page states its
    /// provenance and embeds its figures for `anquan check-figures`; without it, neither.
    pub basis: Option<Basis>,
}

impl ReportOptions {
    /// Options for the as-of instant's own date, unsigned by any basis.
    pub fn new(as_of: DateTime<Utc>, lang: Lang) -> Self {
        Self { as_of, on: None, lang, title: None, basis: None }
    }
}

/// Writing the report failed; the error names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("cannot create the report folder {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot write the report {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes `html` to `dir/index.html`, creating `dir` (and its parents) when missing; returns
/// the file's path.
pub fn write_report(dir: &Path, html: &str) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir { path: dir.to_path_buf(), source })?;
    let file = dir.join("index.html");
    std::fs::write(&file, html).map_err(|source| ReportError::Write { path: file.clone(), source })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_others_are_named() {
        assert_eq!("zh".parse::<Lang>(), Ok(Lang::Zh));
        assert_eq!(" EN ".parse::<Lang>(), Ok(Lang::En));
        let err = "fr".parse::<Lang>().unwrap_err();
        assert!(err.to_string().contains("\"fr\""));
    }
}
