//! The five workflow events in their flat JSON form, read without copying.
//!
//! Producers already write these objects (the seed simulator's format), so the wire
//! format is fixed: a `type` field beside `txn_id`, `ts_ms` and the rest. Parsing
//! borrows every string from the line unless it holds an escape, and a failure says
//! what is wrong (not UTF-8, not JSON, missing field, wrong type) so tools can report
//! it with the file and line.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The kind of an event, from its `type` field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    TransactionOpen,
    StepOpen,
    StepDone,
    InterStepWait,
    TransactionClose,
    /// A `type` this version does not know. Counted by the tools, never fatal.
    #[default]
    Unknown,
}

impl EventType {
    /// The five known types, in the order reports list them.
    pub const KNOWN: [EventType; 5] = [
        EventType::TransactionOpen,
        EventType::StepOpen,
        EventType::StepDone,
        EventType::InterStepWait,
        EventType::TransactionClose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TransactionOpen => "transaction_open",
            EventType::StepOpen => "step_open",
            EventType::StepDone => "step_done",
            EventType::InterStepWait => "inter_step_wait",
            EventType::TransactionClose => "transaction_close",
            EventType::Unknown => "unknown",
        }
    }

    pub fn from_name(name: &str) -> EventType {
        match name {
            "transaction_open" => EventType::TransactionOpen,
            "step_open" => EventType::StepOpen,
            "step_done" => EventType::StepDone,
            "inter_step_wait" => EventType::InterStepWait,
            "transaction_close" => EventType::TransactionClose,
            _ => EventType::Unknown,
        }
    }

    /// A dense index (0..=5) for counting by type in an array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Step events name a step and must carry `step`.
    pub fn is_step(self) -> bool {
        matches!(self, EventType::StepOpen | EventType::StepDone)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a step or a transaction: `"ok"` or `"error"` on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event. Fields a type does not use are `None`; strings borrow from the input
/// line where they can.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event<'a> {
    pub kind: EventType,
    pub txn_id: Cow<'a, str>,
    pub ts_ms: i64,
    pub workflow: Option<Cow<'a, str>>,
    pub step: Option<Cow<'a, str>>,
    pub step_index: Option<u32>,
    pub duration_ms: Option<i64>,
    pub status: Option<Status>,
    pub error: Option<Cow<'a, str>>,
    pub from_step: Option<Cow<'a, str>>,
    pub to_step: Option<Cow<'a, str>>,
    pub planned_wait_ms: Option<i64>,
    pub outlier_injected: Option<bool>,
}

impl<'a> Event<'a> {
    /// A bare event of `kind` for `txn_id` at `ts_ms`; set the other fields directly.
    pub fn new(kind: EventType, txn_id: impl Into<Cow<'a, str>>, ts_ms: i64) -> Event<'a> {
        Event {
            kind,
            txn_id: txn_id.into(),
            ts_ms,
            ..Event::default()
        }
    }

    /// The same event owning its strings, to keep past its input line.
    pub fn into_owned(self) -> Event<'static> {
        let own = |c: Option<Cow<'a, str>>| c.map(|c| Cow::Owned(c.into_owned()));
        Event {
            kind: self.kind,
            txn_id: Cow::Owned(self.txn_id.into_owned()),
            ts_ms: self.ts_ms,
            workflow: own(self.workflow),
            step: own(self.step),
            step_index: self.step_index,
            duration_ms: self.duration_ms,
            status: self.status,
            error: own(self.error),
            from_step: own(self.from_step),
            to_step: own(self.to_step),
            planned_wait_ms: self.planned_wait_ms,
            outlier_injected: self.outlier_injected,
        }
    }

    /// The status a step_done or transaction_close stands for: its `status` field,
    /// or `error` when only an `error` field is present, else ok.
    pub fn effective_status(&self) -> Status {
        match (self.status, &self.error) {
            (Some(status), _) => status,
            (None, Some(_)) => Status::Error,
            (None, None) => Status::Ok,
        }
    }
}

