//! Paths of the States language: `$`-rooted JSONPath into the state's data, or `$$`-rooted into
//! the Context object.
//!
//! A *reference path* (`$`, `$.a.b`, `$.a[0]`, `$['x y']`) selects at most one node; it is parsed and
//! evaluated here, because ResultPath must also *write* through it and because AWS accepts names
//! (like `$.error-info`) that RFC 9535 shorthand does not. Any other path (wildcards, filters,
//! slices, recursive descent) is a query, evaluated with `serde_json_path`, and yields an array of
//! every node it selects, as Step Functions (Jayway JsonPath) does for indefinite paths.

use serde_json::{Map, Value};

/// Which document a path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the state's data.
    Input,
    /// `$$`: the Context object.
    Context,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
}

#[derive(Debug, Clone)]
enum Kind {
    Reference(Vec<Segment>),
    Query(serde_json_path::JsonPath),
}

/// A parsed path.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    text: String,
    root: Root,
    kind: Kind,
}

impl Path {
    /// Parses any path (reference or query), `$`- or `$$`-rooted.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (root, rest) = split_root(text)?;
        if let Some(segments) = parse_reference(rest) {
            return Ok(Self {
                text: text.to_string(),
                root,
                kind: Kind::Reference(segments),
            });
        }
        // serde_json_path wants a `$`-rooted query; a `$$` path queries the Context object.
        let query = format!("${rest}");
        let parsed = serde_json_path::JsonPath::parse(&query)
            .map_err(|e| format!("`{text}` is not a valid JSONPath: {e}"))?;
        Ok(Self {
            text: text.to_string(),
            root,
            kind: Kind::Query(parsed),
        })
    }

    /// Parses a reference path (one node, `$`-rooted), as ResultPath requires.
    pub(crate) fn parse_reference(text: &str) -> Result<Self, String> {
        let path = Self::parse(text)?;
        match (&path.kind, path.root) {
            (Kind::Reference(_), Root::Input) => Ok(path),
            (_, Root::Context) => Err(format!(
                "`{text}` must be a reference path into the state's data, not the Context object"
            )),
            (Kind::Query(_), _) => Err(format!(
                "`{text}` must be a reference path (only `.name`, `['name']` and `[index]`; no `*`, `..`, `?`, `,` or `:`)"
            )),
        }
    }

    /// The path as written in the definition.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Whether it reads the Context object (`$$`).
    #[cfg(test)]
    pub(crate) fn root(&self) -> Root {
        self.root
    }

    /// Reads the path. `None` when a reference path selects nothing (a query that selects nothing
    /// yields an empty array instead, like Jayway JsonPath does for indefinite paths).
    pub(crate) fn read(&self, input: &Value, context: &Value) -> Option<Value> {
        let doc = match self.root {
            Root::Input => input,
            Root::Context => context,
        };
        match &self.kind {
            Kind::Reference(segments) => read_reference(doc, segments).cloned(),
            Kind::Query(query) => Some(Value::Array(
                query.query(doc).all().into_iter().cloned().collect(),
            )),
        }
    }

    /// Writes `value` at this reference path inside `target`, creating intermediate objects, the
    /// way ResultPath does. Fails (ResultPathMatchFailure) when an intermediate node exists but is
    /// not an object/array, or an index is out of bounds.
    pub(crate) fn write(&self, target: Value, value: Value) -> Result<Value, String> {
        let Kind::Reference(segments) = &self.kind else {
            return Err(format!("`{}` is not a reference path", self.text));
        };
        if segments.is_empty() {
            return Ok(value);
        }
        let mut target = target;
        write_into(&mut target, segments, value)
            .map_err(|why| format!("Unable to apply ResultPath `{}`: {why}", self.text))?;
        Ok(target)
    }
}

fn split_root(text: &str) -> Result<(Root, &str), String> {
    if let Some(rest) = text.strip_prefix("$$") {
        Ok((Root::Context, rest))
    } else if let Some(rest) = text.strip_prefix('$') {
        Ok((Root::Input, rest))
    } else {
        Err(format!("`{text}` is not a path: paths start with `$`"))
    }
}

/// Characters that make a path a query rather than a reference path, or are not part of a name.
const NOT_IN_NAME: &[char] = &[
    '.', '[', ']', '@', ',', ':', '?', '*', '(', ')', '\'', '"', ' ', '\t', '\n', '\r',
];

