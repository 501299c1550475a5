//! Jumping over a JSON container at the speed of memory: where the object or array that
//! opens at a byte closes, found 64 bytes at a time (simdjson's first stage, reduced to what a
//! skip needs). For each block: bit masks of its quotes, backslashes, opening and closing
//! brackets; the escaped characters from the runs of backslashes; the bytes inside strings
//! from a prefix XOR of the unescaped quotes; then only the brackets outside strings are
//! looked at, one bit each, and a block without one costs a few instructions.
//!
//! The masks come from SSE2 (every x86_64 has it) on x86_64, and from a byte loop elsewhere;
//! the result is the same. `tests::agrees_with_serde_and_with_the_byte_loop` fuzzes both
//! against serde's own end of each value, and against the byte-at-a-time scanner on
//! arbitrary bytes.

/// Bytes per block.
const BLOCK: usize = 64;

/// The four masks of one block: bit k is byte k.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

/// `{` and `[` differ from `}` and `]` in one bit: with 0x20 set, `[` is `{` and `]` is `}`,
/// and no other byte becomes either.
const OPEN: u8 = b'{';
const CLOSE: u8 = b'}';
const FOLD: u8 = 0x20;

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    use super::{Masks, BLOCK, CLOSE, FOLD, OPEN};

    #[target_feature(enable = "sse2")]
    fn sixteen(b: &[u8; 16]) -> (u64, u64, u64, u64) {
        // SAFETY: `b` is 16 readable bytes, and `_mm_loadu_si128` reads exactly 16 bytes
        // with no alignment requirement.
        let v = unsafe { _mm_loadu_si128(b.as_ptr().cast::<__m128i>()) };
        let eq = |c: u8, x: __m128i| _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8)));
        let folded = _mm_or_si128(v, _mm_set1_epi8(FOLD as i8));
        (
            eq(b'"', v) as u16 as u64,
            eq(b'\\', v) as u16 as u64,
            eq(OPEN, folded) as u16 as u64,
            eq(CLOSE, folded) as u16 as u64,
        )
    }

    #[target_feature(enable = "sse2")]
    fn block(b: &[u8; BLOCK]) -> Masks {
        let mut m = Masks::default();
        for (k, part) in b.chunks_exact(16).enumerate() {
            let Ok(part) = <&[u8; 16]>::try_from(part) else {
                continue;
            };
            let (q, s, o, c) = sixteen(part);
            let at = 16 * k;
            m.quote |= q << at;
            m.backslash |= s << at;
            m.open |= o << at;
            m.close |= c << at;
        }
        m
    }

    pub(super) fn masks(b: &[u8; BLOCK]) -> Masks {
        // SAFETY: SSE2 is part of x86_64: every x86_64 processor has it.
        unsafe { block(b) }
    }
}

/// The masks, a byte at a time: the reference the SSE2 masks are tested against, and the
/// masks on other architectures.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn masks_bytewise(b: &[u8; BLOCK]) -> Masks {
    let mut m = Masks::default();
    for (k, &c) in b.iter().enumerate() {
        let bit = 1u64 << k;
        match c {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            _ => {}
        }
    }
    m
}

fn masks(b: &[u8; BLOCK]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::masks(b)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        masks_bytewise(b)
    }
}

/// The characters escaped by a backslash (simdjson's branchless method): in a run of
/// backslashes every other one escapes the next byte. `carry` is 1 when the previous block
/// ended with a backslash that escapes this block's first byte.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows_escape = (backslash << 1) | *carry;
    let odd_starts = backslash & !EVEN & !follows_escape;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (even_starts << 1)) & follows_escape
}

/// Bit k set when an odd number of bits at or below k are set: with the unescaped quotes,
/// the bytes from an opening quote up to (not including) its closing one.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The index just after the bracket that closes the container opening at `b[start]` (`{` or
/// `[`), or None when `b` ends first. Brackets inside strings do not count; an object and an
/// array are skipped alike (in JSON that parses, brackets balance by kind too). What lies
/// inside is not validated: serde reads a record when it is decided.
pub fn container_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0u64;
    let mut in_string = 0u64;
    let mut carry = 0u64;
    let mut p = start;
    let mut padded = [b' '; BLOCK];
    while p < b.len() {
        let block: &[u8; BLOCK] = match b.get(p..p + BLOCK) {
            Some(s) => s.try_into().ok()?,
            None => {
                // The last bytes, padded with spaces (nothing structural).
                let rest = &b[p..];
                padded[..rest.len()].copy_from_slice(rest);
                padded[rest.len()..].fill(b' ');
                &padded
            }
        };
        let m = masks(block);
        let quotes = m.quote & !escaped(m.backslash, &mut carry);
        let strings = prefix_xor(quotes) ^ in_string;
        in_string = ((strings as i64) >> 63) as u64;
        let open = m.open & !strings;
        let close = m.close & !strings;
        let mut brackets = open | close;
        // A block that cannot bring the depth to zero is counted whole.
        if u64::from(close.count_ones()) < depth {
            depth = depth + u64::from(open.count_ones()) - u64::from(close.count_ones());
            p += BLOCK;
            continue;
        }
        while brackets != 0 {
            let k = brackets.trailing_zeros();
            let bit = 1u64 << k;
            if open & bit != 0 {
                depth += 1;
            } else {
                // A closing bracket before any opening one: not a container start.
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    let end = p + k as usize + 1;
                    return (end <= b.len()).then_some(end);
                }
            }
            brackets &= brackets - 1;
        }
        p += BLOCK;
    }
    None
}

