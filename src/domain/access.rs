//! Roles granted to actors within a scope (权限), as commands and the access aggregate, and who
//! holds which role across the whole log ([`AccessIndex`]). Which roles may send which command is
//! the permission table in `policy.rs`.
//!
//! Invariants:
//! - Grants and revocations are events in the actor's own stream (`access-{actor}`), so who
//!   could do what at any moment is replayable like everything else.
//! - A store starts enforcing roles with `access.enforce_roles` (启用权限), which names its first
//!   administrator; from then on every engine on the store enforces them, whatever its host
//!   configuration says. There is no event that stops enforcement.
//! - A grant or revocation counts only if the actor who recorded it could grant at that moment
//!   (held the administrator role for the whole district, by the enforcement event, an earlier
//!   grant that counted, or the host's configuration). [`AccessIndex`] folds the access events of
//!   the whole log in position order and applies exactly that rule, so a role an actor gave
//!   itself while nothing was enforced never counts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{opt_text, rule, text, Aggregate, DecisionContext, Rejection, MAX_TEXT};
use crate::events::access::*;
use crate::events::{EntityId, StreamKind};

/// Grant a role to an actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRole {
    pub actor_id: EntityId,
    pub role: Role,
    pub scope: Scope,
    pub reason: Option<String>,
}

/// Revoke a role from an actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRole {
    pub actor_id: EntityId,
    pub role: Role,
    pub scope: Scope,
    pub reason: Option<String>,
}

/// Start enforcing roles in this store (启用权限), with `actor_id` as its first administrator
/// (district-wide). Accepted once per store; later administrators are granted the role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnforceRoles {
    pub actor_id: EntityId,
    pub reason: Option<String>,
}

/// Record that the actor is about to export the log with personal fields opened (PIPL: a
/// disclosure of personal information, 个人信息对外提供). Addressed to the exporter's own stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPersonalExport {
    pub actor_id: EntityId,
    /// Why (the request or legal basis).
    pub reason: String,
    /// Events the export covers.
    pub events: u64,
    /// The head hash the export ends at.
    pub head_hash: String,
}

command_enum!(
    /// Commands addressed to an actor's access stream.
    AccessCommand, actor_id, StreamKind::Access, {
    Grant(GrantRole) = "access.grant_role",
    Revoke(RevokeRole) = "access.revoke_role",
    EnforceRoles(EnforceRoles) = "access.enforce_roles",
    RecordPersonalExport(RecordPersonalExport) = "access.record_personal_export",
});

/// The grants an actor holds now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessState {
    pub actor_id: Option<EntityId>,
    pub grants: Vec<Grant>,
}

/// The access aggregate: one stream per actor.
#[derive(Debug)]
pub struct Access;

impl Aggregate for Access {
    type State = AccessState;
    type Command = AccessCommand;
    type Event = AccessEvent;

    fn decide(s: &AccessState, cmd: &AccessCommand, ctx: &DecisionContext<'_>) -> Result<Vec<AccessEvent>, Rejection> {
        super::same_id("actor_id", &s.actor_id, cmd.target_id())?;
        let (actor_id, recorded_by, recorded_at) = (cmd.target_id().clone(), ctx.actor.clone(), ctx.issued_at);
        Ok(vec![match cmd {
            AccessCommand::Grant(c) => {
                opt_text("reason", &c.reason, MAX_TEXT)?;
                let grant = Grant { role: c.role, scope: c.scope.clone() };
                if s.grants.contains(&grant) {
                    return Err(Rejection::at("role", rule::DUPLICATE, format!("{actor_id} already holds {grant:?}")));
                }
                AccessEvent::Granted(RoleGranted {
                    actor_id,
                    recorded_by,
                    recorded_at,
                    grant,
                    reason: c.reason.clone(),
                })
            }
            AccessCommand::Revoke(c) => {
                opt_text("reason", &c.reason, MAX_TEXT)?;
                let grant = Grant { role: c.role, scope: c.scope.clone() };
                if !s.grants.contains(&grant) {
                    return Err(Rejection::at("role", rule::NOT_FOUND, format!("{actor_id} does not hold {grant:?}")));
                }
                AccessEvent::Revoked(RoleRevoked {
                    actor_id,
                    recorded_by,
                    recorded_at,
                    grant,
                    reason: c.reason.clone(),
                })
            }
            AccessCommand::RecordPersonalExport(c) => {
                if c.actor_id != *ctx.actor {
                    return Err(Rejection::at(
                        "actor_id",
                        rule::WRONG_STREAM,
                        format!("{} records only its own exports, not {}'s", ctx.actor, c.actor_id),
                    ));
                }
                text("reason", &c.reason, MAX_TEXT)?;
                if c.head_hash.len() != 64 || !c.head_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Rejection::at("head_hash", rule::MALFORMED, "head_hash must be 64 hex digits"));
                }
                AccessEvent::PersonalDataExported(PersonalDataExported {
                    actor_id,
                    recorded_at,
                    reason: c.reason.clone(),
                    events: c.events,
                    head_hash: c.head_hash.to_ascii_lowercase(),
                })
            }
            // Whether the store already enforces roles is a fact of the whole log, not of this
            // stream: the engine checks it ([`AccessIndex::enforced`]) before deciding.
            AccessCommand::EnforceRoles(c) => {
                opt_text("reason", &c.reason, MAX_TEXT)?;
                AccessEvent::RolesEnforced(RolesEnforced {
                    actor_id,
                    recorded_by,
                    recorded_at,
                    reason: c.reason.clone(),
                })
            }
        }])
    }

    fn evolve(mut s: AccessState, e: &AccessEvent) -> AccessState {
        match e {
            AccessEvent::Granted(e) => {
                s.actor_id = Some(e.actor_id.clone());
                s.grants.push(e.grant.clone());
            }
            AccessEvent::Revoked(e) => s.grants.retain(|g| *g != e.grant),
            AccessEvent::PersonalDataExported(_) => {}
            AccessEvent::RolesEnforced(e) => {
                s.actor_id = Some(e.actor_id.clone());
                let admin = Grant { role: Role::Administrator, scope: Scope::District };
                if !s.grants.contains(&admin) {
                    s.grants.push(admin);
                }
            }
        }
        s
    }
}

