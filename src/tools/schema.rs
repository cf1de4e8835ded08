//! JSON Schemas for tool arguments, generated from their Rust types.
//!
//! Draft 2020-12 (what OpenCode sends to models), every subschema inlined, and optional fields
//! written as plain optional properties rather than `["T", "null"]`: clients turn these schemas
//! into their own validators, and `null` is never a meaningful argument.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

pub fn for_args<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut value = generator.into_root_schema_for::<T>().to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("title");
    }
    strip_null(&mut value);
    value
}

fn strip_null(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".into(), only);
                }
            }
            // `Option<Enum>` comes out as anyOf [enum, {const: null}] or with null in `enum`.
            if let Some(Value::Array(values)) = obj.get_mut("enum") {
                values.retain(|x| !x.is_null());
            }
            if let Some(Value::Array(any)) = obj.get_mut("anyOf") {
                any.retain(|s| {
                    s.get("type") != Some(&Value::from("null"))
                        && s.get("const") != Some(&Value::Null)
                });
                if any.len() == 1 {
                    let only = any.remove(0);
                    obj.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, val) in inner {
                            obj.entry(k).or_insert(val);
                        }
                    }
                }
            }
            // An enum whose variants carry docs comes out as `oneOf` of `const`s: clients
            // (and models) read a plain string `enum` more reliably.
            if let Some(Value::Array(variants)) = obj.get("oneOf")
                && !variants.is_empty()
                && variants
                    .iter()
                    .all(|v| v.get("const").is_some_and(Value::is_string))
            {
                let values: Vec<Value> = variants
                    .iter()
                    .filter_map(|v| v.get("const").cloned())
                    .collect();
                obj.remove("oneOf");
                obj.insert("type".into(), Value::from("string"));
                obj.insert("enum".into(), Value::Array(values));
            }
            if obj.get("default") == Some(&Value::Null) {
                obj.remove("default");
            }
            for child in obj.values_mut() {
                strip_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}
