//! Deciding a command: the events of its target stream folded into the state of the command's
//! aggregate, then that aggregate's `decide`.

use super::access::Access;
use super::command::{Command, CommandEnvelope};
use super::community::Community;
use super::enterprise::Enterprise;
use super::hazard::Hazard;
use super::incident::Incident;
use super::injury::Injury;
use super::person::Person;
use super::promotion::Project;
use super::settings::Settings;
use super::{Aggregate, DecisionContext, Rejection};
use crate::events::{Catalog, DomainEvent};

/// Decides a command against the events already in its target stream. Events of other aggregate
/// kinds in `stream_events` are ignored (they cannot be in the target stream of a well-run store).
pub fn decide_command(
    stream_events: &[DomainEvent],
    envelope: &CommandEnvelope,
    catalog: &Catalog,
    settings: &Settings,
) -> Result<Vec<DomainEvent>, Rejection> {
    let ctx = DecisionContext { actor: &envelope.actor, issued_at: envelope.issued_at, catalog, settings };
    dispatch(stream_events, &envelope.command, &ctx)
}

fn run<A: Aggregate>(
    events: impl Iterator<Item = A::Event>,
    cmd: &A::Command,
    ctx: &DecisionContext<'_>,
    wrap: fn(A::Event) -> DomainEvent,
) -> Result<Vec<DomainEvent>, Rejection> {
    let state = events.fold(A::State::default(), |s, e| A::evolve(s, &e));
    Ok(A::decide(&state, cmd, ctx)?.into_iter().map(wrap).collect())
}

/// Folds the stream's events of the command's aggregate kind and decides the command.
fn dispatch(events: &[DomainEvent], cmd: &Command, ctx: &DecisionContext<'_>) -> Result<Vec<DomainEvent>, Rejection> {
    macro_rules! pick {
        ($v:ident) => {
            events.iter().filter_map(|e| match e {
                DomainEvent::$v(x) => Some(x.clone()),
                _ => None,
            })
        };
    }
    match cmd {
        Command::Access(c) => run::<Access>(pick!(Access), c, ctx, DomainEvent::Access),
        Command::Community(c) => run::<Community>(pick!(Community), c, ctx, DomainEvent::Community),
        Command::Enterprise(c) => run::<Enterprise>(pick!(Enterprise), c, ctx, DomainEvent::Enterprise),
        Command::Hazard(c) => run::<Hazard>(pick!(Hazard), c, ctx, DomainEvent::Hazard),
        Command::Incident(c) => run::<Incident>(pick!(Incident), c, ctx, DomainEvent::Incident),
        Command::Injury(c) => run::<Injury>(pick!(Injury), c, ctx, DomainEvent::Injury),
        Command::Person(c) => run::<Person>(pick!(Person), c, ctx, DomainEvent::Person),
        Command::Project(c) => run::<Project>(pick!(Project), c, ctx, DomainEvent::Project),
    }
}
