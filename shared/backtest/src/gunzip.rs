//! A CloudTrail log file's gzip, decompressed whole by libdeflate: about twice zlib-rs's
//! streaming speed on these files (BENCHMARKS.md, "Backtest"), which is what a gzip archive's
//! backtest spends a third of its time on. CloudTrail writes each file as one gzip member of a
//! few megabytes, so the whole file fits in memory. Anything else is left to the streaming
//! decoder (flate2), which reads it as before and names the error: several members, a trailer
//! that does not match, corrupt data, a file larger than [`WHOLE_MAX`]. So, as a cautious
//! choice, is a header with a checksum (libdeflate skips it unchecked), a comment, extra
//! fields or a name longer than [`MAX_NAME`]: only a plain header, or one with a short file
//! name, is read here.
//!
//! Within the deflate data libdeflate accepts a little more than zlib does (a few codes zlib
//! calls invalid, which no compressor writes): such a crafted member is read here where the
//! streaming decoder would skip the file as corrupt. It still has to match the CRC-32 and
//! size in its trailer.
//!
//! The one `unsafe` block is the call into libdeflate: `tests::agrees_with_the_streaming_decoder`
//! fuzzes it against flate2's `MultiGzDecoder` (single and concatenated members, truncations,
//! flipped bytes, plain headers followed by random bytes), and the unit tests forge trailers
//! and headers.

use std::io::{self, BufRead, Read};

use crate::scan::{self, ScanError, Shape, Step};

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// A file that says it decompresses to more than this is streamed: the memory a worker
/// holds stays bounded (CloudTrail's files are a few megabytes).
pub const WHOLE_MAX: usize = 8 << 20;

/// gzip's smallest member: a 10-byte header, an empty deflate block, the 8-byte trailer.
const MIN_MEMBER: usize = 20;

/// The longest file name the header may carry on the fast path (CloudTrail's are about 80
/// bytes); a longer one is streamed.
pub const MAX_NAME: usize = 1024;

/// libdeflate's decompressor (about 10 KB of tables), freed when dropped.
struct Decompressor(*mut libdeflate_decompressor);

