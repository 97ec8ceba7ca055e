//! The masker: one for every face (`kw send`, `kw run`, the window's echo masking).
//!
//! A [`Masker`] is built once from every secret value a workflow used. For each value it
//! recognises the value itself and its common encodings:
//!
//! * the raw bytes, and the value as a JSON string body (`"` `\` and controls escaped);
//! * base64, standard and URL-safe alphabets, with and without padding, and at each of the
//!   three byte alignments (the value inside a larger encoded text such as `user:value` in
//!   a Basic header: only the characters that depend on the value alone are matched);
//! * percent-encoding: RFC 3986 (upper- and lower-case hex) and form encoding (space as `+`);
//! * hex, lower and upper case.
//!
//! Every pattern is searched in one pass (Aho-Corasick, leftmost-longest: a whole rendered
//! value such as `Bearer sk_live_x` wins over the key inside it). A match is replaced by
//! `[secret.NAME]`, by the rendered value's preview (`Bearer [secret.api]`), or by `***`
//! when no name is known.
//!
//! No pattern contains a line feed: a multi-line value is recognised line by line (each line
//! of at least [`MIN_SECRET_LEN`] non-blank bytes, a trailing CR removed), and its encodings
//! whole. So a match never crosses a line end, and [`StreamMasker`] can release every
//! complete line at once and hold back, within a line, only a tail that could still become a
//! match (at most the longest pattern minus one byte). Whatever the chunking, a stream is
//! masked exactly as [`Masker::mask`] masks the whole of it.
//!
//! Values shorter than [`MIN_SECRET_LEN`] bytes are not masked: a three-byte value is found
//! by chance in ordinary text so often that masking it would wreck the output, while it
//! protects nothing an attacker could not guess. Their names are in [`Masker::unmasked`].
//!
//! What no masker can catch: a program that transforms a value in some other way (gzip,
//! encryption or hashing, reversing it, any other encoding such as base32 or `\u` escapes,
//! printing it split across lines or interleaved with other text). Masking is a safety net
//! against accidents, not a boundary against the program it wraps. The masker's own copies of
//! the patterns are zeroized when it is dropped; the automaton's transition tables, which
//! encode them too, are freed but not zeroized.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Values shorter than this (in bytes) are not masked; see the module documentation.
pub const MIN_SECRET_LEN: usize = 4;

/// Whole rendered values longer than this are not added as patterns of their own (the
/// secrets inside them still are): they would only bloat the automaton.
pub const MAX_RENDERED_PATTERN: usize = 4096;

/// Up to this many bytes of patterns in all (about 100 secrets of 40 bytes with their
/// encodings), the automaton is a DFA (about 22 MiB at most); beyond, a compact NFA.
pub const DFA_MAX_PATTERN_BYTES: usize = 64 * 1024;

/// The replacement when no name is known.
pub const ANONYMOUS: &str = "***";

struct Label {
    replacement: String,
    names: Vec<String>,
}

/// Collects the values to recognise; [`MaskerBuilder::build`] makes the automaton.
#[derive(Default)]
pub struct MaskerBuilder {
    labels: Vec<Label>,
    /// Pattern bytes and label, in insertion order; the first label for given bytes wins.
    patterns: Vec<(Zeroizing<Vec<u8>>, usize)>,
    unmasked: Vec<String>,
}

impl fmt::Debug for MaskerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskerBuilder({} patterns)", self.patterns.len())
    }
}

