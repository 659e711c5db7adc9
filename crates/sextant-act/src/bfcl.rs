//! The Berkeley Function Calling Leaderboard (BFCL v4), its single-turn Python categories: the
//! questions as tool prompts, and BFCL's AST checker reproduced rule by rule, so that a score
//! here reads as the leaderboard's.
//!
//! `scripts/fetch-data.sh bfcl` puts the files of PyPI `bfcl-eval==2026.3.23` under
//! `$SEXTANT_CACHE/data/bfcl/`, all JSON lines:
//! * `BFCL_v4_<category>.json`, a question a line: `{"id", "question": [[{"role", "content"},
//!   …]], "function": [{"name", "description", "parameters": {"type": "dict", "properties",
//!   "required"}}]}`. One turn (the outer list) in these categories; the functions in BFCL's
//!   own dialect of JSON Schema (see [`json_schema`]).
//! * `possible_answer/BFCL_v4_<category>.json`, an answer a line: `{"id", "ground_truth":
//!   [{"<function>": {"<param>": [allowed values…]}}]}`, one entry per expected call. `""`
//!   among the allowed values means the parameter may be left out. None for the irrelevance
//!   and relevance categories.
//!
//! [`score`] follows `bfcl_eval/eval_checker/ast_eval/ast_checker.py` (Python branch) and the
//! relevance rules of `eval_runner.py`, quirks included: a value of a type other than the
//! declared one passes the type check when it has the type of the allowed values (BFCL takes
//! it for a variable name); an integer is taken for a float parameter, but not inside a list;
//! strings compare after [`standardize`]; values compare as Python's `==` does (`1 == 1.0 ==
//! True`); parallel calls match the answers greedily, in answer order.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tools::{Call, Tool};

/// A BFCL test category: the part of a file name after `BFCL_v4_` (also its serialized form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    #[serde(rename = "simple_python")]
    Simple,
    Multiple,
    Parallel,
    ParallelMultiple,
    Irrelevance,
    LiveSimple,
    LiveMultiple,
    LiveParallel,
    LiveParallelMultiple,
    LiveIrrelevance,
    LiveRelevance,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::Simple,
        Category::Multiple,
        Category::Parallel,
        Category::ParallelMultiple,
        Category::Irrelevance,
        Category::LiveSimple,
        Category::LiveMultiple,
        Category::LiveParallel,
        Category::LiveParallelMultiple,
        Category::LiveIrrelevance,
        Category::LiveRelevance,
    ];

    /// The name in BFCL's file names (`simple_python` for [`Category::Simple`]).
    pub fn name(self) -> &'static str {
        match self {
            Category::Simple => "simple_python",
            Category::Multiple => "multiple",
            Category::Parallel => "parallel",
            Category::ParallelMultiple => "parallel_multiple",
            Category::Irrelevance => "irrelevance",
            Category::LiveSimple => "live_simple",
            Category::LiveMultiple => "live_multiple",
            Category::LiveParallel => "live_parallel",
            Category::LiveParallelMultiple => "live_parallel_multiple",
            Category::LiveIrrelevance => "live_irrelevance",
            Category::LiveRelevance => "live_relevance",
        }
    }

    /// The category of a question or answer file, by its name `BFCL_v<version>_<name>.json`;
    /// `None` for other files and for the categories not supported here (Java, JavaScript,
    /// multi-turn, agentic).
    pub fn from_file_name(path: impl AsRef<Path>) -> Option<Category> {
        let file = path.as_ref().file_name()?.to_str()?;
        let (_version, name) = file
            .strip_prefix("BFCL_v")?
            .strip_suffix(".json")?
            .split_once('_')?;
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether its questions have answers in `possible_answer/` (all but the irrelevance and
    /// relevance categories, which are scored on whether a call is made at all).
    pub fn has_answers(self) -> bool {
        !matches!(
            self,
            Category::Irrelevance | Category::LiveIrrelevance | Category::LiveRelevance
        )
    }
}

/// A function as BFCL documents it; the checker reads its parameter types and required list.
#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// BFCL's schema of the arguments (`"type": "dict"`, `"float"`, `"tuple"`, `"any"`, …).
    pub parameters: Value,
}

