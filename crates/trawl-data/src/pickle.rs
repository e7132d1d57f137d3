//! A safe reader of Python pickles of plain containers: what `pickle.dumps` writes (protocols
//! 2 to 5) for lists, tuples, sets, frozensets and dicts of strings, integers, floats, booleans
//! and `None`. It interprets the opcodes those values need and nothing else: no class is ever
//! looked up and no code runs (the only global it accepts is `builtins.set` / `frozenset`,
//! which protocols 2 and 3 use to rebuild a set, and it builds that set itself). Anything else
//! is an error naming the opcode or the global found, with its byte offset.
//!
//! ```
//! use trawl_data::pickle::{parse_pickle, PickleValue};
//! // pickle.dumps(["d1", 7], protocol=4)
//! let bytes = b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x02d1\x94K\x07e.";
//! let v = parse_pickle(bytes, std::path::Path::new("ids.pkl")).unwrap();
//! assert_eq!(v, PickleValue::List(vec![PickleValue::Str("d1".into()), PickleValue::Int(7)]));
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A value read from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum PickleValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PickleValue>),
    Tuple(Vec<PickleValue>),
    /// A set or frozenset, in pickle order.
    Set(Vec<PickleValue>),
    /// Key-value pairs in pickle order.
    Dict(Vec<(PickleValue, PickleValue)>),
}

impl PickleValue {
    /// The Python type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            PickleValue::None => "None",
            PickleValue::Bool(_) => "bool",
            PickleValue::Int(_) => "int",
            PickleValue::Float(_) => "float",
            PickleValue::Str(_) => "str",
            PickleValue::List(_) => "list",
            PickleValue::Tuple(_) => "tuple",
            PickleValue::Set(_) => "set",
            PickleValue::Dict(_) => "dict",
        }
    }

    /// A string, or an integer written in decimal (ids are often either).
    pub fn as_id(&self) -> Option<String> {
        match self {
            PickleValue::Str(s) => Some(s.clone()),
            PickleValue::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

/// Reads and parses a pickle file.
pub fn read_pickle(path: impl AsRef<Path>) -> Result<PickleValue> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_pickle(&bytes, path)
}

/// True when `bytes` start like a pickle of protocol 2 or later (the PROTO opcode).
pub fn looks_like_pickle(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1])
}

enum Item {
    Value(PickleValue),
    /// `builtins.set` or `builtins.frozenset`, waiting for REDUCE.
    SetType,
}

struct Entry {
    item: Item,
    /// The memo slot this stack entry was stored in, if any.
    memo: Option<u32>,
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    path: &'a Path,
    stack: Vec<Entry>,
    marks: Vec<usize>,
    /// Memoised scalars and finished containers (`None`: the set constructor).
    memo: HashMap<u32, Option<PickleValue>>,
    memo_next: u32,
}

/// Parses a pickle held in memory; `path` names it in errors.
pub fn parse_pickle(bytes: &[u8], path: &Path) -> Result<PickleValue> {
    let mut p = Parser {
        b: bytes,
        pos: 0,
        path,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        memo_next: 0,
    };
    p.run()
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        b'b' => "BUILD (an object's state)",
        0x81 => "NEWOBJ (a class instance)",
        0x92 => "NEWOBJ_EX (a class instance)",
        b'o' | b'i' => "OBJ/INST (a class instance)",
        b'B' | b'C' | 0x8e => "BINBYTES (bytes)",
        0x96 => "BYTEARRAY8 (bytearray)",
        0x97 => "NEXT_BUFFER (out-of-band buffer)",
        b'P' | b'Q' => "PERSID (persistent id)",
        0x82..=0x84 => "EXT (extension registry)",
        b'S' | b'T' | b'U' => "STRING (Python 2 str)",
        b'V' | b'I' | b'L' | b'F' | b'p' | b'g' | b'd' | b'l' => {
            "a protocol 0 text opcode (pickle with protocol 2 or later)"
        }
        b'0' | b'1' | b'2' => "POP/DUP",
        _ => "an opcode this reader does not know",
    }
}

