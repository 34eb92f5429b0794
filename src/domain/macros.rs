//! The declarative table of an aggregate's commands.
//!
//! Each aggregate lists its command structs with their JSON type names in one place;
//! `command_enum!` turns the table into the enum plus the lookups (type name, target id and
//! stream, body schemas). Its twin for events, `event_enum!`, is in `crate::events`.

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
            pub fn target_id(&self) -> &$crate::events::EntityId {
                match self { $(Self::$var(c) => &c.$idf),* }
            }

            pub fn target_stream(&self) -> String {
                $kind.stream_id(self.target_id())
            }

            /// JSON Schema of each command body (without the `type` tag; see `schema.rs`).
            pub(crate) fn body_schemas() -> Vec<(&'static str, schemars::Schema)> {
                vec![$(($tname, $crate::events::json_schema::root_schema::<$ty>())),*]
            }
        }
    };
}