impl Function {
    /// The function as a tool for the model: the same name (dots included) and description,
    /// the parameters in JSON Schema.
    pub fn tool(&self) -> Tool {
        Tool {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: json_schema(&self.parameters),
        }
    }
}

/// One question of a category file.
#[derive(Debug, Clone)]
pub struct Question {
    pub id: String,
    /// The system message of the first turn, if any (several are joined by a blank line).
    pub system: Option<String>,
    /// The user messages of the first turn, in order. Assistant messages (in 8 questions of
    /// `live_irrelevance`) are left out, as the tool prompt holds only the user's words.
    pub turns: Vec<String>,
    /// [`Self::functions`] as tools for the model.
    pub tools: Vec<Tool>,
    /// The functions as BFCL documents them, for [`score`].
    pub functions: Vec<Function>,
}

/// The expected calls of a question: per call, `{function: {param: [allowed values]}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    pub id: String,
    pub ground_truth: Vec<Map<String, Value>>,
}

/// The verdict on one question's calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub correct: bool,
    /// Why not, as a short category: `wrong_count` (not as many calls as expected),
    /// `wrong_function`, `missing_required` (a parameter the function requires),
    /// `unexpected_param` (not in the function or not in the answer), `type_error`,
    /// `value_error` (not among the allowed values), `missing_optional` (a parameter the
    /// answer expects, with no `""` among its values, left out; BFCL's name), `no_match`
    /// (parallel: an expected call that none of the calls left satisfies), `wrong_format` (a
    /// call whose arguments are not an object), `irrelevance_called`, `no_call` (relevance),
    /// `no_answer` (a category with answers, but none given) or `bad_answer` (an answer that
    /// names no function of the question, or is empty).
    pub error: Option<String>,
}

/// Reads a question file (JSON lines); the first turn of each question.
pub fn read_questions(path: impl AsRef<Path>) -> Result<Vec<Question>, String> {
    let path = path.as_ref();
    questions(&read(path)?, &path.display().to_string())
}

/// Reads an answer file (JSON lines).
pub fn read_answers(path: impl AsRef<Path>) -> Result<Vec<Expected>, String> {
    let path = path.as_ref();
    json_lines(&read(path)?, &path.display().to_string())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The questions of the JSON lines `text` (from `origin`, for messages).
fn questions(text: &str, origin: &str) -> Result<Vec<Question>, String> {
    #[derive(Deserialize)]
    struct Line {
        id: String,
        question: Vec<Vec<Message>>,
        function: Vec<Function>,
    }
    #[derive(Deserialize)]
    struct Message {
        role: String,
        content: String,
    }
    json_lines::<Line>(text, origin)?
        .into_iter()
        .map(|line| {
            let turn = line
                .question
                .into_iter()
                .next()
                .ok_or_else(|| format!("{origin}: question {} has no turn", line.id))?;
            let of_role = |role: &str| -> Vec<String> {
                turn.iter()
                    .filter(|m| m.role == role)
                    .map(|m| m.content.clone())
                    .collect()
            };
            let system = of_role("system");
            Ok(Question {
                id: line.id,
                system: (!system.is_empty()).then(|| system.join("\n\n")),
                turns: of_role("user"),
                tools: line.function.iter().map(Function::tool).collect(),
                functions: line.function,
            })
        })
        .collect()
}

fn json_lines<T: DeserializeOwned>(text: &str, origin: &str) -> Result<Vec<T>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|e| format!("{origin}:{}: {e}", n + 1)))
        .collect()
}

