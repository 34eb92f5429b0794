//! The declarative table of an aggregate's events.
//!
//! Each aggregate lists its event structs with their persisted type names and current schema
//! versions in one place; `event_enum!` turns the table into the enum plus the lookups (type
//! name, version, stream id, payload codec, schemas) so that adding an event cannot forget one of
//! them. Its twin for commands, `command_enum!`, is the domain's (`crate::domain`'s `macros.rs`).

/// `event_enum!(Name, id_field, StreamKind::X, { Variant(Struct) = "type.name" v 1, ... })`
macro_rules! event_enum {
    ($(#[$m:meta])* $name:ident, $idf:ident, $kind:expr, { $( $(#[$vm:meta])* $var:ident($ty:ty) = $tname:literal v $ver:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(tag = "type")]
        pub enum $name {
            $( $(#[$vm])* #[serde(rename = $tname)] $var($ty), )*
        }

        impl $name {
            /// Every persisted event type of this aggregate with its current schema version.
            pub const TYPES: &'static [(&'static str, u16)] = &[$(($tname, $ver)),*];

            pub fn event_type(&self) -> &'static str {
                match self { $(Self::$var(_) => $tname),* }
            }

            pub fn schema_version(&self) -> u16 {
                match self { $(Self::$var(_) => $ver),* }
            }

            pub fn stream_id(&self) -> String {
                match self { $(Self::$var(e) => $kind.stream_id(&e.$idf)),* }
            }

            pub(crate) fn encode_payload(&self) -> Result<Vec<u8>, $crate::codec::CodecError> {
                match self { $(Self::$var(e) => $crate::codec::encode(e)),* }
            }

            /// Decodes a payload of the *current* version; `None` when the type is not ours.
            pub(crate) fn decode_current(
                event_type: &str,
                schema_version: u16,
                bytes: &[u8],
            ) -> Option<Result<Self, $crate::events::EventError>> {
                match event_type {
                    $($tname => Some(if schema_version == $ver {
                        $crate::codec::decode::<$ty>(bytes).map(Self::$var).map_err(|source| {
                            $crate::events::EventError::Codec {
                                event_type: event_type.to_string(),
                                schema_version,
                                source,
                            }
                        })
                    } else {
                        Err($crate::events::EventError::UnsupportedVersion {
                            event_type: event_type.to_string(),
                            schema_version,
                        })
                    }),)*
                    _ => None,
                }
            }

            /// JSON Schema of each event struct, keyed by type and version.
            pub(crate) fn schemas() -> Vec<(&'static str, u16, schemars::Schema)> {
                vec![$(($tname, $ver, $crate::events::json_schema::root_schema::<$ty>())),*]
            }
        }
    };
}