impl Parser<'_> {
    fn err(&self, at: usize, message: String) -> Error {
        Error::Pickle {
            path: PathBuf::from(self.path),
            offset: at,
            message,
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.b.len() - self.pos {
            return Err(self.err(
                self.pos,
                format!("truncated: {n} more bytes expected, the file ends"),
            ));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn le<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    fn len_u64(&mut self) -> Result<usize> {
        let n = u64::from_le_bytes(self.le()?);
        usize::try_from(n).map_err(|_| self.err(self.pos, format!("length {n} too large")))
    }

    fn string(&mut self, n: usize) -> Result<PickleValue> {
        let at = self.pos;
        let s = self.take(n)?;
        match std::str::from_utf8(s) {
            Ok(s) => Ok(PickleValue::Str(s.to_string())),
            Err(_) => Err(self.err(at, "a string that is not valid UTF-8".into())),
        }
    }

    fn push(&mut self, v: PickleValue) {
        self.stack.push(Entry {
            item: Item::Value(v),
            memo: None,
        });
    }

    /// Pops a finished value; a memoised container's final value is recorded for later GETs.
    fn pop_value(&mut self, at: usize) -> Result<PickleValue> {
        match self.stack.pop() {
            Some(Entry {
                item: Item::Value(v),
                memo,
            }) => {
                if let Some(i) = memo {
                    if is_container(&v) {
                        self.memo.insert(i, Some(v.clone()));
                    }
                }
                Ok(v)
            }
            Some(Entry {
                item: Item::SetType,
                ..
            }) => Err(self.err(at, "a set constructor used as a value".into())),
            None => Err(self.err(at, "the stack is empty (malformed pickle)".into())),
        }
    }

    /// Values pushed since the last MARK, in order.
    fn pop_mark(&mut self, at: usize) -> Result<Vec<PickleValue>> {
        let start = self
            .marks
            .pop()
            .ok_or_else(|| self.err(at, "no MARK before this opcode (malformed pickle)".into()))?;
        let mut out = Vec::with_capacity(self.stack.len().saturating_sub(start));
        let n = self.stack.len() - start;
        let mut tmp = Vec::with_capacity(n);
        for _ in 0..n {
            tmp.push(self.pop_value(at)?);
        }
        out.extend(tmp.into_iter().rev());
        Ok(out)
    }

    /// The container on top of the stack, to append to.
    fn top(&mut self, at: usize) -> Result<&mut PickleValue> {
        if self.marks.last().is_some_and(|&m| m > self.stack.len()) {
            return Err(self.err(at, "malformed pickle (MARK above the stack)".into()));
        }
        match self.stack.last_mut() {
            Some(Entry {
                item: Item::Value(v),
                ..
            }) => Ok(v),
            _ => Err(Error::Pickle {
                path: PathBuf::from(self.path),
                offset: at,
                message: "no container to add to (malformed pickle)".into(),
            }),
        }
    }

    fn memo_put(&mut self, i: u32, at: usize) -> Result<()> {
        let e = self.stack.last_mut().ok_or_else(|| Error::Pickle {
            path: PathBuf::from(self.path),
            offset: at,
            message: "memo store on an empty stack".into(),
        })?;
        e.memo = Some(i);
        match &e.item {
            // Scalars are final now; containers are recorded when they are popped (complete).
            Item::Value(v) if !is_container(v) => {
                self.memo.insert(i, Some(v.clone()));
            }
            Item::Value(_) => {}
            Item::SetType => {
                self.memo.insert(i, None);
            }
        }
        Ok(())
    }

    fn memo_get(&mut self, i: u32, at: usize) -> Result<()> {
        if let Some(v) = self.memo.get(&i) {
            let item = match v {
                Some(v) => Item::Value(v.clone()),
                None => Item::SetType,
            };
            self.stack.push(Entry { item, memo: None });
            return Ok(());
        }
        // A container still on the stack: complete unless a MARK above it is open (then it is
        // an ancestor of the value being built, i.e. a recursive structure).
        let found = self.stack.iter().rposition(|e| e.memo == Some(i));
        let open_above = |p: usize| self.marks.iter().any(|&m| m > p);
        match found {
            Some(p) if !open_above(p) => {
                let Item::Value(v) = &self.stack[p].item else {
                    return Err(self.err(at, "memo refers to a set constructor".into()));
                };
                let v = v.clone();
                self.push(v);
                Ok(())
            }
            Some(_) => Err(self.err(
                at,
                "a recursive structure (a container inside itself) is not supported".into(),
            )),
            None => Err(self.err(
                at,
                format!("memo slot {i} was never stored (malformed pickle)"),
            )),
        }
    }

    fn global(&mut self, module: &str, name: &str, at: usize) -> Result<()> {
        if matches!(module, "builtins" | "__builtin__") && matches!(name, "set" | "frozenset") {
            self.stack.push(Entry {
                item: Item::SetType,
                memo: None,
            });
            Ok(())
        } else {
            Err(self.err(
                at,
                format!(
                    "the pickle refers to `{module}.{name}`: this reader only reads plain lists, tuples, sets and dicts of strings and numbers, and never runs pickle code (convert the data, e.g. json.dump(obj, f), or pickle plain containers)"
                ),
            ))
        }
    }

    fn line(&mut self) -> Result<String> {
        let at = self.pos;
        let rest = &self.b[self.pos..];
        let end = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| self.err(at, "truncated GLOBAL name".into()))?;
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }

    fn run(&mut self) -> Result<PickleValue> {
        loop {
            let at = self.pos;
            let Some(&op) = self.b.get(self.pos) else {
                return Err(self.err(at, "truncated: the pickle ends before STOP".into()));
            };
            self.pos += 1;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if !(2..=5).contains(&proto) {
                        return Err(self.err(
                            at,
                            format!("pickle protocol {proto}: this reader reads protocols 2 to 5 (Python 3's default is 4 or 5)"),
                        ));
                    }
                }
                0x95 => {
                    self.le::<8>()?; // FRAME: a length hint only
                }
                b'.' => {
                    let v = self.pop_value(at)?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(self.err(at, "values left on the stack at STOP".into()));
                    }
                    return Ok(v);
                }
                b']' => self.push(PickleValue::List(Vec::new())),
                b'}' => self.push(PickleValue::Dict(Vec::new())),
                b')' => self.push(PickleValue::Tuple(Vec::new())),
                0x8f => self.push(PickleValue::Set(Vec::new())),
                b'(' => self.marks.push(self.stack.len()),
                b'a' => {
                    let v = self.pop_value(at)?;
                    match self.top(at)? {
                        PickleValue::List(l) => l.push(v),
                        other => {
                            let t = other.type_name();
                            return Err(self.err(at, format!("APPEND to a {t}")));
                        }
                    }
                }
                b'e' => {
                    let items = self.pop_mark(at)?;
                    match self.top(at)? {
                        PickleValue::List(l) => l.extend(items),
                        other => {
                            let t = other.type_name();
                            return Err(self.err(at, format!("APPENDS to a {t}")));
                        }
                    }
                }
                b's' => {
                    let v = self.pop_value(at)?;
                    let k = self.pop_value(at)?;
                    match self.top(at)? {
                        PickleValue::Dict(d) => d.push((k, v)),
                        other => {
                            let t = other.type_name();
                            return Err(self.err(at, format!("SETITEM on a {t}")));
                        }
                    }
                }
                b'u' => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(self.err(at, "SETITEMS with an odd number of values".into()));
                    }
                    let mut it = items.into_iter();
                    let mut pairs = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    match self.top(at)? {
                        PickleValue::Dict(d) => d.extend(pairs),
                        other => {
                            let t = other.type_name();
                            return Err(self.err(at, format!("SETITEMS on a {t}")));
                        }
                    }
                }
                0x90 => {
                    let items = self.pop_mark(at)?;
                    match self.top(at)? {
                        PickleValue::Set(s) => s.extend(items),
                        other => {
                            let t = other.type_name();
                            return Err(self.err(at, format!("ADDITEMS to a {t}")));
                        }
                    }
                }
                b't' => {
                    let items = self.pop_mark(at)?;
                    self.push(PickleValue::Tuple(items));
                }
                0x91 => {
                    let items = self.pop_mark(at)?;
                    self.push(PickleValue::Set(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop_value(at)?);
                    }
                    items.reverse();
                    self.push(PickleValue::Tuple(items));
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memo_put(i, at)?;
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.le()?);
                    self.memo_put(i, at)?;
                }
                0x94 => {
                    let i = self.memo_next;
                    self.memo_next += 1;
                    self.memo_put(i, at)?;
                }
                b'h' => {
                    let i = self.u8()? as u32;
                    self.memo_get(i, at)?;
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.le()?);
                    self.memo_get(i, at)?;
                }
                b'X' => {
                    let n = u32::from_le_bytes(self.le()?) as usize;
                    let v = self.string(n)?;
                    self.push(v);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.string(n)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let v = self.string(n)?;
                    self.push(v);
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?) as i64;
                    self.push(PickleValue::Int(v));
                }
                b'K' => {
                    let v = self.u8()? as i64;
                    self.push(PickleValue::Int(v));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?) as i64;
                    self.push(PickleValue::Int(v));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        self.u8()? as usize
                    } else {
                        u32::from_le_bytes(self.le()?) as usize
                    };
                    if n > 8 {
                        return Err(self.err(at, format!("an integer of {n} bytes (more than 64 bits)")));
                    }
                    let bytes = self.take(n)?;
                    let mut buf = if bytes.last().is_some_and(|&b| b & 0x80 != 0) {
                        [0xffu8; 8]
                    } else {
                        [0u8; 8]
                    };
                    buf[..n].copy_from_slice(bytes);
                    self.push(PickleValue::Int(i64::from_le_bytes(buf)));
                }
                b'N' => self.push(PickleValue::None),
                0x88 => self.push(PickleValue::Bool(true)),
                0x89 => self.push(PickleValue::Bool(false)),
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.push(PickleValue::Float(v));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(&module, &name, at)?;
                }
                0x93 => {
                    let name = self.pop_value(at)?;
                    let module = self.pop_value(at)?;
                    match (module, name) {
                        (PickleValue::Str(m), PickleValue::Str(n)) => self.global(&m, &n, at)?,
                        _ => return Err(self.err(at, "STACK_GLOBAL without two strings".into())),
                    }
                }
                b'R' => {
                    let args = self.pop_value(at)?;
                    let callable = self.stack.pop();
                    let Some(Entry {
                        item: Item::SetType,
                        ..
                    }) = callable
                    else {
                        return Err(self.err(at, "REDUCE of something other than set()".into()));
                    };
                    let items = match args {
                        PickleValue::Tuple(a) if a.is_empty() => Vec::new(),
                        PickleValue::Tuple(mut a) if a.len() == 1 => match a.pop() {
                            Some(PickleValue::List(l)) => l,
                            _ => return Err(self.err(at, "set() of something other than a list".into())),
                        },
                        _ => return Err(self.err(at, "set() with unexpected arguments".into())),
                    };
                    self.push(PickleValue::Set(items));
                }
                other => {
                    return Err(self.err(
                        at,
                        format!(
                            "opcode {:#04x} ({}) is not supported: this reader reads plain lists, tuples, sets and dicts of strings and numbers",
                            other,
                            opcode_name(other)
                        ),
                    ))
                }
            }
        }
    }
}