/// JSON Schema of a BFCL parameter schema, recursively (`properties`, `items`,
/// `additionalProperties`): type `dict` becomes `object`, `float` `number`, `tuple` `array`,
/// `any` no type at all; `optional` (not JSON Schema) is dropped; everything else is kept
/// (`description`, `enum`, `required`, `default`, …). An `enum` whose values do not have the
/// declared type is taken at its word: on an array (BFCL lists the item values there) it moves
/// to the items, elsewhere (`["True", "False", "dontcare"]` on a boolean) the type gives way.
pub fn json_schema(bfcl: &Value) -> Value {
    let Some(node) = bfcl.as_object() else {
        return bfcl.clone();
    };
    let bfcl_type = node.get("type").and_then(Value::as_str).unwrap_or("any");
    let stray_enum = node
        .get("enum")
        .and_then(Value::as_array)
        .filter(|values| !values.iter().all(|v| has_type(v, bfcl_type)));
    // On an array, BFCL lists the items' values.
    let items_enum = stray_enum.filter(|_| {
        matches!(bfcl_type, "array" | "tuple") && node.get("items").is_some_and(Value::is_object)
    });
    let mut out = Map::new();
    for (key, value) in node {
        let converted = match key.as_str() {
            "type" if stray_enum.is_some() && items_enum.is_none() => continue,
            "type" => match bfcl_type {
                "dict" => "object".into(),
                "float" => "number".into(),
                "tuple" => "array".into(),
                "any" => continue,
                _ => value.clone(),
            },
            "enum" if items_enum.is_some() => continue,
            "items" => {
                let mut items = json_schema(value);
                if let (Some(values), Some(items)) = (items_enum, items.as_object_mut()) {
                    items.insert("enum".into(), Value::Array(values.clone()));
                }
                items
            }
            "properties" => match value.as_object() {
                Some(props) => Value::Object(
                    props
                        .iter()
                        .map(|(name, schema)| (name.clone(), json_schema(schema)))
                        .collect(),
                ),
                None => value.clone(),
            },
            "additionalProperties" => json_schema(value),
            "optional" => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

/// Whether `v` is a value of the BFCL type `ty` (unknown types and `any` hold anything).
fn has_type(v: &Value, ty: &str) -> bool {
    match ty {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" | "tuple" => v.is_array(),
        "dict" => v.is_object(),
        _ => true,
    }
}

/// BFCL's string normalisation before comparing: spaces and `,./-_*^` removed, lowercase,
/// single quotes made double (`"April 1, 2024"` and `"april 1 2024"` compare equal).
pub fn standardize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

/// Scores the calls made for `question` of `category` against its answer (`expected`: none
/// for the irrelevance and relevance categories, which are scored on whether a call was
/// made). Irrelevance: correct iff no call; relevance: correct iff at least one; the other
/// categories by BFCL's AST checker.
pub fn score(
    category: Category,
    question: &Question,
    calls: &[Call],
    expected: Option<&Expected>,
) -> Score {
    // Output that is not `[{name: {args}}, …]` is no call at all to BFCL's relevance rules,
    // and wrong to its AST checker.
    let well_formed = calls.iter().all(|c| c.arguments.is_object());
    let called = !calls.is_empty() && well_formed;
    let verdict = match category {
        Category::Irrelevance | Category::LiveIrrelevance if called => Err("irrelevance_called"),
        Category::LiveRelevance if !called => Err("no_call"),
        Category::Irrelevance | Category::LiveIrrelevance | Category::LiveRelevance => Ok(()),
        _ => match expected {
            None => Err("no_answer"),
            Some(_) if !well_formed => Err("wrong_format"),
            Some(e) => check(category, &question.functions, calls, &e.ground_truth),
        },
    };
    Score {
        correct: verdict.is_ok(),
        error: verdict.err().map(String::from),
    }
}

/// An error category of [`Score::error`].
type Verdict = Result<(), &'static str>;

/// `ast_checker`: the calls of an AST category against the expected ones.
fn check(
    category: Category,
    functions: &[Function],
    calls: &[Call],
    answers: &[Map<String, Value>],
) -> Verdict {
    match category {
        Category::Parallel
        | Category::ParallelMultiple
        | Category::LiveParallel
        | Category::LiveParallelMultiple => check_parallel(functions, calls, answers),
        Category::Multiple | Category::LiveMultiple => {
            if calls.len() != answers.len() {
                return Err("wrong_count");
            }
            let answer = answers.first().ok_or("bad_answer")?;
            check_call(function_for(functions, answer)?, &calls[0], answer)
        }
        _ => {
            if calls.len() != 1 {
                return Err("wrong_count");
            }
            // BFCL checks a simple question against its first function.
            let function = functions.first().ok_or("bad_answer")?;
            check_call(function, &calls[0], answers.first().ok_or("bad_answer")?)
        }
    }
}

/// `parallel_function_checker_no_order`: each expected call, in order, takes the first call
/// not taken yet that satisfies it.
fn check_parallel(
    functions: &[Function],
    calls: &[Call],
    answers: &[Map<String, Value>],
) -> Verdict {
    if calls.len() != answers.len() {
        return Err("wrong_count");
    }
    let mut taken = vec![false; calls.len()];
    for answer in answers {
        let function = function_for(functions, answer)?;
        let hit = (0..calls.len())
            .find(|&i| !taken[i] && check_call(function, &calls[i], answer).is_ok())
            .ok_or("no_match")?;
        taken[hit] = true;
    }
    Ok(())
}

/// The function an expected call names.
fn function_for<'f>(
    functions: &'f [Function],
    answer: &Map<String, Value>,
) -> Result<&'f Function, &'static str> {
    let name = answer.keys().next().ok_or("bad_answer")?;
    functions
        .iter()
        .find(|f| &f.name == name)
        .ok_or("bad_answer")
}

/// `simple_function_checker`: one call against one expected call of `function`.
fn check_call(function: &Function, call: &Call, answer: &Map<String, Value>) -> Verdict {
    let allowed_by_param = answer
        .values()
        .next()
        .and_then(Value::as_object)
        .ok_or("bad_answer")?;
    if call.name != function.name {
        return Err("wrong_function");
    }
    let args = call.arguments.as_object().ok_or("wrong_format")?;
    let params = function
        .parameters
        .get("properties")
        .and_then(Value::as_object);
    let required = function
        .parameters
        .get("required")
        .and_then(Value::as_array);
    let is_given = |p: &Value| p.as_str().is_some_and(|p| args.contains_key(p));
    if !required.into_iter().flatten().all(is_given) {
        return Err("missing_required");
    }
    for (param, value) in args {
        let doc = params.and_then(|p| p.get(param));
        let allowed = allowed_by_param.get(param).and_then(Value::as_array);
        let (Some(doc), Some(allowed)) = (doc, allowed) else {
            return Err("unexpected_param");
        };
        check_value(doc, value, allowed)?;
    }
    let may_skip = |allowed: &Value| {
        allowed
            .as_array()
            .is_some_and(|a| a.iter().any(is_empty_str))
    };
    if allowed_by_param
        .iter()
        .any(|(param, allowed)| !args.contains_key(param) && !may_skip(allowed))
    {
        return Err("missing_optional");
    }
    Ok(())
}

/// The type and value checks of one argument against its documentation and allowed values.
fn check_value(doc: &Value, value: &Value, allowed: &[Value]) -> Verdict {
    fn type_name(schema: &Value) -> &str {
        schema.get("type").and_then(Value::as_str).unwrap_or("")
    }
    let declared = type_name(doc);
    // BFCL fails on types outside its Python mapping; none occur in these categories.
    let expected = PyType::declared(declared).ok_or("type_error")?;
    let nested = match declared {
        "array" | "tuple" => Some(
            doc.get("items")
                .map(type_name)
                .and_then(PyType::declared)
                .ok_or("type_error")?,
        ),
        _ => None,
    };
    // Python's int to float conversion, for a float parameter (not for list items).
    let as_float = value
        .as_f64()
        .filter(|_| declared == "float" && PyType::of(value) == PyType::Int)
        .map(Value::from);
    let value = as_float.as_ref().unwrap_or(value);
    let is_variable = type_check(value, allowed, expected, nested).ok_or("type_error")?;
    if !is_variable {
        let matches = match (expected, value) {
            (PyType::Dict, Value::Object(map)) => Some(dict_matches(map, allowed)),
            (PyType::List, Value::Array(items)) if nested == Some(PyType::Dict) => {
                Some(list_of_dicts_matches(items, allowed))
            }
            (PyType::Str, Value::String(s)) => {
                let s = standardize(s);
                Some(
                    allowed
                        .iter()
                        .any(|a| a.as_str().is_some_and(|a| standardize(a) == s)),
                )
            }
            (PyType::List, Value::Array(items)) => Some(list_matches(items, allowed)),
            _ => None,
        };
        if let Some(matches) = matches {
            return if matches { Ok(()) } else { Err("value_error") };
        }
    }
    if allowed.iter().any(|a| py_eq(value, a)) {
        Ok(())
    } else {
        Err("value_error")
    }
}

/// The Python type a JSON value decodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PyType {
    Str,
    Int,
    Float,
    Bool,
    List,
    Dict,
    NoneType,
}

impl PyType {
    fn of(v: &Value) -> PyType {
        match v {
            Value::Null => PyType::NoneType,
            Value::Bool(_) => PyType::Bool,
            Value::Number(n) if n.is_f64() => PyType::Float,
            Value::Number(_) => PyType::Int,
            Value::String(_) => PyType::Str,
            Value::Array(_) => PyType::List,
            Value::Object(_) => PyType::Dict,
        }
    }

    /// `PYTHON_TYPE_MAPPING`: the Python type of a declared BFCL type.
    fn declared(ty: &str) -> Option<PyType> {
        Some(match ty {
            "string" | "any" => PyType::Str,
            "integer" => PyType::Int,
            "float" => PyType::Float,
            "boolean" => PyType::Bool,
            "array" | "tuple" => PyType::List,
            "dict" => PyType::Dict,
            _ => return None,
        })
    }
}

fn is_empty_str(v: &Value) -> bool {
    v.as_str() == Some("")
}

/// `type_checker`: `Some(is_variable)` when `value` passes. A value of the declared type
/// passes (a list when its items have the nested type, or that of the answer's items, for
/// some allowed list; any allowed value that is not a list lets the items through); it is a
/// "variable" when the allowed values have another type. A value of the allowed values' type
/// passes as a variable.
fn type_check(
    value: &Value,
    allowed: &[Value],
    expected: PyType,
    nested: Option<PyType>,
) -> Option<bool> {
    let answer_type = allowed.iter().find(|a| !is_empty_str(a)).map(PyType::of);
    let actual = PyType::of(value);
    if actual == expected {
        let is_variable = answer_type.is_some_and(|t| t != expected);
        let (Some(inner), Value::Array(items)) = (nested, value) else {
            return Some(is_variable);
        };
        let items_fit = |answer: &Value| match answer {
            Value::Array(answer_items) => items
                .iter()
                .all(|item| type_check(item, answer_items, inner, None).is_some()),
            _ => true,
        };
        // A list whose items fail fails, whatever the allowed values' type.
        return allowed.iter().any(items_fit).then_some(is_variable);
    }
    (answer_type == Some(actual)).then_some(true)
}

/// A string standardized, anything else as is.
fn standardized(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(standardize(s)),
        other => other.clone(),
    }
}