impl MaskerBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A secret's value, shown as `[secret.NAME]`.
    pub fn secret(&mut self, name: &str, value: &[u8]) -> &mut Self {
        if value.len() < MIN_SECRET_LEN {
            if !self.unmasked.iter().any(|n| n == name) {
                self.unmasked.push(name.to_owned());
            }
            return self;
        }
        let shown = format!("[secret.{name}]");
        self.add(&shown, &shown, vec![name.to_owned()], value)
    }

    /// A value with no known name, shown as `***`.
    pub fn anonymous(&mut self, value: &[u8]) -> &mut Self {
        if value.len() < MIN_SECRET_LEN {
            return self;
        }
        self.add(ANONYMOUS, ANONYMOUS, Vec::new(), value)
    }

    /// A whole rendered value that holds secrets (`Bearer sk_live_x`, a signature, a JWT),
    /// shown as its preview (`Bearer [secret.api]`; inside a JSON string, the preview as a
    /// JSON string); an encoding of it, or one line of it, as the names of its secrets
    /// (`[secret.api]`). Add the secrets themselves too, with [`MaskerBuilder::secret`]:
    /// this catches what is derived from them.
    pub fn rendered(&mut self, value: &[u8], preview: &str, secrets: &[String]) -> &mut Self {
        if value.len() < MIN_SECRET_LEN || value.len() > MAX_RENDERED_PATTERN {
            return self;
        }
        let named = if secrets.is_empty() {
            ANONYMOUS.to_owned()
        } else {
            format!(
                "[{}]",
                secrets
                    .iter()
                    .map(|n| format!("secret.{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let preview = if preview.is_empty() { &named } else { preview };
        self.add(preview, &named, secrets.to_vec(), value)
    }

    /// `shown` replaces the value itself (and, JSON-escaped, the value inside a JSON
    /// string); `named` replaces every encoding and each line of a multi-line value.
    fn add(&mut self, shown: &str, named: &str, names: Vec<String>, value: &[u8]) -> &mut Self {
        let first = self.labels.len();
        let json = String::from_utf8_lossy(&json_escape(shown.as_bytes())).into_owned();
        for (replacement, label) in [(shown, first), (&json, first + 1), (named, first + 2)] {
            debug_assert_eq!(self.labels.len(), label);
            self.labels.push(Label {
                replacement: replacement.to_owned(),
                names: names.clone(),
            });
        }
        for (i, variant) in encodings(value).into_iter().enumerate() {
            let whole = match i {
                0 => first,
                1 => first + 1,
                _ => first + 2,
            };
            let label = if variant.contains(&b'\n') {
                first + 2
            } else {
                whole
            };
            for piece in lines(variant) {
                if piece.len() >= MIN_SECRET_LEN {
                    self.patterns.push((piece, label));
                }
            }
        }
        self
    }

    pub fn build(self) -> Masker {
        let MaskerBuilder {
            labels,
            mut patterns,
            unmasked,
        } = self;
        // The same bytes twice (a value whose encodings coincide, two secrets with one
        // value): the first keeps its label.
        let mut order: Vec<usize> = (0..patterns.len()).collect();
        order.sort_by(|&a, &b| {
            patterns[a]
                .0
                .as_slice()
                .cmp(patterns[b].0.as_slice())
                .then(a.cmp(&b))
        });
        let mut keep = vec![false; patterns.len()];
        for (k, &i) in order.iter().enumerate() {
            keep[i] = k == 0 || patterns[order[k - 1]].0.as_slice() != patterns[i].0.as_slice();
        }
        let mut index = 0;
        patterns.retain(|_| {
            index += 1;
            keep[index - 1]
        });
        if patterns.is_empty() {
            return Masker {
                inner: Arc::new(Inner {
                    unmasked,
                    ..Inner::empty()
                }),
            };
        }
        let build = |kind: Option<AhoCorasickKind>| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(kind)
                .build(patterns.iter().map(|(p, _)| p.as_slice()))
        };
        // A DFA is the fastest scan but takes about 350 bytes per pattern byte; past
        // DFA_MAX_PATTERN_BYTES (a few very long values) the compact NFA is used instead.
        let total: usize = patterns.iter().map(|(p, _)| p.len()).sum();
        let kind = if total <= DFA_MAX_PATTERN_BYTES {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let ac = build(Some(kind))
            .or_else(|_| build(None))
            .expect("patterns of bounded length always build");
        let max_len = patterns.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
        let mut first_byte = [false; 256];
        let mut first_pair = vec![0u64; 1024].into_boxed_slice();
        for (p, _) in &patterns {
            first_byte[p[0] as usize] = true;
            let pair = (p[0] as usize) << 8 | p[1] as usize;
            first_pair[pair / 64] |= 1 << (pair % 64);
        }
        let pattern_label = patterns.iter().map(|(_, l)| *l).collect();
        let mut sorted: Vec<Zeroizing<Vec<u8>>> = patterns.into_iter().map(|(p, _)| p).collect();
        sorted.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        Masker {
            inner: Arc::new(Inner {
                ac: Some(ac),
                pattern_label,
                labels,
                sorted,
                max_len,
                first_byte,
                first_pair,
                unmasked,
            }),
        }
    }
}

/// The value, the value inside a JSON string, then each of its encodings (duplicates are
/// removed by the builder).
fn encodings(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(value.to_vec())];
    out.push(Zeroizing::new(json_escape(value)));
    for (padded, unpadded) in [(&STANDARD, &STANDARD_NO_PAD), (&URL_SAFE, &URL_SAFE_NO_PAD)] {
        out.push(Zeroizing::new(padded.encode(value).into_bytes()));
        out.push(Zeroizing::new(unpadded.encode(value).into_bytes()));
        // The value inside a longer encoded text, at each alignment: keep only the
        // characters made of the value's bits alone.
        for offset in 0..3usize {
            let mut shifted = Zeroizing::new(vec![0u8; offset]);
            shifted.extend_from_slice(value);
            let encoded = Zeroizing::new(unpadded.encode(shifted.as_slice()).into_bytes());
            let start = (8 * offset).div_ceil(6);
            let end = 8 * shifted.len() / 6;
            if end > start {
                out.push(Zeroizing::new(encoded[start..end].to_vec()));
            }
        }
    }
    out.push(Zeroizing::new(percent_encode(value, b"0123456789ABCDEF")));
    out.push(Zeroizing::new(percent_encode(value, b"0123456789abcdef")));
    out.push(Zeroizing::new(
        url::form_urlencoded::byte_serialize(value)
            .collect::<String>()
            .into_bytes(),
    ));
    out.push(Zeroizing::new(hex(value, b"0123456789abcdef")));
    out.push(Zeroizing::new(hex(value, b"0123456789ABCDEF")));
    out
}

/// Splits a pattern at line feeds (a trailing CR removed from each line, lines of fewer than
/// [`MIN_SECRET_LEN`] non-blank bytes dropped); one piece when it has none.
fn lines(variant: Zeroizing<Vec<u8>>) -> Vec<Zeroizing<Vec<u8>>> {
    if !variant.contains(&b'\n') {
        return vec![variant];
    }
    // Lines that are blank or nearly so ("}", indentation) would match everywhere.
    variant
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| l.trim_ascii().len() >= MIN_SECRET_LEN)
        .map(|l| Zeroizing::new(l.to_vec()))
        .collect()
}

fn hex(value: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 2);
    for b in value {
        out.push(digits[(b >> 4) as usize]);
        out.push(digits[(b & 15) as usize]);
    }
    out
}