impl Decompressor {
    fn new() -> Option<Decompressor> {
        // SAFETY: allocating has no precondition; a null result (no memory) is not wrapped.
        let p = unsafe { libdeflate_alloc_decompressor() };
        (!p.is_null()).then_some(Decompressor(p))
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor, is not null (see
        // `new`), and is freed once.
        unsafe { libdeflate_free_decompressor(self.0) }
    }
}

/// Whether the member's header is one both decoders read alike: no flags but FTEXT and FNAME,
/// and a name that ends within [`MAX_NAME`] bytes.
fn plain_header(data: &[u8]) -> bool {
    const FTEXT: u8 = 0x01;
    const FNAME: u8 = 0x08;
    let flags = data[3];
    if data[2] != 8 || flags & !(FTEXT | FNAME) != 0 {
        return false;
    }
    flags & FNAME == 0
        || data
            .get(10..)
            .is_some_and(|rest| memchr::memchr(0, &rest[..rest.len().min(MAX_NAME + 1)]).is_some())
}

thread_local! {
    /// Each worker's two buffers (the compressed file, the decompressed one), kept from file to
    /// file: a fresh allocation of a few megabytes per file cost page faults and zeroing
    /// (about 3 % of a gzip backtest's time). Each is given back with a capacity of at most
    /// WHOLE_MAX (+1), so a worker holds at most about 16 MiB between files.
    static SPARE: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Whether `data` is exactly one gzip member with a plain header that decompresses to the
/// size its trailer states, at most [`WHOLE_MAX`]; if so its bytes are in `out` (cleared
/// first; left empty otherwise).
fn whole_into(data: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if data.len() < MIN_MEMBER || !data.starts_with(&[0x1f, 0x8b]) || !plain_header(data) {
        return false;
    }
    let size = u32::from_le_bytes([
        data[data.len() - 4],
        data[data.len() - 3],
        data[data.len() - 2],
        data[data.len() - 1],
    ]) as usize;
    if size == 0 || size > WHOLE_MAX {
        return false;
    }
    let Some(d) = Decompressor::new() else {
        return false;
    };
    out.reserve_exact(size);
    let (mut used_in, mut used_out) = (0usize, 0usize);
    // SAFETY: `data` is a live slice passed with its length; `out` has room for `size` bytes
    // past its (zero) length and nothing else refers to it. libdeflate reads at most
    // `data.len()` bytes, writes at most `size`, and writes the two counts through pointers to
    // locals. The decompressor is not shared.
    let result = unsafe {
        libdeflate_gzip_decompress_ex(
            d.0,
            data.as_ptr().cast(),
            data.len(),
            out.spare_capacity_mut().as_mut_ptr().cast(),
            size,
            &mut used_in,
            &mut used_out,
        )
    };
    // One member that ends where the file ends (libdeflate stops after the first member and
    // would otherwise drop the rest), and the size the trailer promised.
    if result == libdeflate_result_LIBDEFLATE_SUCCESS && used_in == data.len() && used_out == size {
        // SAFETY: on success libdeflate wrote `used_out` (= size, within the capacity) bytes
        // from the start of the spare capacity.
        unsafe { out.set_len(used_out) };
        true
    } else {
        false
    }
}

/// A file's bytes, ready to scan: decompressed at once, or a reader.
pub enum Decompressed<'a> {
    /// One gzip member of at most [`WHOLE_MAX`] bytes, decompressed.
    Whole(Vec<u8>),
    /// Anything else: plain bytes as they are, other gzip streamed.
    Stream(Box<dyn Read + 'a>),
}

impl Decompressed<'_> {
    /// [`scan::for_each_element`] over these bytes (read in place when whole).
    pub fn for_each_element(
        self,
        parse: impl FnMut(&[u8], bool) -> Step,
        each: impl FnMut(&[u8]),
    ) -> Result<(Shape, u64), ScanError> {
        match self {
            Decompressed::Whole(mut bytes) => {
                let result = scan::for_each_element_in(&mut bytes, parse, each);
                SPARE.with(|s| s.borrow_mut().1 = bytes);
                result
            }
            Decompressed::Stream(reader) => scan::for_each_element(reader, parse, each),
        }
    }
}

/// A file's bytes, decompressed when they start with gzip's magic bytes (CloudTrail writes
/// `.json.gz`; the name is not trusted). A file of one member up to [`WHOLE_MAX`] is
/// decompressed at once; the rest is streamed.
pub fn decompressing<'a, R: BufRead + 'a>(mut input: R) -> io::Result<Decompressed<'a>> {
    if !input.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        return Ok(Decompressed::Stream(Box::new(input)));
    }
    let (mut gz, mut plain) = SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()));
    gz.clear();
    // At most WHOLE_MAX compressed bytes are held: a larger file is streamed from what was
    // read followed by the rest.
    let read = (&mut input).take(WHOLE_MAX as u64 + 1).read_to_end(&mut gz);
    if let Err(e) = read {
        // The bytes read so far, then the error, through the streaming decoder: the records
        // before the failure are counted and the error is the scanner's, as before.
        SPARE.with(|s| s.borrow_mut().1 = plain);
        return Ok(Decompressed::Stream(Box::new(
            flate2::bufread::MultiGzDecoder::new(io::Cursor::new(gz).chain(Failed::new(e))),
        )));
    }
    if gz.len() <= WHOLE_MAX && whole_into(&gz, &mut plain) {
        gz.shrink_to(WHOLE_MAX + 1);
        SPARE.with(|s| s.borrow_mut().0 = gz);
        return Ok(Decompressed::Whole(plain));
    }
    SPARE.with(|s| s.borrow_mut().1 = plain);
    Ok(Decompressed::Stream(Box::new(
        flate2::bufread::MultiGzDecoder::new(io::Cursor::new(gz).chain(input)),
    )))
}

/// A reader whose every read fails with the error the file's read failed with.
struct Failed(io::ErrorKind, String);

impl Failed {
    fn new(e: io::Error) -> Failed {
        Failed(e.kind(), e.to_string())
    }
    fn error(&self) -> io::Error {
        io::Error::new(self.0, self.1.clone())
    }
}

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self.error())
    }
}