/// Why a line is not an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The line is not valid UTF-8; `column` is the 1-based byte of the first bad one.
    NotUtf8 { column: usize },
    /// The line is not one JSON value (truncated, junk, trailing characters).
    NotJson { message: String, column: usize },
    /// Valid JSON, but not an object.
    NotObject { found: String },
    /// A required field is absent.
    MissingField(&'static str),
    /// A field holds the wrong JSON type or an impossible value.
    WrongType {
        field: &'static str,
        message: String,
    },
    /// A field appears twice in one object.
    DuplicateField(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotUtf8 { column } => {
                write!(f, "not UTF-8: invalid byte at column {column}")
            }
            ParseError::NotJson { message, column } => {
                write!(f, "not JSON: {message} at column {column}")
            }
            ParseError::NotObject { found } => write!(f, "not a JSON object: found {found}"),
            ParseError::MissingField(name) => write!(f, "missing field \"{name}\""),
            ParseError::WrongType { field, message } => write!(f, "field \"{field}\": {message}"),
            ParseError::DuplicateField(name) => write!(f, "duplicate field \"{name}\""),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses one line (without its line ending) into an event that borrows from it.
///
/// Leading and trailing ASCII white space, including a `\r` from CRLF files, is
/// ignored. Unknown fields are skipped; an unknown `type` parses as
/// [`EventType::Unknown`] without requiring the other fields.
pub fn parse_line(line: &[u8]) -> Result<Event<'_>, ParseError> {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) => {
            return Err(ParseError::NotUtf8 {
                column: e.valid_up_to() + 1,
            })
        }
    };
    let field = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text.trim_ascii());
    let event = EventSeed { field: &field }
        .deserialize(&mut de)
        .and_then(|ev| de.end().map(|()| ev));
    event.map_err(|e| classify(e, field.get()))
}

/// Turns serde_json's error into a [`ParseError`], dropping its "at line 1 column N"
/// suffix (every line is line 1 to it) in favour of our own column.
fn classify(e: serde_json::Error, field: Option<&'static str>) -> ParseError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    match e.classify() {
        serde_json::error::Category::Data => {
            if let Some(name) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                return ParseError::MissingField(static_field_name(name));
            }
            if let Some(name) = message
                .strip_prefix("duplicate field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                return ParseError::DuplicateField(static_field_name(name));
            }
            match field {
                Some(field) => ParseError::WrongType { field, message },
                None => ParseError::NotObject {
                    found: message
                        .strip_prefix("invalid type: ")
                        .and_then(|rest| rest.split(", expected").next())
                        .unwrap_or(&message)
                        .to_string(),
                },
            }
        }
        _ => ParseError::NotJson {
            message,
            column: e.column(),
        },
    }
}

/// Field names in errors are always ours; map back to the static spelling.
fn static_field_name(name: &str) -> &'static str {
    FIELDS.iter().copied().find(|f| *f == name).unwrap_or("?")
}

const FIELDS: [&str; 13] = [
    "type",
    "txn_id",
    "ts_ms",
    "workflow",
    "step",
    "step_index",
    "duration_ms",
    "status",
    "error",
    "from_step",
    "to_step",
    "planned_wait_ms",
    "outlier_injected",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    TxnId,
    TsMs,
    Workflow,
    Step,
    StepIndex,
    DurationMs,
    Status,
    Error,
    FromStep,
    ToStep,
    PlannedWaitMs,
    OutlierInjected,
    Other,
}

impl Field {
    fn from_name(name: &str) -> Field {
        match name {
            "type" => Field::Type,
            "txn_id" => Field::TxnId,
            "ts_ms" => Field::TsMs,
            "workflow" => Field::Workflow,
            "step" => Field::Step,
            "step_index" => Field::StepIndex,
            "duration_ms" => Field::DurationMs,
            "status" => Field::Status,
            "error" => Field::Error,
            "from_step" => Field::FromStep,
            "to_step" => Field::ToStep,
            "planned_wait_ms" => Field::PlannedWaitMs,
            "outlier_injected" => Field::OutlierInjected,
            _ => Field::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::Other => "?",
            f => FIELDS[f as usize],
        }
    }
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(Field::from_name(v))
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// A string that borrows from the input unless it had to be unescaped.
struct Str<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Str<'de>, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

/// An integer that must fit in i64 (floats and strings are wrong types).
struct Int(i64);

impl<'de> de::Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Int, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_i64(IntVisitor)
    }
}

struct StatusField(Status);

impl<'de> de::Deserialize<'de> for StatusField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusField, D::Error> {
        struct StatusVisitor;
        impl Visitor<'_> for StatusVisitor {
            type Value = StatusField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"ok\" or \"error\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusField, E> {
                match v {
                    "ok" => Ok(StatusField(Status::Ok)),
                    "error" => Ok(StatusField(Status::Error)),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        d.deserialize_str(StatusVisitor)
    }
}

