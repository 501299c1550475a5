//! Reading a CloudTrail log file one record at a time, whatever its size: the decompressed
//! bytes stream through a buffer that holds at most one record beyond the current read, or,
//! for a gzip file decompressed whole (`gunzip.rs`), are read where they are.
//!
//! A log file is `{"Records": [record, record, ...]}` (other top-level keys are skipped);
//! an array of records or events, and a single record or event, are read too (the shapes
//! `trailguard decide` takes). The scanner finds where each element of the array ends,
//! tracking strings and nesting only (a byte search jumps through strings), and hands the
//! element's bytes to the caller, which parses them with serde_json from a slice: that is
//! the fast way to parse JSON with serde, and nothing but the current record is held.

use std::io::{self, Read};

use thiserror::Error;

/// How much is read from the decompressor at a time.
const CHUNK: usize = 256 * 1024;
/// No record is larger than this: CloudTrail's largest are about 256 KB; something much
/// larger is not a CloudTrail record, and reading on would only grow memory.
pub const MAX_RECORD: usize = 64 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("reading or decompressing failed: {0}")]
    Io(#[from] io::Error),
    #[error("not valid JSON at byte {at}: {problem}")]
    Shape { at: u64, problem: String },
}

/// The shape of what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"Records": [...]}`: a CloudTrail log file.
    Log,
    /// `[...]`: an array of records or events.
    Array,
    /// One record or event.
    Single,
}

struct Buf<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    /// Bytes consumed before `buf[0]` (for error positions).
    offset: u64,
    eof: bool,
    /// While set, the bytes from here on (in `buf`) are kept when the buffer is compacted: the
    /// scanner looks ahead and may come back to them.
    mark: Option<usize>,
}

impl<R: Read> Buf<R> {
    /// Make at least `n` bytes available from `pos` if the input has them; false at the end.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() - self.pos < n {
            if self.eof {
                return Ok(false);
            }
            let keep = self.mark.map_or(self.pos, |m| m.min(self.pos));
            if keep > 0 && keep >= self.buf.len() / 2 {
                self.buf.drain(..keep);
                self.offset += keep as u64;
                self.pos -= keep;
                self.mark = self.mark.map(|m| m - keep);
            }
            let len = self.buf.len();
            self.buf.resize(len + CHUNK, 0);
            let got = loop {
                match self.inner.read(&mut self.buf[len..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(len);
                        return Err(e);
                    }
                }
            };
            self.buf.truncate(len + got);
            if got == 0 {
                self.eof = true;
            }
        }
        Ok(true)
    }

    fn err(&self, at: usize, problem: impl Into<String>) -> ScanError {
        ScanError::Shape {
            at: self.offset + at as u64,
            problem: problem.into(),
        }
    }

    /// The next byte that is not white space, without consuming it.
    fn peek_token(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            if !self.fill(1)? {
                return Ok(None);
            }
            let b = self.buf[self.pos];
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                return Ok(Some(b));
            }
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), ScanError> {
        match self.peek_token()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(b) => Err(self.err(
                self.pos,
                format!("expected `{}`, found `{}`", want as char, b as char),
            )),
            None => Err(self.err(
                self.pos,
                format!("ended where `{}` was expected", want as char),
            )),
        }
    }

    /// The end (exclusive, relative to `pos`) of the JSON value starting at `pos`, reading
    /// more as needed. Strings and nesting are tracked; the value is validated by serde later.
    fn value_len(&mut self) -> Result<usize, ScanError> {
        let mut i = 0usize;
        let mut depth = 0usize;
        loop {
            if !self.fill(i + 1)? {
                return Err(self.err(self.pos + i, "the file ends inside a value (truncated?)"));
            }
            if i > MAX_RECORD {
                return Err(self.err(self.pos, format!("a value larger than {MAX_RECORD} bytes")));
            }
            let b = self.buf[self.pos + i];
            match b {
                b'"' => {
                    i += 1;
                    // Jump to the closing quote, skipping escaped characters.
                    loop {
                        if !self.fill(i + 1)? {
                            return Err(self
                                .err(self.pos + i, "the file ends inside a string (truncated?)"));
                        }
                        let hay = &self.buf[self.pos + i..];
                        match memchr::memchr2(b'"', b'\\', hay) {
                            Some(k) if hay[k] == b'"' => {
                                i += k + 1;
                                break;
                            }
                            Some(k) => {
                                // An escape: skip it and the character it escapes.
                                i += k + 2;
                            }
                            None => {
                                i += hay.len();
                                if !self.fill(i + 1)? {
                                    return Err(self.err(
                                        self.pos + i,
                                        "the file ends inside a string (truncated?)",
                                    ));
                                }
                            }
                        }
                    }
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    i += 1;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        return Err(self.err(self.pos + i, format!("unexpected `{}`", b as char)));
                    }
                    depth -= 1;
                    i += 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ if depth == 0 => {
                    // A scalar at the top: up to the next delimiter.
                    let mut j = i;
                    loop {
                        if !self.fill(j + 1)? {
                            return Ok(j);
                        }
                        let c = self.buf[self.pos + j];
                        if matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace() {
                            return Ok(j);
                        }
                        j += 1;
                    }
                }
                _ => i += 1,
            }
        }
    }

    /// Consume and return the value at `pos`.
    fn take_value(&mut self) -> Result<(usize, usize), ScanError> {
        self.peek_token()?;
        let n = self.value_len()?;
        let start = self.pos;
        self.pos += n;
        Ok((start, start + n))
    }
}

