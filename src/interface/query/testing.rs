//! A small demo district's projections, for the queries' unit tests.

use std::sync::{Arc, OnceLock};

use crate::engine::Engine;
use crate::projections::AllProjections;
use crate::store::{Durability, EventStore, ManualClock, StoreOptions, Timestamp};

/// The projections of a small demo district (built once per test process).
pub(crate) fn small_district() -> &'static AllProjections {
    static ALL: OnceLock<AllProjections> = OnceLock::new();
    ALL.get_or_init(|| {
        let config = crate::interface::demo::DemoConfig { seed: 5, scale: 0.05, ..Default::default() };
        let history = crate::interface::demo::district_history(&config);
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_chrono(history.as_of)));
        let options = StoreOptions {
            durability: Durability::Deferred { flush_interval: std::time::Duration::from_secs(1) },
            clock: clock.clone(),
            ..StoreOptions::default()
        };
        let vault = Arc::new(crate::engine::privacy::Vault::open_beside_store(dir.path()).unwrap());
        let engine = Engine::new(EventStore::open_dir(dir.path(), options).unwrap())
            .unwrap()
            .with_clock(clock)
            .with_vault(vault);
        for json in &history.commands {
            let _ = engine.execute_json(json);
        }
        AllProjections::as_of(engine.store(), engine.store().head().next_position).unwrap().0
    })
}
