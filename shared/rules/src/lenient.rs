//! Lenient readers for the many shapes real CloudTrail records come in.
//!
//! CloudTrail has changed its JSON over the years and different services serialise the
//! same concept differently: lists as `{"items": [...]}`, as bare arrays or as `{}`, ports
//! as numbers or strings, account ids as numbers. These helpers accept every shape seen in
//! the wild and never fail; the decision code then decides strictly on what they return.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A string field read leniently: a string as it is, a number or boolean in its JSON
/// spelling; any other shape (object, array, null) reads as absent instead of failing the
/// whole record. Dereferences to `Option<String>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Text(pub Option<String>);

impl Text {
    pub fn new(s: impl Into<String>) -> Text {
        Text(Some(s.into()))
    }

    /// The value, or None when absent.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn is_absent(&self) -> bool {
        self.0.is_none()
    }
}

impl Deref for Text {
    type Target = Option<String>;
    fn deref(&self) -> &Option<String> {
        &self.0
    }
}

impl From<Option<String>> for Text {
    fn from(v: Option<String>) -> Text {
        Text(v)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::new(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text::new(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text::new(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text::new(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                // The same spelling as serde_json gives the number (1.0 stays "1.0").
                Ok(Text(serde_json::Number::from_f64(v).map(|n| n.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Text, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Text, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar as a string: strings as they are, numbers and booleans in their JSON spelling.
/// Objects, arrays and null read as absent.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The string at `key` of an object, leniently (see [`scalar_string`]).
pub fn str_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(scalar_string).filter(|s| !s.is_empty())
}

/// The first of several spellings of a key (CloudTrail mixes `groupId` and `GroupId`).
pub fn str_any(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| str_at(v, k))
}

/// An integer from a number or a numeric string ("22", " 22 ", 22, 22.0).
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e12)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn int_at(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(int)
}

pub fn int_any(v: &Value, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| int_at(v, k))
}

/// A float from a number or a numeric string (GuardDuty severities are both).
pub fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// A boolean from `true`, `"true"`, `"TRUE"`, `1`.
pub fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

pub fn bool_any(v: &Value, keys: &[&str]) -> Option<bool> {
    keys.iter().find_map(|k| v.get(*k).and_then(boolean))
}

/// The elements of a CloudTrail list in any of its shapes: `{"items": [...]}`, `[...]`,
/// `{"item": ...}`, a single object, `{}` or null (empty).
pub fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => {
            for key in ["items", "item", "Items", "Item"] {
                if let Some(inner) = o.get(key) {
                    return items(inner);
                }
            }
            if o.is_empty() {
                Vec::new()
            } else {
                vec![v]
            }
        }
        _ => Vec::new(),
    }
}

/// The elements of the list at the first of `keys` that is present.
pub fn items_any<'a>(v: &'a Value, keys: &[&str]) -> Vec<&'a Value> {
    keys.iter()
        .find_map(|k| v.get(*k).filter(|x| !x.is_null()))
        .map(items)
        .unwrap_or_default()
}

/// Serde adapter: an optional float from a number or a numeric string.
pub fn opt_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(float(&v))
}

/// Serde adapter: a nested struct that falls back to its default when the field has the
/// wrong shape, so one odd sub-object does not make the whole event unreadable.
pub fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// Serde adapter: [`or_default`] for a struct whose every field reads any shape (a [`Text`], a
/// `Value`, another `struct_or_default`, all under `#[serde(default)]`): an object is read in
/// place, anything else is the default. [`or_default`] copies the field into a `Value` first;
/// for `userIdentity` and its nested session that copy was a twentieth of a backtest's time.
/// A struct with a field that can fail must use [`or_default`] (an object would then fail the
/// whole event instead of reading as the default). Meant for a `Value`'s deserializer, whose
/// objects have each key once: read from text, a field of the struct given twice fails the
/// record (serde's "duplicate field"), where [`or_default`] kept the last.
pub fn struct_or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(a))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<T, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(T::default())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<T, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_none<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
            Ok(T::default())
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// Serde adapter: a list of structs; a non-list becomes a one- or zero-element list and
/// elements of the wrong shape are dropped.
pub fn list_of<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(items(&v)
        .into_iter()
        .filter_map(|x| serde_json::from_value(x.clone()).ok())
        .collect())
}