/// Deserializes an event, noting in `field` which field's value is being read so a
/// type error can name it.
struct EventSeed<'c> {
    field: &'c Cell<Option<&'static str>>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Event<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Event<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event<'de>, A::Error> {
        let mut ev = Event::default();
        let mut kind: Option<EventType> = None;
        let mut txn_id: Option<Cow<'de, str>> = None;
        let mut ts_ms: Option<i64> = None;
        // One bit per field, to reject duplicates.
        let mut seen: u16 = 0;

        while let Some(key) = map.next_key::<Field>()? {
            if key == Field::Other {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let bit = 1u16 << (key as u16);
            if seen & bit != 0 {
                return Err(de::Error::duplicate_field(key.name()));
            }
            seen |= bit;
            self.field.set(Some(key.name()));
            match key {
                Field::Type => kind = Some(EventType::from_name(&map.next_value::<Str>()?.0)),
                Field::TxnId => txn_id = Some(map.next_value::<Str>()?.0),
                Field::TsMs => ts_ms = Some(map.next_value::<Int>()?.0),
                Field::Workflow => ev.workflow = opt_str(map.next_value()?),
                Field::Step => ev.step = opt_str(map.next_value()?),
                Field::StepIndex => {
                    ev.step_index = match map.next_value::<Option<Int>>()? {
                        None => None,
                        Some(Int(v)) => Some(u32::try_from(v).map_err(|_| {
                            de::Error::invalid_value(
                                de::Unexpected::Signed(v),
                                &"a step index from 0 to 4294967295",
                            )
                        })?),
                    }
                }
                Field::DurationMs => ev.duration_ms = map.next_value::<Option<Int>>()?.map(|i| i.0),
                Field::Status => ev.status = map.next_value::<Option<StatusField>>()?.map(|s| s.0),
                Field::Error => ev.error = opt_str(map.next_value()?),
                Field::FromStep => ev.from_step = opt_str(map.next_value()?),
                Field::ToStep => ev.to_step = opt_str(map.next_value()?),
                Field::PlannedWaitMs => {
                    ev.planned_wait_ms = map.next_value::<Option<Int>>()?.map(|i| i.0)
                }
                Field::OutlierInjected => ev.outlier_injected = map.next_value()?,
                Field::Other => {}
            }
            self.field.set(None);
        }

        let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
        ev.kind = kind;
        if kind == EventType::Unknown {
            ev.txn_id = txn_id.unwrap_or_default();
            ev.ts_ms = ts_ms.unwrap_or_default();
            return Ok(ev);
        }
        ev.txn_id = txn_id.ok_or_else(|| de::Error::missing_field("txn_id"))?;
        ev.ts_ms = ts_ms.ok_or_else(|| de::Error::missing_field("ts_ms"))?;
        if kind.is_step() && ev.step.is_none() {
            return Err(de::Error::missing_field("step"));
        }
        Ok(ev)
    }
}

fn opt_str(v: Option<Str<'_>>) -> Option<Cow<'_, str>> {
    v.map(|s| s.0)
}

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.kind.as_str())?;
        m.serialize_entry("txn_id", &self.txn_id)?;
        m.serialize_entry("ts_ms", &self.ts_ms)?;
        if let Some(v) = &self.workflow {
            m.serialize_entry("workflow", v)?;
        }
        if let Some(v) = &self.step {
            m.serialize_entry("step", v)?;
        }
        if let Some(v) = self.step_index {
            m.serialize_entry("step_index", &v)?;
        }
        if let Some(v) = self.duration_ms {
            m.serialize_entry("duration_ms", &v)?;
        }
        if let Some(v) = self.status {
            m.serialize_entry("status", v.as_str())?;
        }
        if let Some(v) = &self.error {
            m.serialize_entry("error", v)?;
        }
        if let Some(v) = &self.from_step {
            m.serialize_entry("from_step", v)?;
        }
        if let Some(v) = &self.to_step {
            m.serialize_entry("to_step", v)?;
        }
        if let Some(v) = self.planned_wait_ms {
            m.serialize_entry("planned_wait_ms", &v)?;
        }
        if let Some(v) = self.outlier_injected {
            m.serialize_entry("outlier_injected", &v)?;
        }
        m.end()
    }
}