fn is_container(v: &PickleValue) -> bool {
    matches!(
        v,
        PickleValue::List(_) | PickleValue::Tuple(_) | PickleValue::Set(_) | PickleValue::Dict(_)
    )
}

/// Document ids in index order from an id-mapping file: a pickle or JSON of a list (position ->
/// id) or a dict {position: id} whose positions are exactly 0..n, or a text file with one id
/// per line. Ids may be strings or integers (written in decimal).
pub fn read_id_mapping(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let bad = |message: String| Error::UnknownFormat {
        path: path.to_path_buf(),
        message,
    };
    if looks_like_pickle(&bytes) {
        let v = parse_pickle(&bytes, path)?;
        return mapping_from_value(v).map_err(bad);
    }
    if matches!(first, Some(b'[') | Some(b'{')) {
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::parse(path, e.line(), format!("not valid JSON: {e}")))?;
        return mapping_from_value(json_to_pickle_value(v)).map_err(bad);
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8 text, JSON or a pickle".into()))?;
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() {
            return Err(Error::parse(
                path,
                i + 1,
                "an empty line: one document id per line expected",
            ));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

fn json_to_pickle_value(v: serde_json::Value) -> PickleValue {
    use serde_json::Value as J;
    match v {
        J::Null => PickleValue::None,
        J::Bool(b) => PickleValue::Bool(b),
        J::Number(n) => n
            .as_i64()
            .map(PickleValue::Int)
            .unwrap_or_else(|| PickleValue::Float(n.as_f64().unwrap_or(f64::NAN))),
        J::String(s) => PickleValue::Str(s),
        J::Array(a) => PickleValue::List(a.into_iter().map(json_to_pickle_value).collect()),
        J::Object(o) => PickleValue::Dict(
            o.into_iter()
                .map(|(k, v)| (PickleValue::Str(k), json_to_pickle_value(v)))
                .collect(),
        ),
    }
}

fn mapping_from_value(v: PickleValue) -> std::result::Result<Vec<String>, String> {
    match v {
        PickleValue::List(items) | PickleValue::Tuple(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_id().ok_or_else(|| {
                    format!(
                        "id mapping position {i}: expected a str or int id, found a {}",
                        x.type_name()
                    )
                })
            })
            .collect(),
        PickleValue::Dict(pairs) => {
            let n = pairs.len();
            let mut out: Vec<Option<String>> = vec![None; n];
            for (k, v) in pairs {
                let pos = match &k {
                    PickleValue::Int(i) => usize::try_from(*i).ok(),
                    PickleValue::Str(s) => s.parse::<usize>().ok(),
                    _ => None,
                };
                let Some(pos) = pos.filter(|&p| p < n) else {
                    return Err(format!(
                        "id mapping dict key {k:?}: expected the index positions 0..{n} as keys (position -> doc id)"
                    ));
                };
                let id = v.as_id().ok_or_else(|| {
                    format!(
                        "id mapping position {pos}: expected a str or int id, found a {}",
                        v.type_name()
                    )
                })?;
                if out[pos].replace(id).is_some() {
                    return Err(format!("id mapping position {pos} appears twice"));
                }
            }
            Ok(out
                .into_iter()
                .map(|x| x.expect("n distinct positions below n"))
                .collect())
        }
        other => Err(format!(
            "expected a list of doc ids in index order or a dict {{position: doc id}}, found a {}",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<PickleValue> {
        parse_pickle(b, Path::new("t.pkl"))
    }

    #[test]
    fn reads_protocol_2_set_via_builtins_reduce() {
        // pickle.dumps({"a"}, protocol=2)
        let b = b"\x80\x02c__builtin__\nset\nq\x00]q\x01X\x01\x00\x00\x00aq\x02a\x85q\x03Rq\x04.";
        assert_eq!(
            parse(b).unwrap(),
            PickleValue::Set(vec![PickleValue::Str("a".into())])
        );
    }

    #[test]
    fn refuses_code_and_names_it() {
        // pickle.dumps(os.system) style: a global that is not set/frozenset.
        let b = b"\x80\x02cos\nsystem\nq\x00.";
        let e = parse(b).unwrap_err().to_string();
        assert!(e.contains("`os.system`") && e.contains("never runs"), "{e}");
        // BUILD (an object's state) is named.
        let e = parse(b"\x80\x04}b.").unwrap_err().to_string();
        assert!(e.contains("BUILD"), "{e}");
        // Truncated.
        let e = parse(b"\x80\x04]").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = parse(b"\x80\x01].").unwrap_err().to_string();
        assert!(e.contains("protocol 1"), "{e}");
    }

    #[test]
    fn shared_containers_are_copied_complete() {
        // l = ["x"]; pickle.dumps([l, l], protocol=4)
        let b = b"\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94\x8c\x01x\x94ah\x01e.";
        let inner = PickleValue::List(vec![PickleValue::Str("x".into())]);
        assert_eq!(
            parse(b).unwrap(),
            PickleValue::List(vec![inner.clone(), inner])
        );
    }

    #[test]
    fn negative_and_long_ints() {
        // pickle.dumps([-1, 2**40, -2**63], protocol=2)
        let b = b"\x80\x02]q\x00(J\xff\xff\xff\xff\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80e.";
        assert_eq!(
            parse(b).unwrap(),
            PickleValue::List(vec![
                PickleValue::Int(-1),
                PickleValue::Int(1 << 40),
                PickleValue::Int(i64::MIN)
            ])
        );
    }

    #[test]
    fn id_mappings_from_pickle_json_and_lines_agree() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../trawl-vector/tests/data/faiss");
        // Written by bench/faiss_fixtures.py: a list (protocol 4) and a dict (protocol 2).
        let list = read_id_mapping(dir.join("id_mapping.pkl")).unwrap();
        let dict = read_id_mapping(dir.join("id_mapping_dict.pkl")).unwrap();
        assert_eq!(list.len(), 600);
        assert_eq!(list[0], "doc0000");
        assert_eq!(list[599], "doc0599");
        assert_eq!(list, dict);
        let tmp = tempfile::tempdir().unwrap();
        let json = tmp.path().join("ids.json");
        std::fs::write(&json, r#"{"1": "b", "0": 7}"#).unwrap();
        assert_eq!(read_id_mapping(&json).unwrap(), ["7", "b"]);
        let lines = tmp.path().join("ids.txt");
        std::fs::write(&lines, "a\nb\n").unwrap();
        assert_eq!(read_id_mapping(&lines).unwrap(), ["a", "b"]);
        std::fs::write(&json, r#"{"0": "a", "5": "b"}"#).unwrap();
        let e = read_id_mapping(&json).unwrap_err().to_string();
        assert!(e.contains("positions 0..2"), "{e}");
    }
}
