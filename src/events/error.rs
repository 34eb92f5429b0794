//! [`EventError`]: a stored payload that does not decode (bad bytes, an unknown type or version)
//! or an event that does not encode, and a catalog that does not load.

/// Errors of the event vocabulary. Decoding never panics: every failure is one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    #[error("codec error for event {event_type} v{schema_version}: {source}")]
    Codec {
        event_type: String,
        schema_version: u16,
        #[source]
        source: crate::codec::CodecError,
    },
    #[error("unknown event type {event_type:?}")]
    UnknownEventType { event_type: String },
    #[error("unsupported schema version {schema_version} for event type {event_type:?}")]
    UnsupportedVersion { event_type: String, schema_version: u16 },
    #[error("catalog is invalid: {0}")]
    Catalog(String),
}
