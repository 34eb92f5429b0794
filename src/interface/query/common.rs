//! What every question shares: its error, and the checks that name an unknown code.

use super::error::QueryError;
use crate::projections::AllProjections;

/// A category code the catalog knows.
pub(crate) fn known_category(code: Option<&str>) -> Result<(), QueryError> {
    let Some(code) = code else { return Ok(()) };
    let catalog = crate::events::catalog::Catalog::builtin()
        .map_err(|e| QueryError::Invalid(format!("the built-in catalog does not load: {e}")))?;
    if catalog.categories.iter().any(|c| c.code == code) {
        return Ok(());
    }
    Err(QueryError::UnknownCode {
        field: "category",
        value: code.to_string(),
        hint: Some(format!(
            "the catalog's categories are {} (anquan codes)",
            catalog.categories.iter().map(|c| c.code.as_str()).collect::<Vec<_>>().join(", ")
        )),
    })
}

/// A community the statistics know.
pub(crate) fn known_community(all: &AllProjections, id: Option<&str>) -> Result<(), QueryError> {
    let Some(id) = id else { return Ok(()) };
    if all.accident_stats.community(id).is_some() {
        return Ok(());
    }
    let known: Vec<String> = all.accident_stats.communities().map(|c| c.community_id.clone()).take(30).collect();
    Err(QueryError::UnknownCode {
        field: "community",
        value: id.to_string(),
        hint: Some(if known.is_empty() {
            "no community is registered in this store".into()
        } else {
            format!("registered communities include {} (anquan codes)", known.join(", "))
        }),
    })
}