/// The index of the quote that closes the string opening at `b[at]`, a byte at a time (a
/// backslash escapes the next byte); None when `b` ends first.
#[cfg(test)]
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match b.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// [`container_end`] a byte at a time, as the scanners did before: the reference for tests.
#[cfg(test)]
fn container_end_bytewise(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    #[test]
    fn the_sse2_masks_are_the_byte_loops() {
        let mut b = [0u8; BLOCK];
        for seed in 0..2000u32 {
            let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
            for c in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *c = b"\"\\{}[]a \x7b\x5b\xff\x00"[(x % 12) as usize];
            }
            assert_eq!(masks(&b), masks_bytewise(&b), "{:?}", b);
        }
    }

    #[test]
    fn escapes_and_strings_across_blocks() {
        for (text, end) in [
            (r#"{"a": "\\"} x"#, 11),
            (r#"{"a": "\""} x"#, 11),
            (r#"{"a": "\\\"}"} x"#, 14),
            (r#"[["}"], {"]": [1]}] x"#, 19),
            ("{}", 2),
            ("[]", 2),
        ] {
            assert_eq!(container_end(text.as_bytes(), 0), Some(end), "{text}");
        }
        // A backslash run across a block boundary, a string across many blocks.
        for pad in 0..130 {
            let text = format!(
                r#"{{"k": "{}\\\\\"{}", "z": ["{}"]}} ,"#,
                "x".repeat(pad),
                "}".repeat(pad % 7),
                "y".repeat(pad * 3)
            );
            let want = text.len() - 2;
            assert_eq!(container_end(text.as_bytes(), 0), Some(want), "{text}");
            assert_eq!(container_end_bytewise(text.as_bytes(), 0), Some(want));
            // Cut anywhere before its end: not found.
            for cut in [want - 1, want / 2, 1] {
                assert_eq!(container_end(&text.as_bytes()[..cut], 0), None, "{cut}");
            }
        }
        assert_eq!(container_end(b"} {", 0), None);
        assert_eq!(container_end(b"", 0), None);
    }

    /// Strings made of the characters that matter to a skip.
    fn text() -> BoxedStrategy<String> {
        let chars = vec![
            'a', '"', '\\', '{', '}', '[', ']', '/', 'é', '😀', ' ', '\n',
        ];
        prop::collection::vec(prop::sample::select(chars), 0..12)
            .prop_map(String::from_iter)
            .boxed()
    }

    /// JSON values with those strings as values and keys.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn agrees_with_serde_and_with_the_byte_loop(
            v in value(),
            pretty in any::<bool>(),
            lead in 0usize..70,
            tail in "[ ,{}\\[\\]\"a\\\\]{0,80}",
        ) {
            let body = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                serde_json::to_string(&v).unwrap()
            };
            let container = matches!(v, Value::Array(_) | Value::Object(_));
            // The tail starts where a value may end.
            let text = format!("{}{body} {tail}", " ".repeat(lead));
            let bytes = text.as_bytes();
            if container {
                // serde's end of the value.
                let mut it =
                    serde_json::Deserializer::from_slice(&bytes[lead..]).into_iter::<Value>();
                let parsed = it.next().unwrap().unwrap();
                prop_assert_eq!(&parsed, &v);
                let serde_end = lead + it.byte_offset();
                prop_assert_eq!(container_end(bytes, lead), Some(serde_end));
                prop_assert_eq!(container_end_bytewise(bytes, lead), Some(serde_end));
            }
        }

        #[test]
        fn any_bytes_end_where_the_byte_loop_ends(
            bytes in prop::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'),
                    Just(b'a'), Just(b' '), any::<u8>()
                ],
                0..300,
            ),
            start in 0usize..8,
        ) {
            // Only from an opening bracket, as the readers call it.
            let mut b = bytes;
            if b.len() > start {
                b[start] = b'{';
                let got = container_end(&b, start);
                if let Some(end) = got {
                    prop_assert!(end <= b.len() && end > start);
                }
                // The byte loop treats a backslash outside a string as a plain byte; the
                // block method treats every backslash as an escape. They agree whenever
                // no backslash stands outside a string before the end they find.
                let outside = outside_backslash(&b, start);
                if !outside {
                    prop_assert_eq!(got, container_end_bytewise(&b, start));
                }
            }
        }
    }

    /// Whether a backslash stands outside a string (which JSON never has) in `b[start..]`.
    fn outside_backslash(b: &[u8], start: usize) -> bool {
        let mut i = start;
        while i < b.len() {
            match b[i] {
                b'"' => match string_end(b, i) {
                    Some(end) => i = end,
                    None => return false,
                },
                b'\\' => return true,
                _ => {}
            }
            i += 1;
        }
        false
    }
}