/// RFC 3986: everything but the unreserved characters as `%XX`.
fn percent_encode(value: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(digits[(b >> 4) as usize]);
            out.push(digits[(b & 15) as usize]);
        }
    }
    out
}

/// The value as it appears inside a JSON string.
fn json_escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out
}

struct Inner {
    ac: Option<AhoCorasick>,
    /// Pattern id → label.
    pattern_label: Vec<usize>,
    labels: Vec<Label>,
    /// Every pattern, sorted: to tell whether a tail may still become a match.
    sorted: Vec<Zeroizing<Vec<u8>>>,
    max_len: usize,
    /// The first byte, and the first two bytes, of some pattern (a bit per pair): most
    /// positions of a tail are ruled out without a search.
    first_byte: [bool; 256],
    first_pair: Box<[u64]>,
    unmasked: Vec<String>,
}

impl Inner {
    fn empty() -> Self {
        Self {
            ac: None,
            pattern_label: Vec::new(),
            labels: Vec::new(),
            sorted: Vec::new(),
            max_len: 0,
            first_byte: [false; 256],
            first_pair: Box::new([]),
            unmasked: Vec::new(),
        }
    }
}

/// Recognises secret values and their encodings; cheap to clone (shared).
/// `Debug` shows only how many patterns it holds.
#[derive(Clone)]
pub struct Masker {
    inner: Arc<Inner>,
}

impl Default for Masker {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masker({} patterns)", self.inner.pattern_label.len())
    }
}

/// What a masking pass replaced: how many occurrences, of which secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskReport {
    pub occurrences: usize,
    /// Names of the secrets found, in order of first appearance (no values).
    pub secrets: Vec<String>,
}

impl MaskReport {
    pub fn is_empty(&self) -> bool {
        self.occurrences == 0
    }

    pub fn merge(&mut self, other: &MaskReport) {
        self.occurrences += other.occurrences;
        for n in &other.secrets {
            if !self.secrets.contains(n) {
                self.secrets.push(n.clone());
            }
        }
    }

    fn record(&mut self, label: &Label) {
        self.occurrences += 1;
        for n in &label.names {
            if !self.secrets.contains(n) {
                self.secrets.push(n.clone());
            }
        }
    }
}

impl Masker {
    pub fn builder() -> MaskerBuilder {
        MaskerBuilder::new()
    }

