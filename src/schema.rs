//! `cfy-ap schema`: a JSON Schema (draft-07) of the config file, for editors
//! (e.g. `# yaml-language-server: $schema=cfy-ap.schema.json`), plus a small
//! validator for the subset of JSON Schema used here, so tests check configs
//! against it offline.
//!
//! The schema is written by hand from `config::schema`; a unit test checks that
//! both name exactly the same keys.

use serde_json::{Map, Value, json};

/// A string; YAML numbers (`release: 1.10`, `version: 3.2`) are read as written.
fn text(description: &str) -> Value {
    json!({"type": ["string", "number", "null"], "description": description})
}

fn string(description: &str) -> Value {
    json!({"type": ["string", "null"], "description": description})
}

fn strings(description: &str) -> Value {
    json!({"type": ["array", "null"], "items": {"type": "string"}, "description": description})
}

fn boolean(description: &str) -> Value {
    json!({"type": ["boolean", "null"], "description": description})
}

fn object(description: &str, properties: Value) -> Value {
    json!({
        "type": ["object", "null"],
        "description": description,
        "additionalProperties": false,
        "properties": properties,
    })
}

fn module(description: &str) -> Value {
    json!({"$ref": "#/definitions/module", "description": description})
}

/// The JSON Schema of the config file.
pub fn config_schema() -> Value {
    let management = {
        let mut m = Map::new();
        for key in crate::modules::MANAGEMENT_MODULES {
            let sub = crate::modules::manager_subdir(key);
            let d = format!("Default: {sub} of the manager source.");
            m.insert(key.to_string(), module(&d));
            m.insert(
                key.replace('_', "-"),
                module(&format!("Same as {key}. {d}")),
            );
        }
        Value::Object(m)
    };
    let mut schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "cfy-ap config",
        "description": "Build configuration of a Cloudify agent (cfy-ap). Every key is optional.",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "distribution": text("Distribution name as platform.dist() gave it (Ubuntu, centos, debian...). Default: detected."),
            "release": text("Release code name (trusty, Core, bookworm...). Default: detected."),
            "venv": string("Where the virtualenv is built; also the member path in the tar. Default: /cloudify/<distribution>-<release>-agent/env."),
            "python_path": string("The interpreter the virtualenv is made with. Default: /usr/bin/python, else python3 from PATH."),
            "base_modules": object("Base modules, installed in this order.", json!({
                "celery": {"$ref": "#/definitions/celery"},
                "rest_client": module("Default: the cloudify-rest-client master tarball."),
                "plugins_common": module("Default: the cloudify-plugins-common master tarball."),
                "script_plugin": module("Default: the cloudify-script-plugin master tarball."),
                "diamond_plugin": module("Default: the cloudify-diamond-plugin master tarball."),
            })),
            "management_modules_version": text("Branch or tag of the cloudify-manager source. Default: master."),
            "management_modules": object("Management modules; by default from the cloudify-manager source.", management),
            "management_modules_source": string("URL template with {version}, a local .tar.gz or a directory. Default: the GitHub archive of cloudify-manager."),
            "additional_modules": strings("More pip requirements (your plugins), installed last, in order."),
            "pip_options": strings("Extra arguments for every pip install, e.g. [--no-index, --find-links, ./wheels]."),
            "output_tar": string("The agent archive. Default: <distribution>-<release>-agent.tar.gz."),
            "keep_venv": boolean("Keep the virtualenv after the tar is written. Default: false."),
            "relocatable": boolean("Make the agent work from any directory (scripts and activate find their own location). Default: true."),
            "tar_compression_level": {
                "type": ["integer", "null"], "minimum": 1, "maximum": 9,
                "description": "gzip level of the agent tar.gz (1-9). Default: 6."
            },
            "package": object("The manager package (--format deb / --format rpm).", json!({
                "name": string("Package name. Default: cloudify-<distribution>-<release>-agent, lowercased."),
                "version": text("Package version (required for deb/rpm, or $VERSION), e.g. 3.2rc1."),
                "revision": text("Package revision. Default: 1."),
                "architecture": string("Default: this host's architecture."),
                "maintainer": string("`Full Name <email>`."),
                "description": string("Default: generated."),
                "homepage": string("An http:// or https:// URL."),
                "license": string("Default: Apache-2.0."),
                "copyright": string("Copyright line of the deb's copyright file. Default: the authors of the bundled modules."),
                "depends": strings("deb dependencies."),
                "rpm_depends": strings("rpm requirements."),
                "resources_dir": string("Absolute path of the manager's resources. Default: /opt/manager/resources."),
                "config_files": string("Directory with the per-distribution config files. Default: packaging/ beside the config, else the system's."),
                "compression": {
                    "enum": ["gzip", "gz", "xz", "zstd", "zst", "none", null],
                    "description": "Payload compression. Default: gzip."
                },
                "compression_level": {
                    "type": ["integer", "null"], "minimum": 0,
                    "description": "Level for the compression (its range). Default: the compression's default."
                },
                "output_dir": string("Where the package is written. Default: the directory of output_tar."),
                "sign_key": string("Armored OpenPGP secret key to sign the rpm."),
            })),
            "publish": object("An apt repository to publish the .deb into.", json!({
                "repo": string("The repository directory."),
                "codename": string("Distribution (dists/<codename>). Default: stable."),
                "suite": string("Suite in the Release file. Default: the codename."),
                "component": string("Default: main."),
                "origin": string("Default: cfy-ap."),
                "label": string("Default: cfy-ap."),
                "sign_key": string("Armored OpenPGP secret key to sign the indices."),
            })),
        },
        "definitions": {
            "module": {
                "description": "A pip requirement (name==version, URL or local path); none, false, null or empty to skip the module.",
                "anyOf": [{"type": "string"}, {"type": "null"}, {"const": false}]
            },
            "celery": {
                "description": "The celery requirement: mandatory, cannot be skipped. Default: celery==3.1.17.",
                "type": "string",
                "minLength": 1,
                "not": {"enum": ["none", "None", "NONE"]}
            }
        }
    });
    schema["properties"]["build_roots"] =
        strings("Root filesystems (directories) to build one agent each in, like --root DIR.");
    schema
}