/// Serde adapter: any JSON value, with absent and null both read as null.
pub fn any_value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Value::deserialize(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// JSON of every shape, its objects' keys drawn from `keys`.
    fn json_trees(keys: &'static [&'static str]) -> proptest::strategy::BoxedStrategy<Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z:/]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(prop::sample::select(keys), inner, 0..6).prop_map(
                    |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                ),
            ]
        })
        .boxed()
    }

    /// `struct_or_default` reads what `or_default` (a copy into a `Value`, then the struct or
    /// its default) reads, for every shape of `userIdentity`, its session and its issuer.
    #[test]
    fn struct_or_default_reads_what_or_default_reads() {
        use crate::event::{CloudTrailRecord, UserIdentity};
        use proptest::prelude::*;
        // The identity as it was read before, through `or_default` at every level, except
        // that an array was read by position (serde reads a struct from a sequence): now an
        // array is not an object, so it reads as the default.
        fn or_default_objects<'de, D, T>(d: D) -> Result<T, D::Error>
        where
            D: Deserializer<'de>,
            T: serde::de::DeserializeOwned + Default,
        {
            let v = Value::deserialize(d)?;
            Ok(if v.is_object() {
                serde_json::from_value(v).unwrap_or_default()
            } else {
                T::default()
            })
        }
        #[derive(Serialize, Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct OldIdentity {
            #[serde(rename = "type")]
            identity_type: Text,
            principal_id: Text,
            arn: Text,
            account_id: Text,
            access_key_id: Text,
            user_name: Text,
            invoked_by: Text,
            #[serde(deserialize_with = "or_default_objects")]
            session_context: OldSession,
        }
        #[derive(Serialize, Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct OldSession {
            #[serde(deserialize_with = "or_default_objects")]
            session_issuer: OldIssuer,
        }
        #[derive(Serialize, Deserialize, Default)]
        #[serde(default, rename_all = "camelCase")]
        struct OldIssuer {
            #[serde(rename = "type")]
            issuer_type: Text,
            arn: Text,
            user_name: Text,
        }
        let tree = json_trees(&[
            "type",
            "arn",
            "userName",
            "accountId",
            "accessKeyId",
            "invokedBy",
            "principalId",
            "sessionContext",
            "sessionIssuer",
            "attributes",
            "other",
        ]);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2000));
        runner
            .run(&tree, |identity| {
                let old: OldIdentity = if identity.is_object() {
                    serde_json::from_value(identity.clone()).unwrap_or_default()
                } else {
                    OldIdentity::default()
                };
                let old = serde_json::to_value(old).unwrap();
                let record = serde_json::json!({"eventName": "X", "userIdentity": identity});
                let new = CloudTrailRecord::deserialize(&record)
                    .unwrap()
                    .user_identity;
                prop_assert_eq!(serde_json::to_value(new).unwrap(), old);
                Ok(())
            })
            .unwrap();
        // Not an object: the default; an object: read in place.
        for odd in [json!("x"), json!([{"arn": "a"}]), json!(1), json!(null)] {
            let r = CloudTrailRecord::deserialize(&json!({"userIdentity": odd})).unwrap();
            assert_eq!(r.user_identity, UserIdentity::default());
        }
        let r = CloudTrailRecord::deserialize(&json!({"userIdentity": {"arn": "a",
            "sessionContext": {"sessionIssuer": {"arn": "b", "type": ["x"]}}}}))
        .unwrap();
        assert_eq!(r.user_identity.arn.get(), Some("a"));
        assert_eq!(
            r.user_identity.session_context.session_issuer.arn.get(),
            Some("b")
        );
        assert!(r
            .user_identity
            .session_context
            .session_issuer
            .issuer_type
            .is_absent());
    }

    /// `CloudTrailRecord::read` reads what serde reads: the three documents exactly as the
    /// record has them (any shape), null when absent.
    #[test]
    fn a_record_read_keeps_its_documents() {
        use crate::event::CloudTrailRecord;
        let v = json!({
            "eventName": "PutBucketPolicy",
            "requestParameters": {"bucketName": "b", "policy": "{\"Statement\": []}", "n": [1, {"items": []}]},
            "responseElements": "odd",
            "userIdentity": {"arn": "arn:aws:iam::111122223333:user/a"}
        });
        let r = CloudTrailRecord::read(&v).unwrap();
        assert_eq!(r.request_parameters, v["requestParameters"]);
        assert_eq!(r.response_elements, json!("odd"));
        assert_eq!(r.additional_event_data, Value::Null);
        assert_eq!(r.event_name.get(), Some("PutBucketPolicy"));
        assert_eq!(r, CloudTrailRecord::deserialize(&v).unwrap());
        let with_null = CloudTrailRecord::read(&json!({"requestParameters": null})).unwrap();
        assert_eq!(with_null.request_parameters, Value::Null);
        assert!(CloudTrailRecord::read(&json!("not a record")).is_err());
        // Any record, any shapes: what serde reads.
        use proptest::prelude::*;
        let tree = json_trees(&[
            "eventName",
            "eventSource",
            "requestParameters",
            "responseElements",
            "additionalEventData",
            "userIdentity",
            "sessionContext",
            "arn",
            "readOnly",
            "other",
        ]);
        proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2000))
            .run(&tree, |record| {
                let serde = CloudTrailRecord::deserialize(&record).ok();
                prop_assert_eq!(CloudTrailRecord::read(&record).ok(), serde);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn items_accepts_every_shape() {
        assert_eq!(items(&json!({"items": [1, 2]})).len(), 2);
        assert_eq!(items(&json!([1, 2, 3])).len(), 3);
        assert_eq!(items(&json!({})).len(), 0);
        assert_eq!(items(&json!(null)).len(), 0);
        assert_eq!(items(&json!({"cidrIp": "x"})).len(), 1);
        assert_eq!(items(&json!({"items": {"cidrIp": "x"}})).len(), 1);
    }

    #[test]
    fn text_reads_any_shape() {
        let t: Vec<Text> =
            serde_json::from_value(json!(["a", 12, 1.5, true, null, {"x": 1}, [1]])).unwrap();
        let got: Vec<Option<&str>> = t.iter().map(Text::get).collect();
        assert_eq!(
            got,
            [
                Some("a"),
                Some("12"),
                Some("1.5"),
                Some("true"),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn ints_from_strings_and_numbers() {
        assert_eq!(int(&json!("22")), Some(22));
        assert_eq!(int(&json!(22)), Some(22));
        assert_eq!(int(&json!(22.0)), Some(22));
        assert_eq!(int(&json!("-1")), Some(-1));
        assert_eq!(int(&json!("x")), None);
        assert_eq!(int(&json!(1e300)), None);
    }
}