/// `list_checker`: the list, its strings standardized, equals an allowed list (whose strings
/// are standardized too; only top-level strings, on both sides).
fn list_matches(items: &[Value], allowed: &[Value]) -> bool {
    let output = Value::Array(items.iter().map(standardized).collect());
    allowed.iter().any(|answer| {
        let answer: Vec<Value> = match answer {
            Value::Array(a) => a.iter().map(standardized).collect(),
            // BFCL walks a string character by character: `""` (optional) stands for `[]`.
            Value::String(s) => s
                .chars()
                .map(|c| Value::String(standardize(&c.to_string())))
                .collect(),
            _ => return false,
        };
        py_eq(&output, &Value::Array(answer))
    })
}

/// `dict_checker`: for some allowed dict (not `""`), every key of `map` is in it with a value
/// among its allowed ones (strings standardized), and every key left out may be (`""`).
fn dict_matches(map: &Map<String, Value>, allowed: &[Value]) -> bool {
    allowed.iter().filter_map(Value::as_object).any(|answer| {
        let fits = |(key, value): (&String, &Value)| {
            let value = standardized(value);
            answer
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(|vals| vals.iter().any(|a| py_eq(&value, &standardized(a))))
        };
        let may_skip = |(key, vals): (&String, &Value)| {
            map.contains_key(key) || vals.as_array().is_some_and(|v| v.iter().any(is_empty_str))
        };
        map.iter().all(fits) && answer.iter().all(may_skip)
    })
}