/// An access event the index did not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncounted {
    pub position: u64,
    pub actor_id: EntityId,
    pub recorded_by: EntityId,
    pub reason: &'static str,
}

/// Who holds which roles, folded from the access events of the whole log in position order.
///
/// A grant or revocation counts only if its recorder could grant at that position: the first
/// administrator named by `access.roles_enforced`, a district administrator by a grant that
/// counted, or an administrator of the host's configuration (`roots`). Events that do not count
/// are kept in [`AccessIndex::uncounted`] for audits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessIndex {
    roots: Vec<EntityId>,
    enforced_at: Option<u64>,
    grants: std::collections::BTreeMap<EntityId, Vec<Grant>>,
    uncounted: Vec<Uncounted>,
    /// Positions below this one have been folded.
    folded_to: u64,
}

impl AccessIndex {
    /// An empty index; `roots` hold the administrator role by the host's configuration.
    pub fn new(roots: Vec<EntityId>) -> Self {
        Self { roots, ..Self::default() }
    }

    /// Whether the log says this store enforces roles, and from which position.
    pub fn enforced_at(&self) -> Option<u64> {
        self.enforced_at
    }

    /// Positions below this one are folded.
    pub fn folded_to(&self) -> u64 {
        self.folded_to
    }

    /// Marks positions below `end` as folded (the caller has applied every access event there).
    pub fn advance_to(&mut self, end: u64) {
        self.folded_to = self.folded_to.max(end);
    }

    /// Access events that did not count, oldest first.
    pub fn uncounted(&self) -> &[Uncounted] {
        &self.uncounted
    }

    fn is_district_admin(&self, actor: &EntityId) -> bool {
        self.roots.contains(actor)
            || self
                .grants
                .get(actor)
                .is_some_and(|gs| gs.iter().any(|g| g.role == Role::Administrator && g.scope == Scope::District))
    }

    /// Folds one access event at `position` (events must come in position order; one already
    /// folded is ignored).
    pub fn apply(&mut self, position: u64, event: &AccessEvent) {
        if position < self.folded_to {
            return;
        }
        self.folded_to = position + 1;
        let admin = Grant { role: Role::Administrator, scope: Scope::District };
        let (actor_id, recorded_by, refused) = match event {
            AccessEvent::PersonalDataExported(_) => return,
            AccessEvent::RolesEnforced(e) => {
                let refused = self.enforced_at.is_some().then_some("roles were already enforced");
                if refused.is_none() {
                    self.enforced_at = Some(position);
                    self.hold(&e.actor_id, admin);
                }
                (&e.actor_id, &e.recorded_by, refused)
            }
            AccessEvent::Granted(e) => {
                let refused = (!self.is_district_admin(&e.recorded_by))
                    .then_some("granted by an actor who could not grant roles then");
                if refused.is_none() {
                    self.hold(&e.actor_id, e.grant.clone());
                }
                (&e.actor_id, &e.recorded_by, refused)
            }
            AccessEvent::Revoked(e) => {
                let refused = (!self.is_district_admin(&e.recorded_by))
                    .then_some("revoked by an actor who could not revoke roles then");
                if refused.is_none() {
                    if let Some(held) = self.grants.get_mut(&e.actor_id) {
                        held.retain(|g| *g != e.grant);
                    }
                }
                (&e.actor_id, &e.recorded_by, refused)
            }
        };
        if let Some(reason) = refused {
            self.uncounted.push(Uncounted {
                position,
                actor_id: actor_id.clone(),
                recorded_by: recorded_by.clone(),
                reason,
            });
        }
    }

    fn hold(&mut self, actor: &EntityId, grant: Grant) {
        let held = self.grants.entry(actor.clone()).or_default();
        if !held.contains(&grant) {
            held.push(grant);
        }
    }

    /// The roles `actor` holds now: the host's configuration plus the grants that counted.
    pub fn grants_of(&self, actor: &EntityId) -> Vec<Grant> {
        let mut out = Vec::new();
        if self.roots.contains(actor) {
            out.push(Grant { role: Role::Administrator, scope: Scope::District });
        }
        for g in self.grants.get(actor).into_iter().flatten() {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }

    /// Every actor with a counted grant, and the grants.
    pub fn actors(&self) -> impl Iterator<Item = (&EntityId, &[Grant])> {
        self.grants.iter().filter(|(_, g)| !g.is_empty()).map(|(a, g)| (a, g.as_slice()))
    }
}