/// What a caller's parser made of the bytes at the start of a record.
pub enum Step {
    /// It read a whole record of this many bytes (and dealt with it).
    Used(usize),
    /// The buffer ends inside the record: read more and ask again.
    NeedMore,
    /// It cannot read this record: the scanner finds its end and hands it to `each`.
    Scan,
}

/// Call `each` with the bytes of every record (or event) in `input`, in order. Returns the
/// shape and the number of records.
pub fn for_each_record<R: Read>(
    input: R,
    each: impl FnMut(&[u8]),
) -> Result<(Shape, u64), ScanError> {
    for_each_element(input, |_, _| Step::Scan, each)
}

/// [`for_each_record`], letting `parse` read each record of a log file straight from the
/// buffer first (one pass over its bytes: the parser finds where it ends); a record it cannot
/// read goes through the scanner to `each`.
pub fn for_each_element<R: Read>(
    input: R,
    parse: impl FnMut(&[u8], bool) -> Step,
    each: impl FnMut(&[u8]),
) -> Result<(Shape, u64), ScanError> {
    let mut b = Buf {
        inner: input,
        buf: Vec::with_capacity(CHUNK * 2),
        pos: 0,
        offset: 0,
        eof: false,
        mark: None,
    };
    elements(&mut b, parse, each)
}

/// [`for_each_element`] over a file already whole in memory (a gzip file decompressed at
/// once): the records are read where they are, nothing is copied into a read buffer. The
/// bytes are left in `whole` (its allocation is reused for the next file).
pub fn for_each_element_in(
    whole: &mut Vec<u8>,
    parse: impl FnMut(&[u8], bool) -> Step,
    each: impl FnMut(&[u8]),
) -> Result<(Shape, u64), ScanError> {
    let mut b = Buf {
        inner: io::empty(),
        buf: std::mem::take(whole),
        pos: 0,
        offset: 0,
        eof: true,
        mark: None,
    };
    let result = elements(&mut b, parse, each);
    *whole = b.buf;
    result
}

