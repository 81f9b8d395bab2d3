//! Intrinsic functions (`States.Format(...)`, `States.StringToJson(...)`, ...), parsed when the
//! definition loads and evaluated inside payload templates (Parameters, ResultSelector) and the
//! Fail state's ErrorPath/CausePath.
//!
//! Arguments are string literals in single quotes (with `\'`, `\{`, `\}`, `\\` escapes), numbers,
//! `true`/`false`/`null`, paths (`$...` or `$$...`) and nested intrinsic calls (at most 10 deep).

use base64::Engine as _;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};
use sha2::Digest;

use super::errors::StateError;
use super::path::{type_name, Path};

const MAX_NESTING: usize = 10;
const MAX_ARRAY_RANGE_ITEMS: i64 = 1000;

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    func: Func,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    /// A quoted literal: `raw` keeps the escapes (States.Format needs them to tell `\{` from `{`).
    Str {
        raw: String,
        value: String,
    },
    Number(Number),
    Bool(bool),
    Null,
    Path(Path),
    Call(Box<Call>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "States.Format" => Self::Format,
            "States.StringToJson" => Self::StringToJson,
            "States.JsonToString" => Self::JsonToString,
            "States.Array" => Self::Array,
            "States.ArrayPartition" => Self::ArrayPartition,
            "States.ArrayContains" => Self::ArrayContains,
            "States.ArrayRange" => Self::ArrayRange,
            "States.ArrayGetItem" => Self::ArrayGetItem,
            "States.ArrayLength" => Self::ArrayLength,
            "States.ArrayUnique" => Self::ArrayUnique,
            "States.Base64Encode" => Self::Base64Encode,
            "States.Base64Decode" => Self::Base64Decode,
            "States.Hash" => Self::Hash,
            "States.JsonMerge" => Self::JsonMerge,
            "States.MathRandom" => Self::MathRandom,
            "States.MathAdd" => Self::MathAdd,
            "States.StringSplit" => Self::StringSplit,
            "States.UUID" => Self::Uuid,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Format => "States.Format",
            Self::StringToJson => "States.StringToJson",
            Self::JsonToString => "States.JsonToString",
            Self::Array => "States.Array",
            Self::ArrayPartition => "States.ArrayPartition",
            Self::ArrayContains => "States.ArrayContains",
            Self::ArrayRange => "States.ArrayRange",
            Self::ArrayGetItem => "States.ArrayGetItem",
            Self::ArrayLength => "States.ArrayLength",
            Self::ArrayUnique => "States.ArrayUnique",
            Self::Base64Encode => "States.Base64Encode",
            Self::Base64Decode => "States.Base64Decode",
            Self::Hash => "States.Hash",
            Self::JsonMerge => "States.JsonMerge",
            Self::MathRandom => "States.MathRandom",
            Self::MathAdd => "States.MathAdd",
            Self::StringSplit => "States.StringSplit",
            Self::Uuid => "States.UUID",
        }
    }

    /// Allowed argument counts (inclusive).
    fn arity(self) -> (usize, usize) {
        match self {
            Self::Format => (1, usize::MAX),
            Self::Array => (0, usize::MAX),
            Self::StringToJson
            | Self::JsonToString
            | Self::ArrayLength
            | Self::ArrayUnique
            | Self::Base64Encode
            | Self::Base64Decode => (1, 1),
            Self::ArrayPartition
            | Self::ArrayContains
            | Self::ArrayGetItem
            | Self::Hash
            | Self::MathAdd
            | Self::StringSplit => (2, 2),
            Self::ArrayRange | Self::JsonMerge => (3, 3),
            Self::MathRandom => (2, 3),
            Self::Uuid => (0, 0),
        }
    }
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub(crate) fn looks_like_call(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

/// Parses one intrinsic function call, e.g. `States.Format('{} x', $.a)`.
pub(crate) fn parse(text: &str) -> Result<Call, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    parser.skip_ws();
    let call = parser.call(1)?;
    parser.skip_ws();
    if parser.pos != parser.chars.len() {
        return Err(format!(
            "unexpected text after the closing parenthesis in `{text}`"
        ));
    }
    Ok(call)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn call(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_NESTING {
            return Err(format!(
                "intrinsic functions nest at most {MAX_NESTING} deep"
            ));
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let func = Func::from_name(&name)
            .ok_or_else(|| format!("`{name}` is not an intrinsic function"))?;
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(format!("expected `(` after `{name}`"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg(depth)?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected `,` or `)` in the arguments of `{name}`")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(format!(
                "`{name}` takes {} argument(s), got {}",
                if min == max {
                    min.to_string()
                } else if max == usize::MAX {
                    format!("at least {min}")
                } else {
                    format!("{min} to {max}")
                },
                args.len()
            ));
        }
        Ok(Call { func, args })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some('S') => Ok(Arg::Call(Box::new(self.call(depth + 1)?))),
            Some(_) => self.keyword(),
            None => Err("missing argument".to_string()),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1; // opening quote
        let mut raw = String::new();
        let mut value = String::new();
        loop {
            let c = self
                .peek()
                .ok_or_else(|| "unterminated string literal".to_string())?;
            self.pos += 1;
            match c {
                '\\' => {
                    let escaped = self
                        .peek()
                        .ok_or_else(|| "open escape `\\` at the end of a string".to_string())?;
                    if !matches!(escaped, '\'' | '{' | '}' | '\\') {
                        return Err(format!(
                            "`\\{escaped}` is not an escape; only `\\'`, `\\{{`, `\\}}` and `\\\\` are"
                        ));
                    }
                    self.pos += 1;
                    raw.push('\\');
                    raw.push(escaped);
                    value.push(escaped);
                }
                '\'' => return Ok(Arg::Str { raw, value }),
                other => {
                    raw.push(other);
                    value.push(other);
                }
            }
        }
    }

    fn path(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        let mut brackets = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '(') => brackets += 1,
                (None, ']') => brackets = brackets.saturating_sub(1),
                (None, ')') if brackets > 0 => brackets -= 1,
                (None, ',' | ')') => break,
                _ => {}
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Ok(Arg::Path(Path::parse(text.trim_end())?))
    }

    fn number(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str::<Number>(&text)
            .map(Arg::Number)
            .map_err(|_| format!("`{text}` is not a number"))
    }

    fn keyword(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "true" => Ok(Arg::Bool(true)),
            "false" => Ok(Arg::Bool(false)),
            "null" => Ok(Arg::Null),
            _ => Err(format!(
                "unexpected `{}` in intrinsic arguments",
                if word.is_empty() {
                    self.peek().map(String::from).unwrap_or_default()
                } else {
                    word
                }
            )),
        }
    }
}

