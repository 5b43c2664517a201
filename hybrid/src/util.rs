//! Small helpers: hex and base64url without extra dependencies.

const UPPER: &[u8; 16] = b"0123456789ABCDEF";
const LOWER: &[u8; 16] = b"0123456789abcdef";

fn hex_with(bytes: &[u8], table: &[u8; 16]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            let c = table.get(usize::from(nibble)).copied().unwrap_or(b'0');
            s.push(char::from(c));
        }
    }
    s
}

/// Uppercase hex (Chromium's URL form).
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    hex_with(bytes, UPPER)
}

/// Lowercase hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    hex_with(bytes, LOWER)
}

/// Decodes hex of either case; `None` on odd length or a non-hex character.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| match p {
            [h, l] => Some((val(*h)? << 4) | val(*l)?),
            _ => None,
        })
        .collect()
}

/// Base64url without padding.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let shift = 18 - 6 * i;
            let idx = usize::try_from((n >> shift) & 63).unwrap_or(0);
            out.push(char::from(T.get(idx).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// Decodes unpadded base64url; `None` for any other character or an impossible length.
/// Unused low bits of the last character are ignored here (callers that need one spelling
/// re-encode and compare).
pub(crate) fn from_b64url(text: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        }
    }
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(bytes.get(1..chunk.len()).unwrap_or_default());
    }
    Some(out)
}
