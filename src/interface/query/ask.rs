//! Asking: folding the projections to a moment and answering there.

use chrono::{DateTime, NaiveDate, Utc};

use super::error::QueryError;
use super::types::{Answer, Basis, Figures, Moment, Query};
use super::{hazards, incidents, kpis, projects, stats, streaks};
use crate::projections::AllProjections;
use crate::store::{to_hex, Direction, EventStore, Timestamp, GENESIS_HASH};

/// The answer to `query` from projections folded to some position, for reference date `on`.
pub fn answer(all: &AllProjections, query: &Query, on: NaiveDate) -> Result<Answer, QueryError> {
    Ok(match query {
        Query::Stats(q) => Answer::Stats(stats::answer(all, q, on)?),
        Query::Kpis(q) => Answer::Kpis(kpis::answer(all, q, on)?),
        Query::Hazards(q) => Answer::Hazards(hazards::answer(all, q, on)?),
        Query::Incidents(q) => Answer::Incidents(incidents::answer(all, q, on)?),
        Query::Trail(q) => Answer::Trail(incidents::trail(all, q, on)?),
        Query::Streaks(q) => Answer::Streaks(streaks::answer(all, q, on)?),
        Query::Projects(q) => Answer::Projects(projects::answer(all, q, on)?),
    })
}

/// The log position a moment folds to.
pub fn position_of(store: &EventStore, moment: &Moment) -> Result<u64, QueryError> {
    Ok(match moment.as_of {
        Some(t) => store.position_as_of(Timestamp::from_chrono(t))?,
        None => store.head().next_position,
    })
}

/// The chain hash after the first `position` events of the store.
pub fn hash_at(store: &EventStore, position: u64) -> Result<String, QueryError> {
    if position == 0 {
        return Ok(to_hex(&GENESIS_HASH));
    }
    match store.read_all(position - 1, Direction::Forward, 1)?.first() {
        Some(e) if e.position == position - 1 => Ok(to_hex(&e.hash)),
        _ => Err(QueryError::Invalid(format!("the log holds fewer than {position} events"))),
    }
}

/// The basis of figures computed at `position` for the moment.
pub fn basis(store: &EventStore, position: u64, moment: &Moment, on: NaiveDate) -> Result<Basis, QueryError> {
    Ok(Basis {
        anquan: env!("CARGO_PKG_VERSION").to_string(),
        position,
        head_hash: hash_at(store, position)?,
        as_of: moment.as_of,
        on,
    })
}

/// Folds the projections up to the moment (from snapshots where they allow) and answers each
/// query; every answer carries the same basis. `now` stands for "today" when the moment names
/// no date.
pub fn ask_all(
    store: &EventStore,
    queries: &[Query],
    moment: &Moment,
    now: DateTime<Utc>,
) -> Result<(AllProjections, Vec<Figures>), QueryError> {
    let position = position_of(store, moment)?;
    let (all, _) = AllProjections::as_of(store, position)?;
    let on = moment.reference_date(now);
    let basis = basis(store, position, moment, on)?;
    let figures = queries
        .iter()
        .map(|q| Ok(Figures { basis: basis.clone(), query: q.clone(), result: answer(&all, q, on)? }))
        .collect::<Result<Vec<_>, QueryError>>()?;
    Ok((all, figures))
}

/// [`ask_all`] for one query.
pub fn ask(store: &EventStore, query: &Query, moment: &Moment, now: DateTime<Utc>) -> Result<Figures, QueryError> {
    let (_, mut figures) = ask_all(store, std::slice::from_ref(query), moment, now)?;
    figures.pop().ok_or_else(|| QueryError::Invalid("no answer".into()))
}