/// Parses the part after the root as a reference path; `None` if it is anything else.
fn parse_reference(rest: &str) -> Option<Vec<Segment>> {
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut segments = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len() && !NOT_IN_NAME.contains(&chars[i]) {
                    i += 1;
                }
                if i == start {
                    return None;
                }
                segments.push(Segment::Field(chars[start..i].iter().collect()));
            }
            '[' => {
                i += 1;
                match chars.get(i)? {
                    '\'' | '"' => {
                        let quote = chars[i];
                        i += 1;
                        let mut name = String::new();
                        loop {
                            let c = *chars.get(i)?;
                            i += 1;
                            if c == '\\' {
                                name.push(*chars.get(i)?);
                                i += 1;
                            } else if c == quote {
                                break;
                            } else {
                                name.push(c);
                            }
                        }
                        if chars.get(i) != Some(&']') {
                            return None;
                        }
                        i += 1;
                        segments.push(Segment::Field(name));
                    }
                    c if c.is_ascii_digit() => {
                        let start = i;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                        if chars.get(i) != Some(&']') {
                            return None;
                        }
                        let digits: String = chars[start..i].iter().collect();
                        i += 1;
                        segments.push(Segment::Index(digits.parse().ok()?));
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    Some(segments)
}

fn read_reference<'a>(doc: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    let mut node = doc;
    for segment in segments {
        node = match (segment, node) {
            (Segment::Field(name), Value::Object(map)) => map.get(name)?,
            (Segment::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(node)
}

fn write_into(node: &mut Value, segments: &[Segment], value: Value) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        *node = value;
        return Ok(());
    };
    match (first, node) {
        (Segment::Field(name), Value::Object(map)) => {
            if rest.is_empty() {
                map.insert(name.clone(), value);
                return Ok(());
            }
            let child = map
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            write_into(child, rest, value)
        }
        (Segment::Index(index), Value::Array(items)) => {
            let len = items.len();
            let child = items
                .get_mut(*index)
                .ok_or_else(|| format!("index {index} is out of bounds (length {len})"))?;
            write_into(child, rest, value)
        }
        (Segment::Field(name), other) => Err(format!(
            "cannot set field `{name}` on {} value",
            type_name(other)
        )),
        (Segment::Index(index), other) => Err(format!(
            "cannot set index {index} on {} value",
            type_name(other)
        )),
    }
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "a null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_paths_read_fields_indices_and_bracketed_names() {
        let doc = json!({"a": {"b": [10, {"c d": true}]}, "error-info": 1});
        let ctx = json!({});
        let read = |p: &str| Path::parse(p).unwrap().read(&doc, &ctx);
        assert_eq!(read("$"), Some(doc.clone()));
        assert_eq!(read("$.a.b[0]"), Some(json!(10)));
        assert_eq!(read("$.a.b[1]['c d']"), Some(json!(true)));
        assert_eq!(read("$['a'][\"b\"][0]"), Some(json!(10)));
        assert_eq!(read("$.error-info"), Some(json!(1)));
        assert_eq!(read("$.a.missing"), None);
        assert_eq!(read("$.a.b[5]"), None);
    }

    #[test]
    fn context_paths_read_the_context_object() {
        let path = Path::parse("$$.Execution.Name").unwrap();
        assert_eq!(path.root(), Root::Context);
        let got = path.read(&json!({}), &json!({"Execution": {"Name": "n"}}));
        assert_eq!(got, Some(json!("n")));
    }

    #[test]
    fn query_paths_return_every_match_as_an_array() {
        let doc = json!({"items": [{"id": 1}, {"id": 2}]});
        let got = Path::parse("$.items[*].id").unwrap().read(&doc, &json!({}));
        assert_eq!(got, Some(json!([1, 2])));
        assert!(Path::parse_reference("$.items[*].id").is_err());
        assert!(Path::parse("nope").is_err());
    }

    #[test]
    fn writing_creates_objects_and_refuses_scalars() {
        let p = Path::parse_reference("$.a.b.c").unwrap();
        assert_eq!(
            p.write(json!({"x": 1}), json!(2)).unwrap(),
            json!({"x": 1, "a": {"b": {"c": 2}}})
        );
        assert!(p.write(json!({"a": "s"}), json!(2)).is_err());
        assert!(p.write(json!("s"), json!(2)).is_err());
        let root = Path::parse_reference("$").unwrap();
        assert_eq!(root.write(json!({"x": 1}), json!(3)).unwrap(), json!(3));
        let idx = Path::parse_reference("$.l[1]").unwrap();
        assert_eq!(
            idx.write(json!({"l": [0, 0]}), json!(9)).unwrap(),
            json!({"l": [0, 9]})
        );
        assert!(idx.write(json!({"l": []}), json!(9)).is_err());
    }
}
