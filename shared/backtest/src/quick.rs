//! The fastest read of a record: walk its JSON once, keep the dozen top-level fields the
//! prefilter reads (strings without escapes, `readOnly`), and jump over everything else
//! (strings by a byte search for the closing quote, containers 64 bytes at a time:
//! `skip.rs`). No allocation,
//! no validation of the parts it jumps over: a record is validated when it is decided, and
//! anything unusual (an escape in a kept field, a kept field that is not a string) is left
//! to serde by answering [`Quick::Other`].

use trailguard_rules::prefilter;

/// The fields kept, borrowed from the record's bytes: what the prefilter reads, and what the
/// filters read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a> {
    pub record: prefilter::Summary<'a>,
    pub event_time: Option<&'a str>,
    pub aws_region: Option<&'a str>,
    pub recipient_account_id: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Quick<'a> {
    /// The record's fields, and its length in bytes.
    Record(Fields<'a>, usize),
    /// The bytes end inside the record.
    NeedMore,
    /// Not a record this reader takes: serde reads it.
    Other,
}

enum Err {
    End,
    Other,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) -> Result<u8, Err> {
        while let Some(&c) = self.b.get(self.i) {
            if c.is_ascii_whitespace() {
                self.i += 1;
            } else {
                return Ok(c);
            }
        }
        Err(Err::End)
    }

    fn eat(&mut self, want: u8) -> Result<(), Err> {
        if self.ws()? == want {
            self.i += 1;
            Ok(())
        } else {
            Err(Err::Other)
        }
    }

    /// A string at `i` (the opening quote): its contents, and whether it has escapes.
    fn string(&mut self) -> Result<(&'a [u8], bool), Err> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match memchr::memchr2(b'"', b'\\', &self.b[j..]) {
                Some(k) if self.b[j + k] == b'"' => {
                    self.i = j + k + 1;
                    return Ok((&self.b[start..j + k], escaped));
                }
                Some(k) => {
                    escaped = true;
                    j += k + 2;
                    if j > self.b.len() {
                        return Err(Err::End);
                    }
                }
                None => return Err(Err::End),
            }
        }
    }

    /// Jump over the value at `i`.
    fn skip(&mut self) -> Result<(), Err> {
        match self.ws()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => match crate::skip::container_end(self.b, self.i) {
                Some(end) => {
                    self.i = end;
                    Ok(())
                }
                None => Err(Err::End),
            },
            _ => {
                // A number or a literal: up to the next delimiter.
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        return Ok(());
                    }
                    self.i += 1;
                }
                Err(Err::End)
            }
        }
    }

    /// A kept string field: its text, or `Other` when it is not a plain string.
    fn text(&mut self) -> Result<Option<&'a str>, Err> {
        match self.ws()? {
            b'"' => {
                let (s, escaped) = self.string()?;
                if escaped {
                    return Err(Err::Other);
                }
                std::str::from_utf8(s).map(Some).map_err(|_| Err::Other)
            }
            b'n' => {
                self.skip()?;
                Ok(None)
            }
            _ => Err(Err::Other),
        }
    }

    /// The members of the object at `i`, each handed to `field` with its key.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &[u8]) -> Result<(), Err>,
    ) -> Result<(), Err> {
        self.eat(b'{')?;
        if self.ws()? == b'}' {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.ws()? != b'"' {
                return Err(Err::Other);
            }
            let (key, escaped) = self.string()?;
            if escaped {
                return Err(Err::Other);
            }
            self.eat(b':')?;
            field(self, key)?;
            match self.ws()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Err::Other),
            }
        }
    }
}

/// Read the record at the start of `b`.
pub fn read(b: &[u8]) -> Quick<'_> {
    let mut c = Cursor { b, i: 0 };
    let mut f = Fields::default();
    let r = c.object(|c, key| {
        match key {
            b"eventSource" => f.record.event_source = c.text()?,
            b"eventName" => f.record.event_name = c.text()?,
            b"eventType" => f.record.event_type = c.text()?,
            b"errorCode" => f.record.error_code = c.text()?,
            b"eventTime" => f.event_time = c.text()?,
            b"awsRegion" => f.aws_region = c.text()?,
            b"recipientAccountId" => f.recipient_account_id = c.text()?,
            b"readOnly" => {
                f.record.read_only = match c.ws()? {
                    b't' if c.b[c.i..].starts_with(b"true") => Some(true),
                    b'f' if c.b[c.i..].starts_with(b"false") => Some(false),
                    _ => return Err(Err::Other),
                };
                c.skip()?;
            }
            b"userIdentity" if c.ws()? == b'{' => c.object(|c, key| {
                match key {
                    b"type" => f.record.identity_type = c.text()?,
                    b"invokedBy" => f.record.invoked_by = c.text()?,
                    b"accessKeyId" => f.record.access_key_id = c.text()?,
                    b"arn" => f.record.arn = c.text()?,
                    _ => c.skip()?,
                }
                Ok(())
            })?,
            _ => c.skip()?,
        }
        Ok(())
    });
    match r {
        Ok(()) if f.record.event_name.is_some() => Quick::Record(f, c.i),
        Ok(()) => Quick::Other,
        Err(Err::End) => Quick::NeedMore,
        Err(Err::Other) => Quick::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_fields_and_finds_the_end() {
        let rec = br#"{"eventVersion": "1.10", "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/r/s", "sessionContext": {"a": [1, {"b": "}"}]}, "accessKeyId": "ASIAX"}, "eventTime": "2026-08-01T10:00:00Z", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "requestParameters": {"x": "a \"quoted\" ]"}, "readOnly": false, "errorCode": null, "n": -1.5e3} , {"next": 1}"#;
        let Quick::Record(f, end) = read(rec) else {
            panic!("{:?}", read(rec))
        };
        assert_eq!(&rec[end..end + 3], b" , ");
        assert_eq!(f.record.event_name, Some("RunInstances"));
        assert_eq!(f.record.event_source, Some("ec2.amazonaws.com"));
        assert_eq!(f.record.identity_type, Some("AssumedRole"));
        assert_eq!(f.record.access_key_id, Some("ASIAX"));
        assert_eq!(f.record.read_only, Some(false));
        assert_eq!(f.record.error_code, None);
        // Cut anywhere inside, it asks for more.
        for cut in [1, 10, 50, 200, end - 1] {
            assert_eq!(read(&rec[..cut]), Quick::NeedMore, "cut at {cut}");
        }
        // What it leaves to serde.
        assert_eq!(read(br#"{"eventName": "Run\u0049nstances"}"#), Quick::Other);
        assert_eq!(read(br#"{"eventName": 5}"#), Quick::Other);
        assert_eq!(read(br#"{"source": "aws.health"}"#), Quick::Other);
        assert_eq!(read(br#"[1]"#), Quick::Other);
        assert_eq!(
            read(br#"{"eventName": "X", "readOnly": "true"}"#),
            Quick::Other
        );
    }
}