/// Appends `event` as one JSON line (with its `\n`) to `out`.
pub fn write_line(out: &mut Vec<u8>, event: &Event<'_>) {
    // Writing into a Vec cannot fail, and every field serializes.
    if serde_json::to_writer(&mut *out, event).is_ok() {
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        match parse_line(line.as_bytes()) {
            Ok(ev) => panic!("parsed: {ev:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_every_field_and_borrows() {
        let line = br#"{"type":"step_done","txn_id":"t1","ts_ms":1700000000123,"workflow":"checkout","step":"charge_card","step_index":2,"duration_ms":345,"status":"error","error":"CardDeclined","extra":{"a":[1,2]}}"#;
        let ev = parse_line(line).unwrap();
        assert_eq!(ev.kind, EventType::StepDone);
        assert!(matches!(ev.txn_id, Cow::Borrowed("t1")));
        assert_eq!(ev.ts_ms, 1_700_000_000_123);
        assert_eq!(ev.workflow.as_deref(), Some("checkout"));
        assert_eq!(ev.step.as_deref(), Some("charge_card"));
        assert_eq!(ev.step_index, Some(2));
        assert_eq!(ev.duration_ms, Some(345));
        assert_eq!(ev.status, Some(Status::Error));
        assert_eq!(ev.error.as_deref(), Some("CardDeclined"));
    }

    #[test]
    fn escaped_strings_are_owned_and_unescaped() {
        let ev = parse_line(br#"{"type":"transaction_open","txn_id":"a\"b","ts_ms":1}"#).unwrap();
        assert_eq!(ev.txn_id, "a\"b");
        assert!(matches!(ev.txn_id, Cow::Owned(_)));
    }

    #[test]
    fn round_trips_through_write_line() {
        let line = r#"{"type":"inter_step_wait","txn_id":"t9","ts_ms":5,"from_step":"a","to_step":"b","planned_wait_ms":1500,"outlier_injected":false}"#;
        let ev = parse_line(line.as_bytes()).unwrap();
        let mut out = Vec::new();
        write_line(&mut out, &ev);
        assert_eq!(out, format!("{line}\n").into_bytes());
    }

    #[test]
    fn unknown_type_needs_no_other_field() {
        let ev = parse_line(br#"{"type":"heartbeat"}"#).unwrap();
        assert_eq!(ev.kind, EventType::Unknown);
    }

    #[test]
    fn nulls_are_absent_optional_fields() {
        let ev =
            parse_line(br#"{"type":"step_done","txn_id":"t","ts_ms":1,"step":"s","error":null}"#)
                .unwrap();
        assert_eq!(ev.error, None);
        assert_eq!(ev.effective_status(), Status::Ok);
    }

    #[test]
    fn crlf_and_spaces_are_trimmed() {
        assert!(parse_line(b" {\"type\":\"x\"}\r").is_ok());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(err("hello"), "not JSON: expected value at column 1");
        assert_eq!(
            err(r#"{"type":"transaction_open","txn_id":"t","#),
            "not JSON: EOF while parsing a value at column 40"
        );
        assert_eq!(
            err(r#"{"type":"step_open","txn_id":"t","ts_ms":1,"step":"s"} x"#),
            "not JSON: trailing characters at column 56"
        );
        assert_eq!(err("[1,2]"), "not a JSON object: found sequence");
        assert_eq!(
            err(r#"{"type":"transaction_open","txn_id":"t"}"#),
            "missing field \"ts_ms\""
        );
        assert_eq!(err(r#"{"txn_id":"t","ts_ms":1}"#), "missing field \"type\"");
        assert_eq!(
            err(r#"{"type":"step_open","txn_id":"t","ts_ms":1}"#),
            "missing field \"step\""
        );
        assert_eq!(
            err(r#"{"type":"transaction_open","txn_id":"t","ts_ms":"soon"}"#),
            "field \"ts_ms\": invalid type: string \"soon\", expected an integer"
        );
        assert_eq!(
            err(r#"{"type":"transaction_open","txn_id":"t","ts_ms":1.5}"#),
            "field \"ts_ms\": invalid type: floating point `1.5`, expected an integer"
        );
        assert_eq!(
            err(r#"{"type":"transaction_open","txn_id":7,"ts_ms":1}"#),
            "field \"txn_id\": invalid type: integer `7`, expected a string"
        );
        assert_eq!(
            err(r#"{"type":"step_done","txn_id":"t","ts_ms":1,"step":"s","status":"fine"}"#),
            "field \"status\": invalid value: string \"fine\", expected \"ok\" or \"error\""
        );
        assert_eq!(
            err(r#"{"type":"step_open","txn_id":"t","ts_ms":1,"ts_ms":2,"step":"s"}"#),
            "duplicate field \"ts_ms\""
        );
        assert_eq!(
            parse_line(b"{\"type\":\"step_open\",\"txn_id\":\"\xff\"}")
                .unwrap_err()
                .to_string(),
            "not UTF-8: invalid byte at column 31"
        );
    }
}
