//! JSON as the AdminServer writes it: Jackson's `ObjectMapper` with `INDENT_OUTPUT` (`JsonOutputter`), that is
//! `DefaultPrettyPrinter`: two-space indents, `"key" : value`, arrays on one line (`[ 1, 2 ]`, `[ ]`),
//! empty objects as `{ }`, doubles as Java prints them. Objects keep their insertion order, as the
//! `LinkedHashMap`s of `CommandResponse` do, which `serde_json` (sorted maps unless a crate feature changes
//! them for the whole build) would not.

use std::fmt::Write as _;

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// Printed as Java's `Double.toString`.
    Double(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_owned())
    }
}

impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}

impl From<i64> for Json {
    fn from(v: i64) -> Json {
        Json::Int(v)
    }
}

impl From<u64> for Json {
    fn from(v: u64) -> Json {
        Json::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<i32> for Json {
    fn from(v: i32) -> Json {
        Json::Int(i64::from(v))
    }
}

impl From<u32> for Json {
    fn from(v: u32) -> Json {
        Json::Int(i64::from(v))
    }
}

impl From<usize> for Json {
    fn from(v: usize) -> Json {
        Json::from(v as u64)
    }
}

impl From<crate::metrics::MonitorValue> for Json {
    fn from(v: crate::metrics::MonitorValue) -> Json {
        match v {
            crate::metrics::MonitorValue::Int(v) => Json::Int(v),
            crate::metrics::MonitorValue::Double(v) => Json::Double(v),
            crate::metrics::MonitorValue::Text(v) => Json::Str(v),
        }
    }
}

/// An object built key by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object(pub Vec<(String, Json)>);

impl Object {
    pub fn new() -> Object {
        Object::default()
    }

    /// Sets `key`, keeping its first position if it was already set (`LinkedHashMap.put`).
    pub fn put(&mut self, key: &str, value: impl Into<Json>) -> &mut Object {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
        self
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl From<Object> for Json {
    fn from(o: Object) -> Json {
        Json::Object(o.0)
    }
}

impl Json {
    /// The pretty-printed text, without a trailing newline (as Jackson writes it).
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, 0);
        out
    }
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_value(out: &mut String, value: &Json, level: usize) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Json::Double(d) => out.push_str(&crate::net::java::double(*d)),
        Json::Str(s) => write_string(out, s),
        Json::Array(items) if items.is_empty() => out.push_str("[ ]"),
        Json::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, level);
            }
            out.push_str(" ]");
        }
        Json::Object(fields) if fields.is_empty() => out.push_str("{ }"),
        Json::Object(fields) => {
            out.push_str("{\n");
            for (i, (key, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_string(out, key);
                out.push_str(" : ");
                write_value(out, v, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
    }
}

/// A JSON string with Jackson's escapes: `"`, `\`, and control characters (short forms where JSON has them).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of a real 3.8.0 AdminServer's `connections` answer.
    #[test]
    fn prints_like_jacksons_default_pretty_printer() {
        let mut conn = Object::new();
        conn.put("remote_socket_address", "127.0.0.1:38134")
            .put("interest_ops", 1u32)
            .put("avg_latency", Json::Double(0.0));
        let mut response = Object::new();
        response
            .put("connections", Json::Array(vec![conn.clone().into(), conn.into()]))
            .put("secure_connections", Json::Array(vec![]))
            .put("current_config", Object::new())
            .put("ids", Json::Array(vec![Json::Int(1), Json::Int(2)]))
            .put("command", "connections")
            .put("error", Json::Null);
        assert_eq!(
            Json::from(response).pretty(),
            "{\n  \"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:38134\",\n    \
             \"interest_ops\" : 1,\n    \"avg_latency\" : 0.0\n  }, {\n    \"remote_socket_address\" : \
             \"127.0.0.1:38134\",\n    \"interest_ops\" : 1,\n    \"avg_latency\" : 0.0\n  } ],\n  \
             \"secure_connections\" : [ ],\n  \"current_config\" : { },\n  \"ids\" : [ 1, 2 ],\n  \
             \"command\" : \"connections\",\n  \"error\" : null\n}"
        );
    }

    #[test]
    fn strings_are_escaped_and_puts_keep_first_position() {
        let mut o = Object::new();
        o.put("error", "a")
            .put("command", "leader")
            .put("error", "b\n\"c\"\u{1}");
        assert_eq!(
            Json::from(o).pretty(),
            "{\n  \"error\" : \"b\\n\\\"c\\\"\\u0001\",\n  \"command\" : \"leader\"\n}"
        );
    }
}