impl Call {
    /// Evaluates the call against the state's data and the Context object.
    pub(crate) fn eval(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        let name = self.func.name();
        let fail = |why: String| StateError::intrinsic(format!("{name}: {why}"));
        let values = self
            .args
            .iter()
            .map(|arg| arg.eval(input, context))
            .collect::<Result<Vec<_>, _>>()?;
        match self.func {
            Func::Format => {
                let template = match (&self.args[0], &values[0]) {
                    (Arg::Str { raw, .. }, _) => raw.clone(),
                    (_, Value::String(s)) => s.clone(),
                    (_, other) => {
                        return Err(fail(format!(
                            "the template must be a string, not {}",
                            type_name(other)
                        )))
                    }
                };
                format(&template, &values[1..])
                    .map(Value::String)
                    .map_err(fail)
            }
            Func::StringToJson => {
                let text = string_arg(&values[0]).map_err(fail)?;
                serde_json::from_str(text).map_err(|e| fail(format!("not valid JSON: {e}")))
            }
            Func::JsonToString => serde_json::to_string(&values[0])
                .map(Value::String)
                .map_err(|e| fail(e.to_string())),
            Func::Array => Ok(Value::Array(values)),
            Func::ArrayPartition => {
                let items = array_arg(&values[0]).map_err(fail)?;
                let size = int_arg(&values[1]).map_err(fail)?;
                if size <= 0 {
                    return Err(fail("the chunk size must be a positive integer".into()));
                }
                let size = usize::try_from(size).map_err(|e| fail(e.to_string()))?;
                Ok(Value::Array(
                    items
                        .chunks(size)
                        .map(|chunk| Value::Array(chunk.to_vec()))
                        .collect(),
                ))
            }
            Func::ArrayContains => {
                let items = array_arg(&values[0]).map_err(fail)?;
                Ok(Value::Bool(items.contains(&values[1])))
            }
            Func::ArrayRange => {
                let start = int_arg(&values[0]).map_err(fail)?;
                let end = int_arg(&values[1]).map_err(fail)?;
                let step = int_arg(&values[2]).map_err(fail)?;
                if step == 0 {
                    return Err(fail("the step must not be 0".into()));
                }
                let mut out = Vec::new();
                let mut n = start;
                while (step > 0 && n <= end) || (step < 0 && n >= end) {
                    if out.len() as i64 >= MAX_ARRAY_RANGE_ITEMS {
                        return Err(fail(format!(
                            "the range has more than {MAX_ARRAY_RANGE_ITEMS} items"
                        )));
                    }
                    out.push(Value::from(n));
                    n = match n.checked_add(step) {
                        Some(next) => next,
                        None => break,
                    };
                }
                Ok(Value::Array(out))
            }
            Func::ArrayGetItem => {
                let items = array_arg(&values[0]).map_err(fail)?;
                let index = int_arg(&values[1]).map_err(fail)?;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        fail(format!(
                            "index {index} is out of bounds (length {})",
                            items.len()
                        ))
                    })
            }
            Func::ArrayLength => Ok(Value::from(array_arg(&values[0]).map_err(fail)?.len())),
            Func::ArrayUnique => {
                let items = array_arg(&values[0]).map_err(fail)?;
                let mut out: Vec<Value> = Vec::new();
                for item in items {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            Func::Base64Encode => {
                let text = string_arg(&values[0]).map_err(fail)?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
                ))
            }
            Func::Base64Decode => {
                let text = string_arg(&values[0]).map_err(fail)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| fail(format!("not valid base64: {e}")))?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| fail("the decoded data is not UTF-8 text".into()))
            }
            Func::Hash => {
                let data = match &values[0] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let algorithm = string_arg(&values[1]).map_err(fail)?;
                let digest = match algorithm {
                    "SHA-256" => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                    "SHA-384" => hex::encode(sha2::Sha384::digest(data.as_bytes())),
                    "SHA-512" => hex::encode(sha2::Sha512::digest(data.as_bytes())),
                    "MD5" | "SHA-1" => {
                        return Err(fail(format!(
                            "the local interpreter does not implement {algorithm}; use SHA-256, SHA-384 or SHA-512"
                        )))
                    }
                    other => return Err(fail(format!("unknown hash algorithm `{other}`"))),
                };
                Ok(Value::String(digest))
            }
            Func::JsonMerge => {
                let (Value::Object(left), Value::Object(right)) = (&values[0], &values[1]) else {
                    return Err(fail("both arguments to merge must be objects".into()));
                };
                if values[2] != Value::Bool(false) {
                    // AWS supports only the shallow mode.
                    return Err(fail(
                        "the third argument must be false (deep merge is not supported)".into(),
                    ));
                }
                let mut merged: Map<String, Value> = left.clone();
                for (k, v) in right {
                    merged.insert(k.clone(), v.clone());
                }
                Ok(Value::Object(merged))
            }
            Func::MathRandom => {
                let start = int_arg(&values[0]).map_err(fail)?;
                let end = int_arg(&values[1]).map_err(fail)?;
                if start >= end {
                    return Err(fail("the start must be less than the end".into()));
                }
                let n = match values.get(2) {
                    Some(seed) => {
                        let seed = int_arg(seed).map_err(fail)?;
                        rand::rngs::StdRng::seed_from_u64(seed as u64).gen_range(start..end)
                    }
                    None => rand::thread_rng().gen_range(start..end),
                };
                Ok(Value::from(n))
            }
            Func::MathAdd => {
                let (Value::Number(a), Value::Number(b)) = (&values[0], &values[1]) else {
                    return Err(fail("both arguments must be numbers".into()));
                };
                if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
                    return x
                        .checked_add(y)
                        .map(Value::from)
                        .ok_or_else(|| fail("the sum overflows".into()));
                }
                let sum = a.as_f64().unwrap_or(f64::NAN) + b.as_f64().unwrap_or(f64::NAN);
                Number::from_f64(sum)
                    .map(Value::Number)
                    .ok_or_else(|| fail("the sum is not a finite number".into()))
            }
            Func::StringSplit => {
                let text = string_arg(&values[0]).map_err(fail)?;
                let delimiters: Vec<char> = string_arg(&values[1]).map_err(fail)?.chars().collect();
                Ok(Value::Array(
                    text.split(|c| delimiters.contains(&c))
                        .filter(|part| !part.is_empty())
                        .map(|part| Value::String(part.to_string()))
                        .collect(),
                ))
            }
            Func::Uuid => Ok(Value::String(uuid_v4())),
        }
    }
}

