//! Declarative tables of an aggregate's commands and events.
//!
//! Each aggregate lists its command structs with their JSON type names, and its event structs
//! with their persisted type names and current schema versions, in one place; these macros turn
//! the table into the enum plus the lookups (type name, version, stream id, payload codec,
//! schemas) so that adding an event cannot forget one of them.

/// `command_enum!(Name, id_field, StreamKind::X, { Variant(Struct) = "type.name", ... })`
macro_rules! command_enum {
    ($(#[$m:meta])* $name:ident, $idf:ident, $kind:expr, { $( $(#[$vm:meta])* $var:ident($ty:ty) = $tname:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(tag = "type")]
        pub enum $name {
            $( $(#[$vm])* #[serde(rename = $tname)] $var($ty), )*
        }

        impl $name {
            /// The JSON `type` of every command of this aggregate.
            pub const TYPES: &'static [&'static str] = &[$($tname),*];

            pub fn command_type(&self) -> &'static str {
                match self { $(Self::$var(_) => $tname),* }
            }

            /// Id of the aggregate instance the command is addressed to.
            pub fn target_id(&self) -> &$crate::domain::EntityId {
                match self { $(Self::$var(c) => &c.$idf),* }
            }

            pub fn target_stream(&self) -> String {
                $kind.stream_id(self.target_id())
            }

            /// JSON Schema of each command body (without the `type` tag; see `schema.rs`).
            pub(crate) fn body_schemas() -> Vec<(&'static str, schemars::Schema)> {
                vec![$(($tname, $crate::domain::schema::root_schema::<$ty>())),*]
            }
        }
    };
}

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
            ) -> Option<Result<Self, $crate::domain::DomainError>> {
                match event_type {
                    $($tname => Some(if schema_version == $ver {
                        $crate::codec::decode::<$ty>(bytes).map(Self::$var).map_err(|source| {
                            $crate::domain::DomainError::Codec {
                                event_type: event_type.to_string(),
                                schema_version,
                                source,
                            }
                        })
                    } else {
                        Err($crate::domain::DomainError::UnsupportedVersion {
                            event_type: event_type.to_string(),
                            schema_version,
                        })
                    }),)*
                    _ => None,
                }
            }

            /// JSON Schema of each event struct, keyed by type and version.
            pub(crate) fn schemas() -> Vec<(&'static str, u16, schemars::Schema)> {
                vec![$(($tname, $ver, $crate::domain::schema::root_schema::<$ty>())),*]
            }
        }
    };
}