/// Every key of the config, as serde reads it: `key` at the top level,
/// `section.key` below (the deserializer's aliases are not included).
pub fn config_keys() -> Vec<String> {
    use crate::config::{BaseModules, Config, ManagementModules, Package, Publish};
    let full = Config {
        base_modules: Some(BaseModules::default()),
        management_modules: Some(ManagementModules::default()),
        package: Some(Package::default()),
        publish: Some(Publish::default()),
        ..Config::default()
    };
    let value = serde_json::to_value(&full).expect("the config serializes");
    let mut keys = Vec::new();
    for (k, v) in value.as_object().expect("an object") {
        keys.push(k.clone());
        if let Some(inner) = v.as_object() {
            keys.extend(inner.keys().map(|i| format!("{k}.{i}")));
        }
    }
    keys
}

/// Validate `value` against `schema` (the subset of draft-07 used above: type,
/// properties, additionalProperties, items, anyOf, not, enum, const, minimum,
/// maximum, minLength, local $ref). Returns one message per problem, with the
/// JSON path of the value.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "$", &mut errors);
    errors
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        return;
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .map(|p| p.split('/').try_fold(root, |node, k| node.get(k)));
        match target.flatten() {
            Some(t) => check(root, t, v, at, errors),
            None => errors.push(format!("{at}: unresolvable $ref {r}")),
        }
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, v)),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: expected {t}, got {v}"));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!(
            "{at}: {v} is not one of {}",
            Value::from(options.clone())
        ));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: expected {c}, got {v}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {v} is less than {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {v} is more than {max}"));
        }
    }
    if let (Some(min), Some(text)) = (s.get("minLength").and_then(Value::as_u64), v.as_str())
        && (text.chars().count() as u64) < min
    {
        errors.push(format!("{at}: {v} is shorter than {min}"));
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|sub| {
            let mut e = Vec::new();
            check(root, sub, v, at, &mut e);
            e.is_empty()
        })
    {
        errors.push(format!("{at}: {v} matches none of the allowed forms"));
    }
    if let Some(not) = s.get("not") {
        let mut e = Vec::new();
        check(root, not, v, at, &mut e);
        if e.is_empty() {
            errors.push(format!("{at}: {v} is not allowed here"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for (k, item) in obj {
            let sub_at = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(sub) => check(root, sub, item, &sub_at, errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{sub_at}: unknown key"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props<'a>(schema: &'a Value, section: Option<&str>) -> Vec<&'a String> {
        let p = match section {
            None => &schema["properties"],
            Some(s) => &schema["properties"][s]["properties"],
        };
        p.as_object().unwrap().keys().collect()
    }

    #[test]
    fn schema_and_config_name_the_same_keys() {
        let schema = config_schema();
        let keys = config_keys();
        assert!(keys.contains(&"relocatable".to_string()));
        for key in &keys {
            let (section, name) = match key.split_once('.') {
                Some((s, n)) => (Some(s), n),
                None => (None, key.as_str()),
            };
            assert!(
                props(&schema, section).iter().any(|p| p.as_str() == name),
                "config key {key} is missing from the JSON Schema"
            );
        }
        for p in props(&schema, None) {
            assert!(keys.contains(p), "schema key {p} is not a config key");
        }
        for section in ["base_modules", "management_modules", "package", "publish"] {
            for p in props(&schema, Some(section)) {
                let key = format!("{section}.{}", p.replace('-', "_"));
                assert!(keys.contains(&key), "schema key {key} is not a config key");
            }
        }
    }

    fn check_yaml(yaml: &str) -> Vec<String> {
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        validate(&config_schema(), &v)
    }

    #[test]
    fn validator_accepts_good_and_rejects_bad() {
        let good = "release: 1.10\nbase_modules:\n  celery: celery==3.1.17\n  diamond_plugin: false\n  rest_client: none\n  script_plugin:\nmanagement_modules:\n  agent-installer: /x\npip_options: [--no-index]\ntar_compression_level: 9\nrelocatable: false\npackage:\n  version: 3.2\n  compression: xz\n";
        assert_eq!(check_yaml(good), Vec::<String>::new());
        assert!(check_yaml("").is_empty());
        let bad = [
            ("venvv: /x\n", "$.venvv: unknown key"),
            ("tar_compression_level: 10\n", "more than 9"),
            ("keep_venv: maybe\n", "$.keep_venv: expected"),
            ("base_modules:\n  celery: none\n", "not allowed"),
            (
                "base_modules:\n  celery:\n",
                "$.base_modules.celery: expected",
            ),
            (
                "base_modules:\n  rest_client: true\n",
                "none of the allowed forms",
            ),
            ("package:\n  compression: bzip2\n", "is not one of"),
            (
                "additional_modules: {a: b}\n",
                "$.additional_modules: expected",
            ),
        ];
        for (yaml, expected) in bad {
            let errors = check_yaml(yaml);
            assert!(
                errors.iter().any(|e| e.contains(expected)),
                "{yaml:?}: {errors:?}"
            );
        }
    }
}
