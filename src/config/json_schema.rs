//! `cfy-ap schema`: the JSON Schema (draft-07) of the config file, for editors
//! (e.g. `# yaml-language-server: $schema=cfy-ap.schema.json`), derived from the
//! config types themselves (`schemars`), so it cannot drift from what the tool
//! reads. The pieces serde's derive cannot express are here: values given as
//! text or number, module sources, the compression names and the hyphenated
//! aliases of the management modules.

use super::Config;
use super::source::ModuleSource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// The JSON Schema of the config file.
pub(crate) fn config_schema() -> serde_json::Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    // One self-contained tree: editors show each key's description in place.
    settings.inline_subschemas = true;
    let mut schema = settings.into_generator().into_root_schema_for::<Config>();
    // An empty file is an empty config.
    schema.insert("type".into(), serde_json::json!(["object", "null"]));
    schema.to_value()
}

/// A string; YAML numbers (`release: 1.10`, `version: 3.2`) are read as written.
pub(super) fn text(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": ["string", "number", "null"]})
}

/// The compressor names `package.compression` takes.
pub(super) fn compression(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"enum": ["gzip", "gz", "xz", "zstd", "zst", "none", null]})
}

/// The management modules also take their hyphenated names (`agent-installer`).
pub(super) fn hyphen_aliases(schema: &mut Schema) {
    let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let aliases: Vec<(String, serde_json::Value)> = props
        .iter()
        .filter(|(k, _)| k.contains('_'))
        .map(|(k, v)| {
            let mut v = v.clone();
            if let Some(obj) = v.as_object_mut() {
                let d = obj
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or_default();
                obj.insert("description".into(), format!("Same as {k}. {d}").into());
            }
            (k.replace('_', "-"), v)
        })
        .collect();
    props.extend(aliases);
}

impl JsonSchema for ModuleSource {
    fn schema_name() -> Cow<'static, str> {
        "module".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A pip requirement (name==version, URL or local path); none, false, null or empty to skip the module.",
            "anyOf": [{"type": "string"}, {"type": "null"}, {"const": false}]
        })
    }
}
