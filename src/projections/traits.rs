//! What a read model is: the [`Projection`] trait, and [`Family`], the event types a projection
//! says it folds, taken from the lists `event_enum!` generates (`HazardEvent::TYPES` …) so that a
//! misspelt type does not compile.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::events::DomainEvent;
use crate::store::RecordedEvent;

/// A read model folded from the log.
///
/// `apply` must be deterministic (no clock, no randomness, no hash-ordered containers) and total:
/// an event it does not care about is ignored, not an error.
pub trait Projection: Default + Serialize + DeserializeOwned {
    /// Stable name, used in backend keys: `[a-z0-9_]`, unique per projection.
    const NAME: &'static str;
    /// Version of the state layout; a snapshot of another version is discarded and rebuilt.
    const VERSION: u32;

    /// Whether `apply` can do anything with events of this type. Runners decode the payload only
    /// for types some projection wants, so this must be `true` for every type `apply` reads (a
    /// `false` for a type it reads would silently drop events). Default: every type.
    ///
    /// The read models answer with [`Family`] lists: a whole family
    /// (`HAZARD.contains(event_type)`) or single types checked against their family when the
    /// crate compiles (`INCIDENT.get("incident.graded")`), never a bare string.
    fn wants(event_type: &str) -> bool {
        let _ = event_type;
        true
    }

    /// Folds one event. `recorded` is the envelope (position, recorded-at, actor), `event` its
    /// decoded, upcast payload.
    fn apply(&mut self, recorded: &RecordedEvent, event: &DomainEvent);

    /// Starts a bulk fold: until [`Projection::end_bulk`], `apply` may leave derived state
    /// (indexes recomputed when a snapshot loads) stale and keep only the stored state. Runners
    /// call it before folding many events at once and always call `end_bulk` after, also on an
    /// error. Default: nothing (every `apply` keeps everything up to date).
    fn begin_bulk(&mut self) {}

    /// Ends a bulk fold: derived state is recomputed from the stored state in one pass, so the
    /// projection equals one folded event by event. Default: nothing.
    fn end_bulk(&mut self) {}
}

/// One aggregate's event types, as its event enum lists them (`event_enum!`'s `TYPES`), for
/// [`Projection::wants`]. Built in a `const`, so its checks run when the crate compiles:
/// [`Family::of`] needs every type to share one `family.` prefix, [`Family::get`] a type the list
/// holds.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    types: &'static [(&'static str, u16)],
    /// What every type of the family starts with, the dot included (`"hazard."`).
    prefix: &'static str,
}

impl Family {
    /// The family of an event enum's `TYPES` (`Family::of(HazardEvent::TYPES)`).
    pub const fn of(types: &'static [(&'static str, u16)]) -> Self {
        let [(first, _), ..] = types else { panic!("an event family lists at least one type") };
        let bytes = first.as_bytes();
        let mut dot = 0;
        while dot < bytes.len() && bytes[dot] != b'.' {
            dot += 1;
        }
        assert!(dot < bytes.len(), "an event type is `family.name`");
        let (prefix, _) = bytes.split_at(dot + 1);
        let Ok(prefix) = core::str::from_utf8(prefix) else { panic!("a prefix cut at an ASCII dot is UTF-8") };
        let mut i = 1;
        while i < types.len() {
            assert!(starts_with(types[i].0, prefix), "the types of an event family share one prefix");
            i += 1;
        }
        Self { types, prefix }
    }

    /// Whether `event_type` is of this family (`hazard.…`). A type of the family that its enum
    /// does not know decodes to nothing and is skipped, as any unknown type.
    #[inline]
    pub fn contains(&self, event_type: &str) -> bool {
        event_type.starts_with(self.prefix)
    }

    /// `name`, which must be one of the family's types: in a `const`, a name the enum does not
    /// list stops the build.
    pub const fn get(&self, name: &'static str) -> &'static str {
        let mut i = 0;
        while i < self.types.len() {
            if same(self.types[i].0, name) {
                return name;
            }
            i += 1;
        }
        panic!("not an event type of this family")
    }
}

/// `a == b`, in a `const fn`.
const fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && starts_with(a, b)
}

/// `s.starts_with(prefix)`, in a `const fn`.
const fn starts_with(s: &str, prefix: &str) -> bool {
    let (s, p) = (s.as_bytes(), prefix.as_bytes());
    if p.len() > s.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if s[i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::Family;
    use crate::events::enterprise::EnterpriseEvent;
    use crate::events::hazard::HazardEvent;

    const HAZARD: Family = Family::of(HazardEvent::TYPES);

    #[test]
    fn a_family_is_its_prefix_and_names_only_its_own_types() {
        assert!(HAZARD.contains("hazard.reported"));
        assert!(!HAZARD.contains("hazards.reported") && !HAZARD.contains("incident.reported"));
        const ACTION: &str = Family::of(EnterpriseEvent::TYPES).get("enterprise.enforcement_action_taken");
        assert_eq!(ACTION, "enterprise.enforcement_action_taken");
        assert!(EnterpriseEvent::TYPES.iter().all(|(t, _)| Family::of(EnterpriseEvent::TYPES).contains(t)));
    }

    #[test]
    #[should_panic(expected = "not an event type of this family")]
    fn a_name_the_family_does_not_list_is_refused() {
        // In a `const` (as the read models use it) this is a build error.
        let _ = HAZARD.get("hazard.reportd");
    }
}
