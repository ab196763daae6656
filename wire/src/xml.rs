//! The XML wire layer shared by every message type.
//!
//! * [`parse`] decodes a request file (UTF-8 or Shift_JIS, chosen by its XML declaration), refuses DTDs and entity
//!   declarations (nothing is ever expanded), enforces size/depth/element limits, and builds a small [`Element`]
//!   tree. Message modules read it **by element name** (real files do not keep schema order).
//! * [`from_json`] builds the same tree from the Web API's JSON, so one extraction path serves both.
//! * [`Emitter`] writes a response either as XML (with the matching declaration) or as JSON mirroring the XmlMsg
//!   tree; message writers call it once, so every element name is produced in exactly one place.

use std::borrow::Cow;

use encoding_rs::SHIFT_JIS;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::codes::CharacterCode;

/// Limits applied to every request file. The defaults are documented in `docs/WIRE.md`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_depth: 16,
            max_elements: 20_000,
        }
    }
}

/// Why a file could not be read as XML. Each maps to a file-level error code (`SegmentOfResult` 9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("file is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("bytes are not valid {0}")]
    BadEncoding(&'static str),
    #[error("unsupported encoding {0:?} (UTF-8 or Shift_JIS)")]
    UnsupportedEncoding(String),
    #[error("DOCTYPE and entity declarations are not accepted")]
    Doctype,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("XML nesting deeper than {0}")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooManyElements(usize),
}

/// Character encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    ShiftJis,
}

impl Encoding {
    pub fn declaration_name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::ShiftJis => "Shift_JIS",
        }
    }
    /// The `CharacterCodeIdentifier` value (OQSCD005).
    pub fn code(self) -> CharacterCode {
        match self {
            Self::Utf8 => CharacterCode::Utf8,
            Self::ShiftJis => CharacterCode::ShiftJis,
        }
    }
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "utf_8" | "utf8" => Some(Self::Utf8),
            "shift_jis" | "sjis" | "shiftjis" | "windows_31j" | "cp932" | "ms932" | "x_sjis" => {
                Some(Self::ShiftJis)
            }
            _ => None,
        }
    }
    /// Encodes a UTF-8 text; characters Shift_JIS cannot hold become numeric character references (valid XML).
    pub fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Self::Utf8 => s.as_bytes().to_vec(),
            Self::ShiftJis => SHIFT_JIS.encode(s).0.into_owned(),
        }
    }
}

/// One element: its name, its text (leaf elements) and its children. Attributes are not used by the interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    /// Every child with this name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// The text of a child leaf, `None` when absent or empty (requests may send `<X></X>` for "not given").
    pub fn value(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.as_str())
            .filter(|t| !t.trim().is_empty())
    }
}

/// A parsed request file.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Element,
    pub encoding: Encoding,
}

fn declared_encoding(bytes: &[u8]) -> Result<Option<String>, XmlError> {
    if !bytes.starts_with(b"<?xml") {
        return Ok(None);
    }
    let head = &bytes[..bytes.len().min(256)];
    let Some(end) = head.windows(2).position(|w| w == b"?>") else {
        return Err(XmlError::Malformed("unterminated XML declaration".into()));
    };
    let decl = String::from_utf8_lossy(&head[..end]);
    let Some(pos) = decl.find("encoding") else {
        return Ok(None);
    };
    let rest = decl[pos + "encoding".len()..].trim_start();
    let rest = rest
        .strip_prefix('=')
        .ok_or_else(|| XmlError::Malformed("bad encoding declaration".into()))?
        .trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')
        .ok_or_else(|| XmlError::Malformed("bad encoding declaration".into()))?;
    let value = rest[1..]
        .split(quote)
        .next()
        .ok_or_else(|| XmlError::Malformed("bad encoding declaration".into()))?;
    Ok(Some(value.to_string()))
}