    /// A masker that recognises nothing.
    pub fn empty() -> Self {
        Self {
            inner: Arc::new(Inner::empty()),
        }
    }

    /// Whether it recognises nothing.
    pub fn is_empty(&self) -> bool {
        self.inner.ac.is_none()
    }

    /// Number of patterns (values and encodings, after removing duplicates).
    pub fn patterns(&self) -> usize {
        self.inner.pattern_label.len()
    }

    /// Heap bytes of the automaton.
    pub fn memory_usage(&self) -> usize {
        self.inner.ac.as_ref().map_or(0, |ac| ac.memory_usage())
    }

    /// The longest pattern in bytes: a stream holds back at most one byte less.
    pub fn longest_pattern(&self) -> usize {
        self.inner.max_len
    }

    /// Names of the secrets too short to be masked (see [`MIN_SECRET_LEN`]).
    pub fn unmasked(&self) -> &[String] {
        &self.inner.unmasked
    }

    /// Masks `input` whole.
    pub fn mask(&self, input: &[u8]) -> (Vec<u8>, MaskReport) {
        let mut out = Vec::with_capacity(input.len());
        let mut report = MaskReport::default();
        self.mask_into(input, &mut out, &mut report);
        (out, report)
    }

    /// Masks text. Matches of UTF-8 patterns fall on character boundaries, so the result is
    /// text again.
    pub fn mask_str(&self, input: &str, report: &mut MaskReport) -> String {
        if self.is_empty() {
            return input.to_owned();
        }
        let mut out = Vec::with_capacity(input.len());
        self.mask_into(input.as_bytes(), &mut out, report);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Masks `input` whole, appending to `out`.
    pub fn mask_into(&self, input: &[u8], out: &mut Vec<u8>, report: &mut MaskReport) {
        let end = self.replace(input, input.len(), out, report);
        out.extend_from_slice(&input[end..]);
    }

    /// Writes `input` to `out`, masked, up to the first match that starts at or after
    /// `limit`; returns where it stopped (everything before is written).
    fn replace(
        &self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
        report: &mut MaskReport,
    ) -> usize {
        let Some(ac) = &self.inner.ac else {
            out.extend_from_slice(&input[..limit]);
            return limit;
        };
        let mut at = 0;
        for m in ac.find_iter(input) {
            if m.start() >= limit {
                break;
            }
            out.extend_from_slice(&input[at..m.start()]);
            let label = &self.inner.labels[self.inner.pattern_label[m.pattern().as_usize()]];
            out.extend_from_slice(label.replacement.as_bytes());
            report.record(label);
            at = m.end();
        }
        if at < limit {
            out.extend_from_slice(&input[at..limit]);
            at = limit;
        }
        at
    }

    /// Where the tail of `buf` that may still grow into a match begins: the first position
    /// whose suffix is a proper prefix of some pattern, or `buf.len()` when there is none.
    fn undecided_from(&self, buf: &[u8]) -> usize {
        let inner = &self.inner;
        if inner.max_len <= 1 {
            return buf.len();
        }
        let mut start = buf.len().saturating_sub(inner.max_len - 1);
        // No pattern holds a line feed: nothing before the last one can still match.
        if let Some(nl) = buf[start..].iter().rposition(|b| *b == b'\n') {
            start += nl + 1;
        }
        (start..buf.len())
            .find(|&q| {
                let possible = match buf.get(q + 1) {
                    None => inner.first_byte[buf[q] as usize],
                    Some(&next) => {
                        let pair = (buf[q] as usize) << 8 | next as usize;
                        inner.first_pair[pair / 64] & (1 << (pair % 64)) != 0
                    }
                };
                possible && self.is_proper_prefix(&buf[q..])
            })
            .unwrap_or(buf.len())
    }

    fn is_proper_prefix(&self, s: &[u8]) -> bool {
        let sorted = &self.inner.sorted;
        let i = sorted.partition_point(|p| p.as_slice() < s);
        // Patterns that start with `s` follow it in order; `s` itself may come first.
        sorted[i..]
            .iter()
            .take(2)
            .any(|p| p.len() > s.len() && p.starts_with(s))
    }

    /// A masker for one stream (one per stdout, one per stderr).
    pub fn stream(&self) -> StreamMasker {
        StreamMasker {
            masker: self.clone(),
            pending: Vec::new(),
            report: MaskReport::default(),
        }
    }

    /// A writer that masks everything written through it before passing it to `inner`.
    pub fn writer<W: Write>(&self, inner: W) -> MaskWriter<W> {
        MaskWriter {
            stream: self.stream(),
            inner: Some(inner),
            out: Vec::new(),
        }
    }
}

/// Masks a stream that arrives in chunks, with no I/O of its own: each [`StreamMasker::push`]
/// releases everything that can no longer be part of a match (every complete line, and within
/// a line all but a tail that is a prefix of some pattern), [`StreamMasker::finish`] the rest.
/// The output is byte for byte what [`Masker::mask`] gives for the whole stream; bytes are
/// bytes (no text decoding).
pub struct StreamMasker {
    masker: Masker,
    pending: Vec<u8>,
    report: MaskReport,
}

impl fmt::Debug for StreamMasker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamMasker({} bytes held)", self.pending.len())
    }
}

