//! dqlite's wire protocol (dqlite.io, "Wire protocol"), protocol version 1: the messages a
//! client sends and the responses it reads. Encoding and decoding only; no I/O.
//!
//! A message is a header word (body size in words, little endian `u32`; type; schema
//! version; two unused bytes) and a body of 8-byte words. Integers are little-endian words;
//! a string is its bytes, a NUL, and zeros up to the next word; a blob is a length word and
//! its bytes padded to a word.

/// The protocol version this client speaks (sent as the first word of a connection).
pub const PROTOCOL_VERSION: u64 = 1;

/// Request types.
pub mod request {
    pub const LEADER: u8 = 0;
    pub const OPEN: u8 = 3;
    pub const EXEC_SQL: u8 = 8;
    pub const QUERY_SQL: u8 = 9;
}

/// Response types.
pub mod response {
    pub const FAILURE: u8 = 0;
    pub const NODE: u8 = 1;
    pub const DB: u8 = 4;
    pub const RESULT: u8 = 6;
    pub const ROWS: u8 = 7;
    pub const EMPTY: u8 = 8;
}

/// Column value type codes of a row (4 bits each in a row's header).
pub mod column {
    pub const INTEGER: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const TEXT: u8 = 3;
    pub const BLOB: u8 = 4;
    pub const NULL: u8 = 5;
    pub const UNIXTIME: u8 = 9;
    pub const ISO8601: u8 = 10;
    pub const BOOLEAN: u8 = 11;
}

/// The word that ends a result set.
pub const ROWS_DONE: u64 = 0xffff_ffff_ffff_ffff;
/// The word that ends one part of a result set: another ROWS message follows.
pub const ROWS_PART: u64 = 0xeeee_eeee_eeee_eeee;

/// A value as dqlite sends it. The three special types are SQLite values too: dqlite reports
/// an INTEGER in a `BOOLEAN` column as a boolean, a TEXT in a `DATETIME`/`DATE`/`TIMESTAMP`
/// column as ISO 8601 and an INTEGER there as Unix time.
#[derive(Debug, Clone, PartialEq)]
pub enum WireValue {
    Integer(i64),
    Float(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
    UnixTime(i64),
    Iso8601(String),
    Boolean(bool),
}

/// A message body being written.
#[derive(Default)]
pub struct Body(Vec<u8>);

impl Body {
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A string: bytes, NUL, zero padding to the next word. SQL text may not contain a NUL
    /// (SQLite would stop reading at it); the caller checks.
    pub fn string(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self.pad();
        self
    }

    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(8) {
            self.0.push(0);
        }
    }

    /// The whole message: header word and body.
    pub fn message(mut self, kind: u8, schema: u8) -> Vec<u8> {
        self.pad();
        let words = (self.0.len() / 8) as u32;
        let mut out = Vec::with_capacity(8 + self.0.len());
        out.extend_from_slice(&words.to_le_bytes());
        out.push(kind);
        out.push(schema);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.0);
        out
    }
}

/// A message's header: body length in bytes, type, schema version.
pub fn parse_header(h: [u8; 8]) -> (usize, u8, u8) {
    let words = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    (words * 8, h[4], h[5])
}

/// A response body being read. Every read checks the bounds: a short or malformed body is a
/// protocol error, never a panic.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

pub type Decoded<T> = Result<T, String>;

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "message body too short: {} byte(s) wanted at offset {} of {}",
                n,
                self.at,
                self.bytes.len()
            ));
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub fn u64(&mut self) -> Decoded<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    pub fn peek_u64(&self) -> Decoded<u64> {
        let mut r = Reader {
            bytes: self.bytes,
            at: self.at,
        };
        r.u64()
    }

    pub fn u32(&mut self) -> Decoded<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    pub fn i64(&mut self) -> Decoded<i64> {
        Ok(self.u64()? as i64)
    }

    pub fn f64(&mut self) -> Decoded<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    pub fn string(&mut self) -> Decoded<String> {
        let rest = &self.bytes[self.at..];
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err("unterminated string in message body".into());
        };
        let s = String::from_utf8_lossy(&rest[..nul]).into_owned();
        let len = (nul + 1).div_ceil(8) * 8;
        self.take(len)?;
        Ok(s)
    }

    pub fn blob(&mut self) -> Decoded<Vec<u8>> {
        let n = usize::try_from(self.u64()?).map_err(|_| "blob too long".to_string())?;
        let padded = n.div_ceil(8) * 8;
        let b = self.take(padded)?;
        Ok(b[..n].to_vec())
    }

    /// One row of `columns` values: a header of 4-bit type codes padded to a word, then the
    /// values.
    pub fn row(&mut self, columns: usize) -> Decoded<Vec<WireValue>> {
        let header_bytes = (columns * 4).div_ceil(64) * 8;
        let header = self.take(header_bytes)?;
        let mut row = Vec::with_capacity(columns);
        for i in 0..columns {
            let byte = header[i / 2];
            let code = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            row.push(match code {
                column::INTEGER => WireValue::Integer(self.i64()?),
                column::FLOAT => WireValue::Float(self.f64()?),
                column::TEXT => WireValue::Text(self.string()?),
                column::BLOB => WireValue::Blob(self.blob()?),
                column::NULL => {
                    self.u64()?;
                    WireValue::Null
                }
                column::UNIXTIME => WireValue::UnixTime(self.i64()?),
                column::ISO8601 => WireValue::Iso8601(self.string()?),
                column::BOOLEAN => WireValue::Boolean(self.u64()? != 0),
                other => return Err(format!("unknown column type code {other}")),
            });
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_nul_terminated_and_padded() {
        let m = Body::default().u64(7).string("abcdefg").message(9, 0);
        // header: 2 words
        assert_eq!(&m[..8], &[2, 0, 0, 0, 9, 0, 0, 0]);
        assert_eq!(&m[16..24], b"abcdefg\0");
        let m = Body::default().string("abcdefgh").message(9, 0);
        assert_eq!(m.len(), 8 + 16);
        let mut r = Reader::new(&m[8..]);
        assert_eq!(r.string().unwrap(), "abcdefgh");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn rows_decode_every_type() {
        // 3 columns: integer, text, null -> header byte 0x31, 0x05.
        let mut body = vec![0x31, 0x05, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&(-5i64).to_le_bytes());
        body.extend_from_slice(b"hi\0\0\0\0\0\0");
        body.extend_from_slice(&0u64.to_le_bytes());
        let mut r = Reader::new(&body);
        assert_eq!(
            r.row(3).unwrap(),
            vec![
                WireValue::Integer(-5),
                WireValue::Text("hi".into()),
                WireValue::Null
            ]
        );
        let mut short = Reader::new(&body[..12]);
        assert!(short.row(3).is_err());
    }
}
