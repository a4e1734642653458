//! A validator for the subset of JSON Schema draft-07 that `cfy-ap schema`
//! uses, so tests check configs against the printed schema offline.

use serde_json::Value;

/// Validate `value` against `schema` (the subset of draft-07 `cfy-ap schema` uses: type,
/// properties, additionalProperties, items, anyOf, oneOf, not, enum, const, minimum,
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
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let matching = one
            .iter()
            .filter(|sub| {
                let mut e = Vec::new();
                check(root, sub, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!(
                "{at}: {v} matches {matching} of the forms, not exactly one"
            ));
        }
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
    use agent_packager::config_schema;

    fn check_yaml(yaml: &str) -> Vec<String> {
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        validate(&config_schema(), &v)
    }

    #[test]
    fn validator_accepts_good_and_rejects_bad() {
        let good = "release: 1.10\nprofile: modern\nbase_modules:\n  celery: none\n  cloudify_common: cloudify-common==7.0.5\n  diamond_plugin: false\n  rest_client: none\n  script_plugin:\nmanagement_modules:\n  agent-installer: /x\npip_options: [--no-index]\ntar_compression_level: 9\nrelocatable: false\npackage:\n  version: 3.2\n  compression: xz\n";
        assert_eq!(check_yaml(good), Vec::<String>::new());
        assert!(check_yaml("").is_empty());
        let bad = [
            ("venvv: /x\n", "$.venvv: unknown key"),
            ("tar_compression_level: 10\n", "more than 9"),
            ("keep_venv: maybe\n", "$.keep_venv: expected"),
            ("profile: Modern\n", "$.profile"),
            ("installer: conda\n", "$.installer"),
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