impl StreamMasker {
    /// Takes the next chunk; appends what can be released, masked, to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.masker.is_empty() {
            out.extend_from_slice(chunk);
            return;
        }
        let buf: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            self.pending.extend_from_slice(chunk);
            &self.pending
        };
        let undecided = self.masker.undecided_from(buf);
        let released = self.masker.replace(buf, undecided, out, &mut self.report);
        if self.pending.is_empty() {
            self.pending.extend_from_slice(&chunk[released..]);
        } else {
            self.pending.drain(..released);
        }
    }

    /// The stream has ended: appends the held tail, masked.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending);
        self.masker.mask_into(&pending, out, &mut self.report);
    }

    /// The stream was cut short (a body truncated at its size limit): the held tail, which
    /// may be the start of a value, is replaced by `***`; the rest is masked as usual.
    pub fn finish_cut(&mut self, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending);
        let undecided = self.masker.undecided_from(&pending);
        let released = self
            .masker
            .replace(&pending, undecided, out, &mut self.report);
        if released < pending.len() {
            out.extend_from_slice(ANONYMOUS.as_bytes());
        }
    }

    /// Bytes held back, waiting for the rest of a possible match.
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    pub fn report(&self) -> &MaskReport {
        &self.report
    }
}

/// A [`Write`] that masks before writing to the inner writer. `flush` passes on everything
/// released so far (a tail that may be the start of a secret stays held);
/// [`MaskWriter::finish`] — or dropping the writer — releases the rest.
pub struct MaskWriter<W: Write> {
    stream: StreamMasker,
    inner: Option<W>,
    out: Vec<u8>,
}

impl<W: Write> MaskWriter<W> {
    /// Writes the held tail, flushes, and returns the inner writer and the report.
    pub fn finish(mut self) -> io::Result<(W, MaskReport)> {
        self.release()?;
        let report = self.stream.report.clone();
        let inner = self.inner.take().expect("present until finished");
        Ok((inner, report))
    }

    pub fn report(&self) -> &MaskReport {
        self.stream.report()
    }

    fn release(&mut self) -> io::Result<()> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        self.out.clear();
        self.stream.finish(&mut self.out);
        inner.write_all(&self.out)?;
        self.out.clear();
        inner.flush()
    }
}

