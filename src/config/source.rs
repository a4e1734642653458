//! The value of one module entry in `base_modules` / `management_modules`:
//! a pip source, or "skip this module" (`none` in any case, null, false or empty).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(untagged)]
pub enum ModuleSource {
    /// Not given: the built-in default source is used.
    #[default]
    Default,
    /// Do not install this module.
    Skip,
    /// A pip requirement: `name==version`, a URL, or a local path.
    Pip(String),
}

impl ModuleSource {
    pub fn from_text(text: &str) -> Self {
        let t = text.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("none") {
            ModuleSource::Skip
        } else {
            ModuleSource::Pip(t.to_string())
        }
    }
}

struct SourceVisitor;

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = ModuleSource;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a pip source (name==version, URL or path), or none/false to skip the module")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ModuleSource::from_text(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        if v {
            Err(E::custom(
                "`true` is not a module source: give a pip requirement (name==version, URL or path), or none/false to skip it",
            ))
        } else {
            Ok(ModuleSource::Skip)
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ModuleSource::Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(ModuleSource::Skip)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}

impl<'de> Deserialize<'de> for ModuleSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}