/// Decodes a file to text following its XML declaration (no declaration: UTF-8). A UTF-8 BOM is accepted.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Encoding), XmlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let encoding = match declared_encoding(bytes)? {
        None => Encoding::Utf8,
        Some(name) => Encoding::parse(&name).ok_or(XmlError::UnsupportedEncoding(name))?,
    };
    let text = match encoding {
        Encoding::Utf8 => {
            Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| XmlError::BadEncoding("UTF-8"))?)
        }
        Encoding::ShiftJis => SHIFT_JIS
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or(XmlError::BadEncoding("Shift_JIS"))?,
    };
    Ok((text, encoding))
}

/// Parses a request file into a tree.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Document, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let (text, encoding) = decode(bytes)?;
    let root = parse_str(&text, limits)?;
    Ok(Document { root, encoding })
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Whether XML 1.0 allows `c` in a document (`Char`: tab, newline, carriage return, and U+0020–U+D7FF,
/// U+E000–U+FFFD, U+10000–U+10FFFF). NUL, other control characters, U+FFFE and U+FFFF are not.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that XML 1.0 forbids. Valid UTF-8 holds no surrogates, so only control
/// characters (one byte each) and U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`) can be forbidden: the scan is over bytes.
pub fn forbidden_char(text: &str) -> Option<char> {
    let b = text.as_bytes();
    // Fast path, a branch-free pass the compiler vectorises: no control character but tab/LF/CR and no 0xEF
    // lead byte means nothing is forbidden. Only otherwise is the exact scan below run.
    let suspect = b.iter().fold(false, |acc, &c| {
        acc | ((c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r')) | (c == 0xEF)
    });
    if !suspect {
        return None;
    }
    let at = b.iter().enumerate().position(|(i, &c)| {
        (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
            || (c == 0xEF
                && b.get(i + 1) == Some(&0xBF)
                && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
    })?;
    text[at..].chars().next()
}

/// Refuses text with a character XML 1.0 forbids, raw or written as a character reference: it could not be
/// echoed into a well-formed answer, and it never reaches the database.
fn check_chars(text: &str) -> Result<(), XmlError> {
    match forbidden_char(text) {
        Some(c) => Err(XmlError::Malformed(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

fn parse_str(text: &str, limits: &Limits) -> Result<Element, XmlError> {
    check_chars(text)?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    fn open(
        stack: &[Element],
        root: &Option<Element>,
        count: &mut usize,
        limits: &Limits,
        name: &[u8],
    ) -> Result<Element, XmlError> {
        if stack.is_empty() && root.is_some() {
            return Err(XmlError::Malformed("content after the root element".into()));
        }
        *count += 1;
        if *count > limits.max_elements {
            return Err(XmlError::TooManyElements(limits.max_elements));
        }
        if stack.len() >= limits.max_depth {
            return Err(XmlError::TooDeep(limits.max_depth));
        }
        let name = std::str::from_utf8(name).map_err(malformed)?;
        Ok(Element {
            name: name.to_string(),
            ..Element::default()
        })
    }

    fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
        match stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None => *root = Some(el),
        }
    }

    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(e) => {
                let el = open(&stack, &root, &mut count, limits, e.name().as_ref())?;
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = open(&stack, &root, &mut count, limits, e.name().as_ref())?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                close(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(malformed)?;
                // The raw text was checked with the whole document; only character references can add more.
                if matches!(s, std::borrow::Cow::Owned(_)) {
                    check_chars(&s)?;
                }
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed("text outside the root element".into()))
                    }
                }
            }
            Event::CData(t) => {
                let s = std::str::from_utf8(&t).map_err(malformed)?.to_string();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => {
                        return Err(XmlError::Malformed("CDATA outside the root element".into()))
                    }
                }
            }
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("file ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".into()))
}

/// Builds an element tree from the Web API's JSON body (`{"XmlMsg":{...}}`): objects become elements,
/// strings/numbers/booleans text, `null` an absent element. Arrays follow the JSON mirror's rule for repeated
/// elements ([`Emitter`]): `"C": [{"R": {…}}, {"R": {…}}]` — every item an object of one member — is one element `C`
/// holding the items' members in order; any other array is `C` repeated.
pub fn from_json(value: &serde_json::Value) -> Result<Element, XmlError> {
    use serde_json::Value;
    fn build(name: &str, v: &Value, out: &mut Vec<Element>, depth: usize) -> Result<(), XmlError> {
        if depth > Limits::default().max_depth {
            return Err(XmlError::TooDeep(Limits::default().max_depth));
        }
        check_chars(name)?;
        match v {
            Value::Null => {}
            Value::Array(items) if wrapped_items(items) => {
                let mut el = Element {
                    name: name.to_string(),
                    ..Element::default()
                };
                for item in items.iter().filter_map(Value::as_object) {
                    for (k, v) in item {
                        build(k, v, &mut el.children, depth + 1)?;
                    }
                }
                out.push(el);
            }
            Value::Array(items) => {
                for item in items {
                    build(name, item, out, depth)?;
                }
            }
            Value::Object(map) => {
                let mut el = Element {
                    name: name.to_string(),
                    ..Element::default()
                };
                for (k, v) in map {
                    build(k, v, &mut el.children, depth + 1)?;
                }
                out.push(el);
            }
            Value::String(s) => {
                check_chars(s)?;
                out.push(Element {
                    name: name.to_string(),
                    text: s.clone(),
                    children: vec![],
                })
            }
            Value::Number(n) => out.push(Element {
                name: name.to_string(),
                text: n.to_string(),
                children: vec![],
            }),
            Value::Bool(b) => out.push(Element {
                name: name.to_string(),
                text: b.to_string(),
                children: vec![],
            }),
        }
        Ok(())
    }
    let map = value
        .as_object()
        .ok_or_else(|| XmlError::Malformed("JSON body must be an object".into()))?;
    if map.len() != 1 {
        return Err(XmlError::Malformed(
            "JSON body must have exactly one root member".into(),
        ));
    }
    let (name, v) = map.iter().next().expect("one member");
    let mut out = Vec::new();
    build(name, v, &mut out, 1)?;
    out.into_iter()
        .next()
        .ok_or_else(|| XmlError::Malformed("JSON root is empty".into()))
}

/// Whether an array is in the wrapped form (`[{"R": {…}}, …]`): every item an object of one member whose value is
/// an element (an object). An array of field objects (`[{"V": "1"}, …]`) is the repeated form.
fn wrapped_items(items: &[serde_json::Value]) -> bool {
    !items.is_empty()
        && items.iter().all(|i| {
            i.as_object()
                .is_some_and(|o| o.len() == 1 && o.values().all(serde_json::Value::is_object))
        })
}

/// Output form of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputForm {
    Xml(Encoding),
    Json,
}

/// Writes one response tree as XML or JSON. Writers call `start`/`leaf`/`end` in the element order of the
/// spec; repeated elements are bracketed by `start_list`/`end_list` so JSON renders them as arrays, in the real Web
/// API's shape: an element whose content is the repeated elements becomes an array of one-member objects
/// (`"ResultList": [{"ResultOfQualificationConfirmation": {…}}, …]`); repeated elements that share their parent with
/// other children become an array under their own name (`"R": [{…}, …]`).
pub struct Emitter {
    form: OutputForm,
    out: String,
    /// XML: open element names. JSON: whether the current container already has a member.
    stack: Vec<Frame>,
}

struct Frame {
    name: &'static str,
    has_member: bool,
    /// JSON: a run of repeated elements rendered as `"name": [{…}, …]`.
    list: bool,
    /// JSON: an element rendered as an array of one-member objects (its content is one run of repeated elements).
    array: bool,
}

impl Emitter {
    pub fn new(form: OutputForm) -> Self {
        let mut out = String::with_capacity(2048);
        match form {
            OutputForm::Xml(enc) => {
                out.push_str("<?xml version=\"1.0\" encoding=\"");
                out.push_str(enc.declaration_name());
                out.push_str("\" standalone=\"no\"?>\n");
            }
            OutputForm::Json => out.push('{'),
        }
        Self {
            form,
            out,
            stack: Vec::with_capacity(8),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.stack.len() {
            self.out.push_str("  ");
        }
    }

    fn json_member(&mut self, name: &str) {
        if let Some(top) = self.stack.last_mut() {
            if top.has_member {
                self.out.push(',');
            }
            top.has_member = true;
            if top.list {
                return;
            }
            if top.array {
                // One item of an array element: `{"name": …}`, closed by `end`.
                self.out.push('{');
            }
        }
        json_string(&mut self.out, name);
        self.out.push(':');
    }

    /// Opens an element (or, inside a list, one item of it).
    pub fn start(&mut self, name: &'static str) {
        match self.form {
            OutputForm::Xml(_) => {
                self.indent();
                self.out.push('<');
                self.out.push_str(name);
                self.out.push_str(">\n");
            }
            OutputForm::Json => {
                self.json_member(name);
                self.out.push('{');
            }
        }
        self.stack.push(Frame {
            name,
            has_member: false,
            list: false,
            array: false,
        });
    }

    pub fn end(&mut self) {
        let frame = self.stack.pop().expect("balanced emitter calls");
        match self.form {
            OutputForm::Xml(_) => {
                self.indent();
                self.out.push_str("</");
                self.out.push_str(frame.name);
                self.out.push_str(">\n");
            }
            OutputForm::Json => {
                self.out.push(if frame.array { ']' } else { '}' });
                if self.stack.last().is_some_and(|f| f.array) {
                    // The item object around an array element's member.
                    self.out.push('}');
                }
            }
        }
    }

    /// Begins a run of repeated `name` elements (a JSON array). When the run is the first content of the element
    /// that holds it, that element becomes the array (of one-member objects); otherwise the run is an array member
    /// of its own name.
    pub fn start_list(&mut self, name: &'static str) {
        if let OutputForm::Json = self.form {
            match self.stack.last_mut() {
                // A further run in an array element: more of its members.
                Some(top) if top.array => {}
                Some(top) if !top.has_member && self.out.ends_with('{') => {
                    self.out.pop();
                    self.out.push('[');
                    // Its items are the array element's members; the run itself writes nothing more.
                    top.array = true;
                }
                _ => {
                    self.json_member(name);
                    self.out.push('[');
                    self.stack.push(Frame {
                        name,
                        has_member: false,
                        list: true,
                        array: false,
                    });
                }
            }
        }
    }

    pub fn end_list(&mut self) {
        if let OutputForm::Json = self.form {
            if self.stack.last().is_some_and(|f| f.list) {
                self.stack.pop();
                self.out.push(']');
            }
        }
    }

    /// A leaf element with text.
    pub fn leaf(&mut self, name: &'static str, value: &str) {
        match self.form {
            OutputForm::Xml(_) => {
                self.indent();
                self.out.push('<');
                self.out.push_str(name);
                self.out.push('>');
                xml_escape(&mut self.out, value);
                self.out.push_str("</");
                self.out.push_str(name);
                self.out.push_str(">\n");
            }
            OutputForm::Json => {
                self.json_member(name);
                json_string(&mut self.out, value);
                if self.stack.last().is_some_and(|f| f.array) {
                    self.out.push('}');
                }
            }
        }
    }

    /// A leaf that is omitted when it has no value (the system omits empty optional elements).
    pub fn opt(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.leaf(name, v);
        }
    }

    /// The finished file's bytes, in the output encoding.
    pub fn finish(mut self) -> Vec<u8> {
        debug_assert!(self.stack.is_empty(), "unbalanced emitter calls");
        match self.form {
            // UTF-8: the text is the file (no copy).
            OutputForm::Xml(Encoding::Utf8) => self.out.into_bytes(),
            OutputForm::Xml(enc) => enc.encode(&self.out),
            OutputForm::Json => {
                self.out.push('}');
                self.out.into_bytes()
            }
        }
    }
}

fn xml_escape(out: &mut String, s: &str) {
    // Most values have nothing to escape: copied whole.
    if !s
        .bytes()
        .any(|b| matches!(b, b'<' | b'>' | b'&' | b'"' | b'\''))
    {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_scan_finds_what_the_character_rule_forbids() {
        for c in ['\u{0}', '\u{1}', '\u{1f}', '\u{fffe}', '\u{ffff}'] {
            assert_eq!(forbidden_char(&format!("ab日本{c}x")), Some(c));
            assert!(!is_xml_char(c));
        }
        for ok in ["", "\t\n\r", "日本語 ｱｲｳ \u{fffd} \u{10000} \u{efbf}"] {
            assert_eq!(forbidden_char(ok), None, "{ok:?}");
            assert!(ok.chars().all(is_xml_char));
        }
    }

    proptest::proptest! {
        /// The fast path and the byte scan agree with the character rule on any text.
        #[test]
        fn the_scan_agrees_with_the_rule(s in "(?s).{0,64}") {
            proptest::prop_assert_eq!(forbidden_char(&s), s.chars().find(|&c| !is_xml_char(c)));
        }
    }

    #[test]
    fn characters_xml_forbids_are_refused_raw_or_as_references() {
        let limits = Limits::default();
        for doc in [
            "<XmlMsg><A>a\u{0}b</A></XmlMsg>",
            "<XmlMsg><A>a\u{1}b</A></XmlMsg>",
            "<XmlMsg><A>\u{1B}[31m</A></XmlMsg>",
            "<XmlMsg><A>\u{FFFE}</A></XmlMsg>",
            "<XmlMsg><A>&#0;</A></XmlMsg>",
            "<XmlMsg><A>&#x1B;</A></XmlMsg>",
            "<XmlMsg><A>&#xFFFF;</A></XmlMsg>",
        ] {
            let e = parse(doc.as_bytes(), &limits).unwrap_err();
            assert!(matches!(e, XmlError::Malformed(_)), "{doc:?}: {e:?}");
        }
        assert!(parse(
            "<XmlMsg><A>\t改\r\n行&#x9;</A></XmlMsg>".as_bytes(),
            &limits
        )
        .is_ok());
        for json in [
            r#"{"XmlMsg":{"A":"a\u0000b"}}"#,
            r#"{"XmlMsg":{"A\u0001":"b"}}"#,
            r#"{"XmlMsg":{"A":"\uFFFE"}}"#,
        ] {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            assert!(from_json(&v).is_err(), "{json}");
        }
    }

    fn p(s: &[u8]) -> Result<Document, XmlError> {
        parse(s, &Limits::default())
    }

    #[test]
    fn parses_utf8_and_keeps_leading_spaces() {
        let d = p("<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><A>  123456</A><B></B><C>漢字&amp;</C></XmlMsg>".as_bytes()).unwrap();
        assert_eq!(d.encoding, Encoding::Utf8);
        assert_eq!(d.root.name, "XmlMsg");
        assert_eq!(d.root.value("A"), Some("  123456"));
        assert_eq!(d.root.value("B"), None);
        assert_eq!(d.root.value("C"), Some("漢字&"));
    }

    #[test]
    fn parses_shift_jis() {
        let text = "<?xml version=\"1.0\" encoding=\"Shift_JIS\" standalone=\"no\"?><XmlMsg><N>山田　太郎</N></XmlMsg>";
        let bytes = SHIFT_JIS.encode(text).0.into_owned();
        let d = p(&bytes).unwrap();
        assert_eq!(d.encoding, Encoding::ShiftJis);
        assert_eq!(d.root.value("N"), Some("山田　太郎"));
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(
            p(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><X>\x81</X>").unwrap_err(),
            XmlError::BadEncoding("Shift_JIS")
        );
        assert_eq!(
            p(b"<X>\xff</X>").unwrap_err(),
            XmlError::BadEncoding("UTF-8")
        );
        assert_eq!(
            p(b"<?xml version=\"1.0\"?><!DOCTYPE X [<!ENTITY a \"aaaa\">]><X>&a;</X>").unwrap_err(),
            XmlError::Doctype
        );
        assert!(matches!(p(b"<X>&a;</X>"), Err(XmlError::Malformed(_))));
        assert!(matches!(p(b"<X><Y></X>"), Err(XmlError::Malformed(_))));
        assert!(matches!(p(b"<X></X><Y/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(p(b"<X>"), Err(XmlError::Malformed(_))));
        assert!(matches!(p(b""), Err(XmlError::Malformed(_))));
        assert!(matches!(
            p(b"<?xml version=\"1.0\" encoding=\"EBCDIC\"?><X/>"),
            Err(XmlError::UnsupportedEncoding(_))
        ));
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(p(deep.as_bytes()).unwrap_err(), XmlError::TooDeep(16));
        let big = vec![b' '; 2 * 1024 * 1024];
        assert!(matches!(p(&big), Err(XmlError::TooLarge { .. })));
    }

    #[test]
    fn emitter_writes_xml_and_json_from_one_call_sequence() {
        let write = |form| {
            let mut e = Emitter::new(form);
            e.start("XmlMsg");
            e.leaf("A", "x<y");
            e.opt("B", None);
            e.start_list("R");
            for v in ["1", "2"] {
                e.start("R");
                e.leaf("V", v);
                e.end();
            }
            e.end_list();
            e.end();
            e.finish()
        };
        let xml = String::from_utf8(write(OutputForm::Xml(Encoding::Utf8))).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>"));
        assert!(xml.contains("<A>x&lt;y</A>"));
        assert!(!xml.contains("<B>"));
        assert_eq!(xml.matches("<R>").count(), 2);
        let json: serde_json::Value = serde_json::from_slice(&write(OutputForm::Json)).unwrap();
        assert_eq!(json["XmlMsg"]["A"], "x<y");
        assert_eq!(json["XmlMsg"]["R"][1]["V"], "2");
        // And the JSON parses back into the same tree shape.
        let tree = from_json(&json).unwrap();
        assert_eq!(tree.children_named("R").count(), 2);
    }

    #[test]
    fn an_element_holding_only_repeated_elements_is_an_array_of_one_member_objects() {
        let write = |form| {
            let mut e = Emitter::new(form);
            e.start("XmlMsg");
            e.start("ResultList");
            e.start_list("Result");
            for v in ["1", "2"] {
                e.start("Result");
                e.leaf("V", v);
                e.start("Inner");
                e.leaf("W", v);
                e.end();
                e.end();
            }
            e.end_list();
            e.end();
            e.leaf("Status", "1");
            e.end();
            e.finish()
        };
        let text = String::from_utf8(write(OutputForm::Json)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"XmlMsg": {
                "ResultList": [
                    {"Result": {"V": "1", "Inner": {"W": "1"}}},
                    {"Result": {"V": "2", "Inner": {"W": "2"}}}
                ],
                "Status": "1"
            }}),
            "{text}"
        );
        // A body of two runs and an element between them stays one array of one-member objects.
        let mut e = Emitter::new(OutputForm::Json);
        e.start("MessageBody");
        e.start_list("M");
        e.start("M");
        e.leaf("V", "1");
        e.end();
        e.end_list();
        e.start("Other");
        e.start_list("N");
        e.start("N");
        e.leaf("V", "2");
        e.end();
        e.end_list();
        e.end();
        e.leaf("Flag", "x");
        e.end();
        let body: serde_json::Value = serde_json::from_slice(&e.finish()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"MessageBody": [
                {"M": {"V": "1"}},
                {"Other": [{"N": {"V": "2"}}]},
                {"Flag": "x"}
            ]})
        );
        // Read back into the tree the XML gives.
        let tree = from_json(&json).unwrap();
        let list = tree.child("ResultList").unwrap();
        let values: Vec<_> = list
            .children_named("Result")
            .map(|r| r.value("V").unwrap().to_string())
            .collect();
        assert_eq!(values, ["1", "2"]);
    }

    #[test]
    fn shift_jis_output_escapes_unmappable_characters() {
        let bytes = Encoding::ShiftJis.encode("𠮷野家");
        let text = SHIFT_JIS.decode(&bytes).0;
        assert!(text.starts_with("&#"));
    }
}