impl Arg {
    fn eval(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        match self {
            Arg::Str { value, .. } => Ok(Value::String(value.clone())),
            Arg::Number(n) => Ok(Value::Number(n.clone())),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Null => Ok(Value::Null),
            Arg::Path(path) => path.read(input, context).ok_or_else(|| {
                StateError::runtime(format!(
                    "The JSONPath '{}' used as an intrinsic function argument could not be found in the input",
                    path.text()
                ))
            }),
            Arg::Call(call) => call.eval(input, context),
        }
    }
}

/// Fills `{}` placeholders of a States.Format template; `\{`, `\}`, `\'` and `\\` are literals.
fn format(template: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => out.push(escaped),
                None => return Err("open escape `\\` at the end of the template".into()),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let arg = args
                    .get(next)
                    .ok_or_else(|| "more `{}` placeholders than arguments".to_string())?;
                next += 1;
                match arg {
                    Value::String(s) => out.push_str(s),
                    Value::Number(_) | Value::Bool(_) | Value::Null => out.push_str(&arg.to_string()),
                    other => {
                        return Err(format!(
                            "argument {next} is {}; only strings, numbers, booleans and null can be formatted",
                            type_name(other)
                        ))
                    }
                }
            }
            other => out.push(other),
        }
    }
    if next != args.len() {
        return Err(format!(
            "{} argument(s) for {next} `{{}}` placeholder(s)",
            args.len()
        ));
    }
    Ok(out)
}