impl BufRead for Failed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Err(self.error())
    }
    fn consume(&mut self, _: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use proptest::prelude::*;
    use std::io::Write;

    /// The fast path's answer: the bytes, or None when it leaves the file to flate2.
    fn whole(data: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        whole_into(data, &mut out).then_some(out)
    }

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// CRC-32 (gzip's), by flate2.
    fn crc32(data: &[u8]) -> u32 {
        let mut c = flate2::Crc::new();
        c.update(data);
        c.sum()
    }

    fn streamed(data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::bufread::MultiGzDecoder::new(data).read_to_end(&mut out)?;
        Ok(out)
    }

    fn through_decompressing(data: &[u8]) -> io::Result<Vec<u8>> {
        match decompressing(io::BufReader::with_capacity(7, data))? {
            Decompressed::Whole(bytes) => Ok(bytes),
            Decompressed::Stream(mut reader) => {
                let mut out = Vec::new();
                reader.read_to_end(&mut out)?;
                Ok(out)
            }
        }
    }

    /// Text shaped like a log file (repeats, so it compresses), of any length.
    fn text(seed: u64, len: usize) -> Vec<u8> {
        let words: [&[u8]; 6] = [
            b"{\"eventName\":\"",
            b"DescribeInstances",
            b"\",\"awsRegion\":\"eu-west-1\"}",
            b"\\u00e9",
            b" ",
            b"0123456789abcdef",
        ];
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(5) {
                out.push((x >> 8) as u8);
            } else {
                out.extend_from_slice(words[(x >> 16) as usize % words.len()]);
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn one_member_is_decompressed_whole() {
        for len in [1, 100, 70_000, 3 << 20] {
            let plain = text(len as u64, len);
            let gz = gzip(&plain, 6);
            assert_eq!(whole(&gz).as_deref(), Some(&plain[..]), "{len} bytes");
            assert_eq!(through_decompressing(&gz).unwrap(), plain, "{len} bytes");
        }
    }

    #[test]
    fn what_whole_leaves_is_streamed_exactly() {
        let a = text(1, 5_000);
        let b = text(2, 7_000);
        // Two members: libdeflate alone would stop after the first.
        let two = [gzip(&a, 6), gzip(&b, 1)].concat();
        assert_eq!(whole(&two), None);
        assert_eq!(
            through_decompressing(&two).unwrap(),
            [&a[..], &b[..]].concat()
        );
        // The same member twice: its trailer is the file's, and still both are read.
        let twice = [gzip(&a, 6), gzip(&a, 6)].concat();
        assert_eq!(whole(&twice), None);
        assert_eq!(
            through_decompressing(&twice).unwrap(),
            [&a[..], &a[..]].concat()
        );
        // A trailer that lies about the size.
        let mut lying = gzip(&a, 6);
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&4_000u32.to_le_bytes());
        assert_eq!(whole(&lying), None);
        assert!(through_decompressing(&lying).is_err());
        // Larger than WHOLE_MAX: streamed, same bytes.
        let big = text(3, WHOLE_MAX + 1);
        let gz = gzip(&big, 1);
        assert_eq!(whole(&gz), None);
        assert_eq!(through_decompressing(&gz).unwrap(), big);
        // Truncated: the streaming decoder's error.
        let cut = &gzip(&a, 6)[..n / 2];
        assert_eq!(whole(cut), None);
        assert!(through_decompressing(cut).is_err());
        // Not gzip: the bytes as they are.
        assert_eq!(
            through_decompressing(b"{\"Records\":[]}").unwrap(),
            b"{\"Records\":[]}"
        );
    }

    /// Headers libdeflate and flate2 do not read alike are left to flate2; a plain header and
    /// one with a short file name are read whole.
    #[test]
    fn only_plain_headers_are_read_whole() {
        let plain = text(7, 9_000);
        let named = |name: &str| {
            let mut e = flate2::GzBuilder::new()
                .filename(name)
                .write(Vec::new(), Compression::new(6));
            e.write_all(&plain).unwrap();
            e.finish().unwrap()
        };
        let short = named("111122223333_CloudTrail_eu-west-1_20261207T0005Z_x.json.gz");
        assert_eq!(whole(&short).as_deref(), Some(&plain[..]));
        let longest = named(&"n".repeat(MAX_NAME));
        assert_eq!(whole(&longest).as_deref(), Some(&plain[..]));
        let long = named(&"n".repeat(MAX_NAME + 1));
        assert_eq!(whole(&long), None);
        assert_eq!(through_decompressing(&long).unwrap(), plain);
        let mut e = flate2::GzBuilder::new()
            .extra(vec![1, 2, 3, 4])
            .write(Vec::new(), Compression::new(6));
        e.write_all(&plain).unwrap();
        let extra = e.finish().unwrap();
        assert_eq!(whole(&extra), None);
        assert_eq!(through_decompressing(&extra).unwrap(), plain);
        // A reserved flag: streamed (and refused by flate2 as by libdeflate).
        let mut reserved = gzip(&plain, 6);
        reserved[3] |= 0x20;
        assert_eq!(whole(&reserved), None);
        assert_eq!(
            through_decompressing(&reserved).ok(),
            streamed(&reserved).ok()
        );
        let mut e = flate2::GzBuilder::new()
            .comment("c")
            .write(Vec::new(), Compression::new(6));
        e.write_all(&plain).unwrap();
        let commented = e.finish().unwrap();
        assert_eq!(whole(&commented), None);
        assert_eq!(through_decompressing(&commented).unwrap(), plain);
        // A header checksum that is wrong: libdeflate would skip it unchecked; flate2 refuses.
        let gz = gzip(&plain, 6);
        let mut hcrc = gz[..10].to_vec();
        hcrc[3] |= 0x02;
        hcrc.extend_from_slice(&[0xde, 0xad]);
        hcrc.extend_from_slice(&gz[10..]);
        assert_eq!(whole(&hcrc), None);
        assert!(streamed(&hcrc).is_err());
        assert!(through_decompressing(&hcrc).is_err());
        // The right header checksum: still streamed (by its flag, not its value), and read.
        let crc = crc32(&hcrc[..10]);
        hcrc[10..12].copy_from_slice(&(crc as u16).to_le_bytes());
        assert_eq!(whole(&hcrc), None);
        assert_eq!(through_decompressing(&hcrc).unwrap(), plain);
    }

    /// A read that fails partway: what was read before it is decompressed and handed on, then
    /// the error (the records before it stay counted, as when streaming).
    #[test]
    fn a_failed_read_keeps_what_came_before() {
        struct Breaks<'a>(&'a [u8], usize);
        impl Read for Breaks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let plain = text(9, 400_000);
        let gz = gzip(&plain, 1);
        let half = &gz[..gz.len() / 2];
        let Decompressed::Stream(mut reader) =
            decompressing(io::BufReader::new(Breaks(half, 4096))).unwrap()
        else {
            panic!("a failed read is streamed");
        };
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        let error = loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("the error is lost"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert!(error.to_string().contains("disk on fire"), "{error}");
        assert!(got.len() > 100_000, "{} bytes before the error", got.len());
        assert_eq!(&plain[..got.len()], &got[..]);
        // A log file's records before the failure are handed on, then the scanner's error.
        let records: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"eventName": "Put{i}", "n": {i}}}"#))
            .collect();
        let log = format!(r#"{{"Records": [{}]}}"#, records.join(","));
        let gz = gzip(log.as_bytes(), 1);
        let mut seen = 0;
        let result = decompressing(io::BufReader::new(Breaks(&gz[..gz.len() / 2], 4096)))
            .unwrap()
            .for_each_element(|_, _| Step::Scan, |_| seen += 1);
        let message = format!("{:?}", result.unwrap_err());
        assert!(message.contains("disk on fire"), "{message}");
        assert!(
            seen > 1_000 && seen < 20_000,
            "{seen} records before the error"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        /// Whatever `whole` returns is what the streaming decoder reads; a well-formed single
        /// member is always decompressed whole (so the fast path is the one tested).
        #[test]
        fn agrees_with_the_streaming_decoder(
            seed in any::<u64>(),
            len in 0usize..20_000,
            level in 0u32..10,
            members in 1usize..4,
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in prop::option::of(any::<prop::sample::Index>()),
            random in prop::collection::vec(any::<u8>(), 0..96),
        ) {
            let parts: Vec<Vec<u8>> = (0..members).map(|m| text(seed.wrapping_add(m as u64), len)).collect();
            let mut gz: Vec<u8> = parts.iter().flat_map(|p| gzip(p, level)).collect();
            if members == 1 && damage.is_empty() && cut.is_none() && len > 0 {
                let got = whole(&gz);
                prop_assert_eq!(got.as_deref(), Some(&parts[0][..]));
            }
            for (at, byte) in &damage {
                let i = at.index(gz.len());
                gz[i] ^= byte | 1;
            }
            if let Some(c) = cut {
                gz.truncate(c.index(gz.len() + 1));
            }
            // Random bytes behind a header the fast path takes (so they reach libdeflate),
            // and behind the bare magic.
            let flags = [0u8, 1, 8, 9][random.len() % 4];
            let headed = [&[0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 0xff][..], &random[..]].concat();
            for input in [gz.clone(), headed, [&[0x1f, 0x8b][..], &random[..]].concat()] {
                let fast = whole(&input);
                let slow = streamed(&input).ok();
                if let Some(f) = &fast {
                    prop_assert_eq!(Some(f), slow.as_ref());
                }
                // Bytes that do not start with gzip's magic are read as they are.
                let expected = if input.starts_with(&[0x1f, 0x8b]) { slow } else { Some(input.clone()) };
                prop_assert_eq!(through_decompressing(&input).ok(), expected);
            }
        }
    }
}