impl<W: Write> Write for MaskWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let inner = self.inner.as_mut().expect("present until finished");
        self.out.clear();
        self.stream.push(buf, &mut self.out);
        inner.write_all(&self.out)?;
        self.out.clear();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(inner) => inner.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for MaskWriter<W> {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(values: &[(&str, &str)]) -> Masker {
        let mut b = Masker::builder();
        for (n, v) in values {
            b.secret(n, v.as_bytes());
        }
        b.build()
    }

    fn masked(m: &Masker, s: &str) -> String {
        String::from_utf8(m.mask(s.as_bytes()).0).unwrap()
    }

    #[test]
    fn masks_the_value_and_each_encoding() {
        let v = "sk_live+4f/9?x y~";
        let m = masker(&[("api", v)]);
        let b = v.as_bytes();
        for enc in [
            v.to_owned(),
            STANDARD.encode(b),
            STANDARD_NO_PAD.encode(b),
            URL_SAFE.encode(b),
            URL_SAFE_NO_PAD.encode(b),
            String::from_utf8(percent_encode(b, b"0123456789ABCDEF")).unwrap(),
            String::from_utf8(percent_encode(b, b"0123456789abcdef")).unwrap(),
            url::form_urlencoded::byte_serialize(b).collect(),
            String::from_utf8(hex(b, b"0123456789abcdef")).unwrap(),
            String::from_utf8(hex(b, b"0123456789ABCDEF")).unwrap(),
        ] {
            assert_eq!(masked(&m, &format!("<{enc}>")), "<[secret.api]>", "{enc}");
        }
    }

    #[test]
    fn masks_a_value_inside_a_longer_base64_text() {
        let m = masker(&[("pw", "correct-horse-battery")]);
        for prefix in ["", "u:", "user:", "a-user:"] {
            let whole = STANDARD.encode(format!("{prefix}correct-horse-battery!"));
            let out = masked(&m, &whole);
            assert!(out.contains("[secret.pw]"), "{prefix:?}: {out}");
            assert!(out.len() < whole.len(), "{out}");
        }
    }

    #[test]
    fn whole_rendered_values_win_and_name_their_secrets() {
        let mut b = Masker::builder();
        b.secret("api", b"sk_live_123456");
        b.rendered(
            b"Bearer sk_live_123456",
            "Bearer [secret.api]",
            &["api".into()],
        );
        b.rendered(b"deadbeefcafe", "[sha256(secret.api)]", &["api".into()]);
        let m = b.build();
        let (out, report) = m.mask(b"a Bearer sk_live_123456 b sk_live_123456 c deadbeefcafe");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a Bearer [secret.api] b [secret.api] c [sha256(secret.api)]"
        );
        assert_eq!(report.occurrences, 3);
        assert_eq!(report.secrets, ["api"]);
    }

    #[test]
    fn short_values_are_not_masked_and_are_named() {
        let m = masker(&[("pin", "123"), ("ok", "1234")]);
        assert_eq!(masked(&m, "123 1234"), "123 [secret.ok]");
        assert_eq!(m.unmasked(), ["pin"]);
        assert!(Masker::builder().build().is_empty());
    }

    #[test]
    fn multi_line_values_are_masked_line_by_line() {
        let pem = "-----BEGIN KEY-----\r\nMIIEabc\r\nxyz\r\n-----END KEY-----";
        let m = masker(&[("tls", pem)]);
        assert_eq!(
            masked(&m, &format!("{pem}\n")),
            "[secret.tls]\r\n[secret.tls]\r\nxyz\r\n[secret.tls]\n"
        );
        // As a JSON string (an echo server), whole.
        let json = String::from_utf8(json_escape(pem.as_bytes())).unwrap();
        assert_eq!(
            masked(&m, &format!("{{\"k\":\"{json}\"}}")),
            "{\"k\":\"[secret.tls]\"}"
        );
    }

    #[test]
    fn a_very_long_value_builds_a_compact_automaton() {
        let value: String = (0..60_000u32)
            .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
            .collect();
        let m = masker(&[("big", &value)]);
        assert!(m.memory_usage() < 64 * 1024 * 1024, "{}", m.memory_usage());
        let hexed = String::from_utf8(hex(value.as_bytes(), b"0123456789abcdef")).unwrap();
        assert_eq!(
            masked(&m, &format!("<{value}> <{hexed}>")),
            "<[secret.big]> <[secret.big]>"
        );
    }

    #[test]
    fn a_stream_holds_back_only_a_possible_start() {
        let m = masker(&[("api", "sk_live_abcdef")]);
        let mut s = m.stream();
        let mut out = Vec::new();
        s.push(b"prompt: ", &mut out);
        assert_eq!(out, b"prompt: ", "nothing to hold: released at once");
        s.push(b"key sk_li", &mut out);
        assert_eq!(out, b"prompt: key ");
        assert_eq!(s.held(), 5);
        s.push(b"ve_abcdef\nnext", &mut out);
        assert_eq!(out, b"prompt: key [secret.api]\nnext");
        s.push(b" sk_", &mut out);
        s.finish(&mut out);
        assert_eq!(out, b"prompt: key [secret.api]\nnext sk_");
        assert_eq!(s.report().occurrences, 1);
    }

    #[test]
    fn the_writer_masks_and_releases_on_finish() {
        let m = masker(&[("api", "sk_live_abcdef")]);
        let mut w = m.writer(Vec::new());
        w.write_all(b"a sk_live_").unwrap();
        w.write_all(b"abcdef b sk_live").unwrap();
        let (out, report) = w.finish().unwrap();
        assert_eq!(out, b"a [secret.api] b sk_live");
        assert_eq!(report.occurrences, 1);
        assert!(!format!("{m:?}").contains("sk_live"));
    }
}