fn string_arg(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, got {}", type_name(value)))
}

fn array_arg(value: &Value) -> Result<&Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("expected an array, got {}", type_name(value)))
}

fn int_arg(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| format!("expected an integer, got {n}")),
        other => Err(format!("expected an integer, got {}", type_name(other))),
    }
}

/// A random (version 4) UUID. Sixteen random bytes with the version and variant bits set is the
/// whole algorithm (RFC 9562 §5.4), so it is written here rather than pulling in a crate.
fn uuid_v4() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, input: Value) -> Result<Value, StateError> {
        parse(text)
            .unwrap()
            .eval(&input, &json!({"Execution": {"Name": "e1"}}))
    }

    #[test]
    fn format_fills_placeholders_and_honours_escapes() {
        let got = eval(
            r"States.Format('Hello, {} \{x\} it\'s {} {}', $.name, 3, $$.Execution.Name)",
            json!({"name": "Arnav"}),
        );
        assert_eq!(got.unwrap(), json!("Hello, Arnav {x} it's 3 e1"));
        let from_path = eval(
            "States.Format($.template, $.name)",
            json!({"template": "Hello, my name is {}.", "name": "Arnav"}),
        );
        assert_eq!(from_path.unwrap(), json!("Hello, my name is Arnav."));
        let too_few = eval("States.Format('{} {}', 1)", json!({})).unwrap_err();
        assert_eq!(too_few.error, "States.IntrinsicFailure");
    }

    #[test]
    fn json_functions_round_trip() {
        let parsed = eval(
            "States.StringToJson($.s)",
            json!({"s": "{\"foo\": \"bar\"}"}),
        );
        assert_eq!(parsed.unwrap(), json!({"foo": "bar"}));
        let text = eval("States.JsonToString($.o)", json!({"o": {"foo": "bar"}}));
        assert_eq!(text.unwrap(), json!("{\"foo\":\"bar\"}"));
        let merged = eval(
            "States.JsonMerge($.a, $.b, false)",
            json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}}),
        );
        assert_eq!(merged.unwrap(), json!({"x": 1, "y": 2}));
    }

    #[test]
    fn array_and_math_functions_follow_the_documented_examples() {
        assert_eq!(
            eval("States.Array($.Id)", json!({"Id": 123456})).unwrap(),
            json!([123456])
        );
        assert_eq!(eval("States.Array()", json!({})).unwrap(), json!([]));
        assert_eq!(
            eval(
                "States.ArrayPartition(States.Array(1,2,3,4,5,6,7), 4)",
                json!({})
            )
            .unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7]])
        );
        assert_eq!(
            eval("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            eval("States.ArrayGetItem(States.Array(1,2,3), 1)", json!({})).unwrap(),
            json!(2)
        );
        assert_eq!(
            eval("States.ArrayLength($.a)", json!({"a": [1, 2]})).unwrap(),
            json!(2)
        );
        assert_eq!(
            eval("States.ArrayUnique($.a)", json!({"a": [1, 2, 1, "x", "x"]})).unwrap(),
            json!([1, 2, "x"])
        );
        assert_eq!(
            eval("States.ArrayContains($.a, 2)", json!({"a": [1, 2]})).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            )
            .unwrap(),
            json!(110)
        );
        let n = eval("States.MathRandom(1, 10)", json!({})).unwrap();
        assert!((1..10).contains(&n.as_i64().unwrap()));
    }

    #[test]
    fn string_encoding_and_uuid_functions_work() {
        assert_eq!(
            eval(
                "States.StringSplit($.s, '.+,=')",
                json!({"s": "This.is+a,test=string"})
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        let encoded = eval("States.Base64Encode('Data to encode')", json!({})).unwrap();
        assert_eq!(encoded, json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(
            eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})).unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            eval("States.Hash('input data', 'SHA-256')", json!({})).unwrap(),
            json!(hex::encode(sha2::Sha256::digest(b"input data")))
        );
        let uuid = eval("States.UUID()", json!({})).unwrap();
        let uuid = uuid.as_str().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }

    #[test]
    fn bad_calls_are_refused_when_parsed() {
        assert!(parse("States.Nope(1)").is_err());
        assert!(parse("States.UUID(1)").is_err());
        assert!(parse("States.Format('x'").is_err());
        assert!(parse(r"States.Format('\n')").is_err());
        assert!(parse("States.Array(1) trailing").is_err());
    }

    #[test]
    fn missing_path_arguments_are_runtime_errors() {
        let err = eval("States.Array($.missing)", json!({})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }
}