/// `list_dict_checker`: for some allowed list (`""` stands for `[]`), as many dicts, each
/// passing [`dict_matches`] against the one at its place.
fn list_of_dicts_matches(items: &[Value], allowed: &[Value]) -> bool {
    allowed.iter().any(|answer| {
        let answer: &[Value] = match answer {
            Value::Array(a) => a,
            Value::String(s) if s.is_empty() => &[],
            _ => return false,
        };
        items.len() == answer.len()
            && items.iter().zip(answer).all(|(item, a)| {
                item.as_object()
                    .is_some_and(|map| dict_matches(map, std::slice::from_ref(a)))
            })
    })
}

/// Python's `==` on decoded JSON: numbers and booleans compare by value (`1 == 1.0 == True`),
/// lists item by item, dicts key by key.
fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Value::Number(_) | Value::Bool(_), Value::Number(_) | Value::Bool(_)) => {
            let int = |v: &Value| v.as_bool().map(i64::from).or_else(|| v.as_i64());
            let float = |v: &Value| v.as_bool().map(f64::from).or_else(|| v.as_f64());
            match (int(a), int(b)) {
                (Some(x), Some(y)) => x == y,
                _ => float(a) == float(b),
            }
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Real lines of bfcl-eval 2026.3.23 (bfcl_eval/data/ and possible_answer/). The verdicts
    // below are those of BFCL's own checker (ast_checker.py and eval_runner.py) on the same
    // calls.
    const SIMPLE_0: &str = r#"{"id": "simple_python_0", "question": [[{"role": "user", "content": "Find the area of a triangle with a base of 10 units and height of 5 units."}]], "function": [{"name": "calculate_triangle_area", "description": "Calculate the area of a triangle given its base and height.", "parameters": {"type": "dict", "properties": {"base": {"type": "integer", "description": "The base of the triangle."}, "height": {"type": "integer", "description": "The height of the triangle."}, "unit": {"type": "string", "description": "The unit of measure (defaults to 'units' if not specified)"}}, "required": ["base", "height"]}}]}"#;
    const SIMPLE_0_ANSWER: &str = r#"{"id": "simple_python_0", "ground_truth": [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]}"#;
    const SIMPLE_389: &str = r#"{"id": "simple_python_389", "question": [[{"role": "user", "content": "Calculate the current cost in British Pounds if I need to convert 200 US dollars."}]], "function": [{"name": "currency_converter", "description": "Calculates the current cost in target currency given the amount in base currency and exchange rate", "parameters": {"type": "dict", "properties": {"base_currency": {"type": "string", "description": "The currency to convert from."}, "target_currency": {"type": "string", "description": "The currency to convert to."}, "amount": {"type": "float", "description": "The amount in base currency"}}, "required": ["base_currency", "target_currency", "amount"]}}]}"#;
    const SIMPLE_389_ANSWER: &str = r#"{"id": "simple_python_389", "ground_truth": [{"currency_converter": {"base_currency": ["USD"], "target_currency": ["GBP"], "amount": [200.0]}}]}"#;
    const PARALLEL_7: &str = r#"{"id": "parallel_7", "question": [[{"role": "user", "content": "Find the factorial of 5,10 and 15."}]], "function": [{"name": "math.factorial", "description": "Calculate the factorial of a given positive integer.", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "The number for which factorial needs to be calculated."}}, "required": ["number"]}}]}"#;
    const PARALLEL_7_ANSWER: &str = r#"{"id": "parallel_7", "ground_truth": [{"math.factorial": {"number": [5]}}, {"math.factorial": {"number": [10]}}, {"math.factorial": {"number": [15]}}]}"#;
    const IRRELEVANCE_8: &str = r#"{"id": "irrelevance_8", "question": [[{"role": "user", "content": "Find the integral of x^3 from 1 to 5"}]], "function": [{"name": "str_to_int", "description": "Converts string value to integer.", "parameters": {"type": "dict", "properties": {"value": {"type": "string", "description": "String value to be converted to integer"}}, "required": ["value"]}}]}"#;

    fn question(line: &str) -> Question {
        questions(line, "test").unwrap().remove(0)
    }

    fn answer(line: &str) -> Expected {
        json_lines::<Expected>(line, "test").unwrap().remove(0)
    }

    fn call(name: &str, arguments: Value) -> Call {
        Call {
            name: name.into(),
            arguments,
        }
    }

    /// The error category of the calls' score (`None`: correct).
    fn verdict(category: Category, q: &str, a: Option<&str>, calls: &[Call]) -> Option<String> {
        let expected = a.map(answer);
        let s = score(category, &question(q), calls, expected.as_ref());
        assert_eq!(s.correct, s.error.is_none());
        s.error
    }

    #[test]
    fn reads_questions_as_tool_prompts() {
        let q = question(SIMPLE_0);
        assert_eq!(q.id, "simple_python_0");
        assert_eq!(q.system, None);
        assert_eq!(q.turns.len(), 1);
        assert!(q.turns[0].starts_with("Find the area of a triangle"));
        assert_eq!(q.tools[0].name, "calculate_triangle_area");
        assert_eq!(q.tools[0].parameters["type"], "object");
        assert_eq!(q.tools[0].parameters["required"], json!(["base", "height"]));
        let p = question(PARALLEL_7);
        assert_eq!(p.tools[0].name, "math.factorial");
        let a = answer(PARALLEL_7_ANSWER);
        assert_eq!(a.ground_truth.len(), 3);
        assert_eq!(a.ground_truth[1]["math.factorial"]["number"], json!([10]));
    }

    #[test]
    fn converts_bfcl_schemas_to_json_schema() {
        // Shapes of live_simple_71-35-0 (`metrics`) and live_multiple_301-131-0 (`free_entry`).
        let bfcl = json!({"type": "dict", "required": ["x"], "properties": {
            "x": {"type": "float", "description": "d", "default": 1.5},
            "t": {"type": "tuple", "items": {"type": "dict", "properties": {"k": {"type": "any"}}}},
            "metrics": {"type": "array", "items": {"type": "string"}, "enum": ["view", "buzz"]},
            "free_entry": {"type": "boolean", "enum": ["True", "False", "dontcare"]},
            "level": {"type": "integer", "enum": [1, 2], "optional": true}}});
        assert_eq!(
            json_schema(&bfcl),
            json!({"type": "object", "required": ["x"], "properties": {
                "x": {"type": "number", "description": "d", "default": 1.5},
                "t": {"type": "array", "items": {"type": "object", "properties": {"k": {}}}},
                "metrics": {"type": "array", "items": {"type": "string", "enum": ["view", "buzz"]}},
                "free_entry": {"enum": ["True", "False", "dontcare"]},
                "level": {"type": "integer", "enum": [1, 2]}}})
        );
    }

    #[test]
    fn standardizes_strings_as_bfcl() {
        assert_eq!(standardize("April 1, 2024"), "april12024");
        assert_eq!(standardize("New_York-City/NY*^."), "newyorkcityny");
        assert_eq!(standardize("it's"), "it\"s");
    }

    #[test]
    fn scores_a_simple_question_as_bfcl() {
        let t = "calculate_triangle_area";
        let v = |args: Value| {
            verdict(
                Category::Simple,
                SIMPLE_0,
                Some(SIMPLE_0_ANSWER),
                &[call(t, args)],
            )
        };
        assert_eq!(v(json!({"base": 10, "height": 5})), None);
        // A string compares standardized; `""` lets `unit` be left out.
        assert_eq!(v(json!({"base": 10, "height": 5, "unit": "Units."})), None);
        assert_eq!(
            v(json!({"base": 10, "height": 5, "unit": "cm"})).as_deref(),
            Some("value_error")
        );
        assert_eq!(
            v(json!({"base": 10.0, "height": 5})).as_deref(),
            Some("type_error")
        );
        assert_eq!(v(json!({"base": 10})).as_deref(), Some("missing_required"));
        assert_eq!(
            v(json!({"base": 10, "height": 5, "color": "red"})).as_deref(),
            Some("unexpected_param")
        );
        assert_eq!(
            v(json!({"base": 10, "height": 6})).as_deref(),
            Some("value_error")
        );
        let args = json!({"base": 10, "height": 5});
        let wrong_name = [call("triangle_area", args.clone())];
        assert_eq!(
            verdict(
                Category::Simple,
                SIMPLE_0,
                Some(SIMPLE_0_ANSWER),
                &wrong_name
            )
            .as_deref(),
            Some("wrong_function")
        );
        let twice = [call(t, args.clone()), call(t, args)];
        for calls in [&twice[..], &[]] {
            assert_eq!(
                verdict(Category::Simple, SIMPLE_0, Some(SIMPLE_0_ANSWER), calls).as_deref(),
                Some("wrong_count")
            );
        }
        assert_eq!(
            verdict(Category::Simple, SIMPLE_0, None, &twice[..1]).as_deref(),
            Some("no_answer")
        );
    }

    #[test]
    fn takes_an_integer_for_a_float_and_compares_strings_loosely() {
        let v = |args: Value| {
            let calls = [call("currency_converter", args)];
            verdict(
                Category::Simple,
                SIMPLE_389,
                Some(SIMPLE_389_ANSWER),
                &calls,
            )
        };
        let args = |base: &str, amount: Value| json!({"base_currency": base, "target_currency": "G.B.P", "amount": amount});
        assert_eq!(v(args("usd", json!(200))), None);
        assert_eq!(v(args("USD", json!(200.0))), None);
        assert_eq!(v(args("USD", json!("200"))).as_deref(), Some("type_error"));
        assert_eq!(
            v(args("US Dollar", json!(200))).as_deref(),
            Some("value_error")
        );
    }

    #[test]
    fn matches_parallel_calls_in_any_order() {
        let f = |n: i64| call("math.factorial", json!({"number": n}));
        let v = |calls: &[Call]| {
            verdict(
                Category::Parallel,
                PARALLEL_7,
                Some(PARALLEL_7_ANSWER),
                calls,
            )
        };
        assert_eq!(v(&[f(15), f(5), f(10)]), None);
        assert_eq!(v(&[f(5), f(10)]).as_deref(), Some("wrong_count"));
        assert_eq!(v(&[f(5), f(10), f(10)]).as_deref(), Some("no_match"));
        let renamed = call("math_factorial", json!({"number": 5}));
        assert_eq!(v(&[renamed, f(10), f(15)]).as_deref(), Some("no_match"));
    }

    #[test]
    fn irrelevance_wants_no_call_and_relevance_one() {
        let c = [call("str_to_int", json!({"value": "x^3"}))];
        let v = |category, calls: &[Call]| verdict(category, IRRELEVANCE_8, None, calls);
        assert_eq!(v(Category::Irrelevance, &[]), None);
        assert_eq!(
            v(Category::Irrelevance, &c).as_deref(),
            Some("irrelevance_called")
        );
        assert_eq!(v(Category::LiveRelevance, &c), None);
        assert_eq!(v(Category::LiveRelevance, &[]).as_deref(), Some("no_call"));
    }

    #[test]
    fn knows_categories_by_file_name() {
        let c = Category::from_file_name("/data/bfcl/BFCL_v4_simple_python.json");
        assert_eq!(c, Some(Category::Simple));
        let c = Category::from_file_name("possible_answer/BFCL_v4_live_parallel_multiple.json");
        assert_eq!(c, Some(Category::LiveParallelMultiple));
        assert_eq!(Category::from_file_name("BFCL_v4_simple_java.json"), None);
        assert!(!Category::LiveRelevance.has_answers() && Category::LiveSimple.has_answers());
    }
}