fn elements<R: Read>(
    b: &mut Buf<R>,
    mut parse: impl FnMut(&[u8], bool) -> Step,
    mut each: impl FnMut(&[u8]),
) -> Result<(Shape, u64), ScanError> {
    let mut n = 0u64;
    let array = |b: &mut Buf<R>,
                 parse: &mut dyn FnMut(&[u8], bool) -> Step,
                 each: &mut dyn FnMut(&[u8]),
                 n: &mut u64|
     -> Result<(), ScanError> {
        b.expect(b'[')?;
        if b.peek_token()? == Some(b']') {
            b.pos += 1;
            return Ok(());
        }
        loop {
            b.peek_token()?;
            match parse(&b.buf[b.pos..], b.eof) {
                Step::Used(used) => b.pos += used,
                Step::NeedMore if !b.eof => {
                    let have = b.buf.len() - b.pos;
                    if have > MAX_RECORD {
                        return Err(b.err(b.pos, format!("a value larger than {MAX_RECORD} bytes")));
                    }
                    b.fill(have + 1)?;
                    continue;
                }
                _ => {
                    let (s, e) = b.take_value()?;
                    each(&b.buf[s..e]);
                }
            }
            *n += 1;
            match b.peek_token()? {
                Some(b',') => b.pos += 1,
                Some(b']') => {
                    b.pos += 1;
                    return Ok(());
                }
                Some(c) => {
                    return Err(b.err(
                        b.pos,
                        format!("expected `,` or `]` between records, found `{}`", c as char),
                    ))
                }
                None => return Err(b.err(b.pos, "the file ends inside the records (truncated?)")),
            }
        }
    };
    let shape = match b.peek_token()? {
        None => return Err(b.err(0, "empty")),
        Some(b'[') => {
            array(b, &mut parse, &mut each, &mut n)?;
            Shape::Array
        }
        Some(b'{') => {
            // A log file's first key is `Records`; anything else is read whole (one event,
            // or a file whose `Records` comes later, which is rare and small).
            // The object's start stays in the buffer while its first key is read: reading it
            // may compact the buffer, and anything but a log file is read again from here.
            b.mark = Some(b.pos);
            b.pos += 1;
            let first_key = match b.peek_token()? {
                Some(b'"') => {
                    let (s, e) = b.take_value()?;
                    Some(b.buf[s..e].to_vec())
                }
                _ => None,
            };
            let start = b.mark.take().unwrap_or(0);
            if first_key.as_deref() == Some(b"\"Records\"") {
                b.expect(b':')?;
                array(b, &mut parse, &mut each, &mut n)?;
                // The rest of the object: other keys, skipped.
                loop {
                    match b.peek_token()? {
                        Some(b',') => {
                            b.pos += 1;
                            b.take_value()?;
                            b.expect(b':')?;
                            b.take_value()?;
                        }
                        Some(b'}') => {
                            b.pos += 1;
                            break;
                        }
                        _ => return Err(b.err(b.pos, "the log object is not closed (truncated?)")),
                    }
                }
                Shape::Log
            } else {
                b.pos = start;
                let (s, e) = b.take_value()?;
                let whole = b.buf[s..e].to_vec();
                // `{"...": ..., "Records": [...]}`: a log file with its keys in another order.
                match serde_json::from_slice::<serde_json::Value>(&whole) {
                    Ok(serde_json::Value::Object(mut o))
                        if o.get("Records").is_some_and(|r| r.is_array()) =>
                    {
                        if let Some(serde_json::Value::Array(records)) = o.remove("Records") {
                            for r in records {
                                each(&serde_json::to_vec(&r).unwrap_or_default());
                                n += 1;
                            }
                        }
                        Shape::Log
                    }
                    _ => {
                        each(&whole);
                        n += 1;
                        Shape::Single
                    }
                }
            }
        }
        Some(c) => {
            return Err(b.err(
                b.pos,
                format!("starts with `{}`, not a JSON object or array", c as char),
            ))
        }
    };
    if let Some(c) = b.peek_token()? {
        return Err(b.err(b.pos, format!("`{}` after the end of the JSON", c as char)));
    }
    Ok((shape, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<(Shape, Vec<String>), ScanError> {
        let mut out = vec![];
        let (shape, n) = for_each_record(text.as_bytes(), |r| {
            out.push(String::from_utf8_lossy(r).into_owned())
        })?;
        assert_eq!(n as usize, out.len());
        Ok((shape, out))
    }

    /// A file whole in memory is read as the same file streamed a few bytes at a time: the
    /// same records, the same shape, the same error at the same byte, with a parser that
    /// asks for more while a record is incomplete (as the backtest's does).
    #[test]
    fn whole_files_read_as_streamed_ones() {
        struct Drip<'a>(&'a [u8], usize);
        impl Read for Drip<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 += 1;
                let n = (1 + self.1 % 7).min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        fn read_with(
            run: impl FnOnce(&mut dyn FnMut(&[u8], bool) -> Step, &mut dyn FnMut(&[u8])) -> String,
        ) -> (String, Vec<String>) {
            let got = std::cell::RefCell::new(vec![]);
            let mut parse = |rest: &[u8], eof: bool| {
                let mut it =
                    serde_json::Deserializer::from_slice(rest).into_iter::<serde_json::Value>();
                match it.next() {
                    Some(Ok(_)) if rest.first() == Some(&b'{') => {
                        let n = it.byte_offset();
                        got.borrow_mut()
                            .push(format!("parsed {}", String::from_utf8_lossy(&rest[..n])));
                        Step::Used(n)
                    }
                    Some(Err(e)) if e.is_eof() && !eof => Step::NeedMore,
                    _ => Step::Scan,
                }
            };
            let mut each = |r: &[u8]| {
                got.borrow_mut()
                    .push(String::from_utf8_lossy(r).into_owned())
            };
            let result = run(&mut parse, &mut each);
            (result, got.into_inner())
        }
        for text in [
            r#" {"Records": [ {"a": "x\"}]", "b": [1, {"c": 2}]} , {"d": "\\"}, 7 ] } "#,
            r#"[{"a": 1},{"b": 2}]"#,
            r#"{"eventName": "X"}"#,
            r#"{"x": 1, "Records": [{"a": 1}], "digest": {"k": [1]}}"#,
            r#"{"Records": [{"a": 1}, {"b": "#,
            r#"{"Records": [{"a": 1}] } x"#,
            "",
        ] {
            let streamed = read_with(|parse, each| {
                format!(
                    "{:?}",
                    for_each_element(Drip(text.as_bytes(), 0), parse, each)
                )
            });
            let mut whole = text.as_bytes().to_vec();
            let in_place = read_with(|parse, each| {
                format!("{:?}", for_each_element_in(&mut whole, parse, each))
            });
            assert_eq!(streamed, in_place, "{text}");
            assert_eq!(whole, text.as_bytes(), "the bytes are left in place");
        }
        // Not vacuous: records were parsed, and a truncated file is an error.
        let (_, got) = read_with(|parse, each| {
            format!(
                "{:?}",
                for_each_element(Drip(br#"[{"a": 1}, 2]"#, 0), parse, each)
            )
        });
        assert_eq!(got, [r#"parsed {"a": 1}"#, "2"]);
    }

    #[test]
    fn log_files_arrays_and_single_events() {
        let (s, r) =
            records(r#" {"Records": [ {"a": "x\"}]", "b": [1, {"c": 2}]} , {"d": "\\"} ] } "#)
                .unwrap();
        assert_eq!(s, Shape::Log);
        assert_eq!(
            r,
            [r#"{"a": "x\"}]", "b": [1, {"c": 2}]}"#, r#"{"d": "\\"}"#]
        );
        assert_eq!(records(r#"{"Records": []}"#).unwrap().1.len(), 0);
        assert_eq!(
            records(r#"[{"a": 1},{"b": 2}]"#).unwrap(),
            (
                Shape::Array,
                vec![r#"{"a": 1}"#.into(), r#"{"b": 2}"#.into()]
            )
        );
        assert_eq!(records(r#"{"eventName": "X"}"#).unwrap().0, Shape::Single);
        let (s, r) = records(r#"{"x": 1, "Records": [{"a": 1}]}"#).unwrap();
        assert_eq!((s, r.len()), (Shape::Log, 1));
        // Trailing keys after Records are skipped.
        assert_eq!(
            records(r#"{"Records": [{"a": 1}], "digest": {"k": [1]}}"#)
                .unwrap()
                .1
                .len(),
            1
        );
    }

    #[test]
    fn truncated_and_foreign_input_are_errors_with_a_position() {
        for bad in [
            r#"{"Records": [{"a": 1}, {"b": "#,
            r#"{"Records": [{"a": "unterminated"#,
            "",
            "hello",
            r#"{"Records": [1] "#,
            r#"[{"a":1}] x"#,
        ] {
            let e = records(bad).unwrap_err().to_string();
            assert!(e.contains("byte") || e.contains("empty"), "{bad}: {e}");
        }
    }

    #[test]
    fn records_across_chunk_boundaries() {
        let rec = format!(
            r#"{{"eventName": "{}", "n": "\\\"{}"}}"#,
            "x".repeat(CHUNK / 3),
            "y".repeat(1000)
        );
        let text = format!(r#"{{"Records": [{}]}}"#, [rec.as_str(); 9].join(","));
        let (_, r) = records(&text).unwrap();
        assert_eq!(r.len(), 9);
        assert!(r.iter().all(|x| x == &rec));
    }
}
