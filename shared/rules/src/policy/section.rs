//! A guard's own part of the policy, held without naming its type: the policy sits below the
//! guards, so it stores each guard's settings as a [`Section`] keyed by the settings' type,
//! and the guard reads them back with [`Policy::section`]. The loader above the guards
//! (`load.rs`) fills them in through each guard's [`SettingsSpec`].

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Policy, PolicyError};

/// A guard's settings, type-erased. Implemented for every settings type (see
/// [`GuardSettings`]), so a guard never writes these by hand.
pub trait Section: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn clone_box(&self) -> Box<dyn Section>;
    fn eq_dyn(&self, other: &dyn Section) -> bool;
    /// The policy keys this section owns, as the file writes them.
    fn to_json(&self) -> Map<String, Value>;
}

impl<T> Section for T
where
    T: Any + fmt::Debug + Send + Sync + Clone + PartialEq + Serialize,
{
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn clone_box(&self) -> Box<dyn Section> {
        Box::new(self.clone())
    }

    fn eq_dyn(&self, other: &dyn Section) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }

    fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// What a guard's settings type provides: its file form is itself (serde, every field
/// defaulted, unknown fields refused), each of its fields is one top-level key of the
/// policy, and `validate` checks (and parses) the values, naming the field in its errors.
pub trait GuardSettings:
    Section + Clone + PartialEq + Default + Serialize + DeserializeOwned
{
    fn validate(&mut self) -> Result<(), PolicyError> {
        Ok(())
    }
}

/// A guard's settings parsed and validated, or what is wrong with them.
pub type Parse = Result<Box<dyn Section>, PolicyError>;

/// A guard's declaration of its settings (`GuardSpec::settings`): functions over the
/// policy file's JSON, so the loader needs no guard's types.
pub struct SettingsSpec {
    pub type_id: fn() -> TypeId,
    /// The defaults, validated.
    pub default: fn() -> Box<dyn Section>,
    /// Parse and validate the guard's keys, taken out of the file's top-level object.
    pub parse: fn(Map<String, Value>) -> Parse,
}

impl SettingsSpec {
    pub const fn of<T: GuardSettings>() -> SettingsSpec {
        SettingsSpec {
            type_id: TypeId::of::<T>,
            default: default_section::<T>,
            parse: parse_section::<T>,
        }
    }

    /// The top-level keys the guard owns: the fields of its settings.
    pub fn keys(&self) -> Vec<String> {
        (self.default)()
            .to_json()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }
}

fn default_section<T: GuardSettings>() -> Box<dyn Section> {
    let mut s = T::default();
    // The defaults are written as the file writes them; validating parses them. They are
    // valid (a test checks), so a failure here leaves the unparsed defaults.
    let _ = s.validate();
    Box::new(s)
}

fn parse_section<T: GuardSettings>(
    keys: Map<String, Value>,
) -> Result<Box<dyn Section>, PolicyError> {
    let mut s: T =
        serde_path_to_error::deserialize(Value::Object(keys)).map_err(|e| PolicyError::Syntax {
            path: e.path().to_string(),
            problem: e.inner().to_string(),
        })?;
    s.validate()?;
    Ok(Box::new(s))
}

/// Each guard's settings, by the type of its settings.
#[derive(Debug, Default)]
pub(crate) struct Sections(BTreeMap<TypeId, Box<dyn Section>>);

impl Sections {
    pub(crate) fn insert(&mut self, id: TypeId, s: Box<dyn Section>) {
        self.0.insert(id, s);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn Section> {
        self.0.values().map(|s| s.as_ref())
    }
}

impl Clone for Sections {
    fn clone(&self) -> Self {
        Sections(self.0.iter().map(|(k, v)| (*k, v.clone_box())).collect())
    }
}

impl PartialEq for Sections {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .all(|(k, v)| other.0.get(k).is_some_and(|o| v.eq_dyn(o.as_ref())))
    }
}

impl Policy {
    /// A guard's settings: what the policy file gave, or the defaults when this policy was
    /// built without them. A map lookup and a downcast: nothing is parsed here.
    pub fn section<T: GuardSettings>(&self) -> Cow<'_, T> {
        match self
            .sections
            .0
            .get(&TypeId::of::<T>())
            .and_then(|s| s.as_any().downcast_ref::<T>())
        {
            Some(s) => Cow::Borrowed(s),
            None => {
                let mut d = T::default();
                // Defaults are valid (a test checks); validating only parses them.
                let _ = d.validate();
                Cow::Owned(d)
            }
        }
    }
}
