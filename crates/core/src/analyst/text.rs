//! Small helpers for handling untrusted text: bounding it, making it inert for one-line use, and
//! cutting verbatim quotes out of it.

/// Most bytes of any one untrusted text the heuristics look at. Alerts and log samples are
/// bounded upstream; this bounds what a caller builds by hand, so regexes never see megabytes.
pub(crate) const SCAN_LIMIT: usize = 16 * 1024;

/// The longest quote taken from a log line.
pub(crate) const QUOTE_LIMIT: usize = 240;

/// The prefix of `s` of at most `max` bytes, cut on a character boundary.
pub(crate) fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Untrusted text made fit for one line of our own prose: control characters dropped, whitespace
/// folded, at most `max` characters. The result is still untrusted; it is only shown, never acted on.
pub(crate) fn inline(s: &str, max: usize) -> String {
    let cleaned: String = prefix(s, SCAN_LIMIT)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let folded = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= max {
        folded
    } else {
        let cut: String = folded.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A verbatim piece of `text` around the byte range `start..end`, at most `max` bytes, cut on
/// character boundaries. Being a substring of the text, it is found again by the grounding check.
pub(crate) fn around(text: &str, start: usize, end: usize, max: usize) -> &str {
    if text.len() <= max {
        return text.trim();
    }
    let start = start.min(text.len());
    let end = end.clamp(start, text.len());
    let span = end - start;
    let (mut lo, mut hi) = if span >= max {
        (start, start + max)
    } else {
        // Keep some words before the match (they usually name the operation) and the rest after.
        let before = ((max - span) / 3).min(start);
        let lo = start - before;
        (lo, (lo + max).min(text.len()))
    };
    // Move both ends inwards to a boundary, so the quote never grows past `max`.
    while lo < text.len() && !text.is_char_boundary(lo) {
        lo += 1;
    }
    while hi < text.len() && !text.is_char_boundary(hi) {
        hi -= 1;
    }
    text[lo..hi.max(lo)].trim()
}

/// Whether a quote is long enough for the grounding check to accept it (it refuses quotes under
/// eight characters once whitespace is folded).
pub(crate) fn quotable(q: &str) -> bool {
    q.split_whitespace().collect::<Vec<_>>().join(" ").len() >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_loses_control_characters_and_is_bounded() {
        assert_eq!(inline("a\u{1b}[31m\nb\t c", 100), "a [31m b c");
        assert_eq!(inline(&"é".repeat(50), 10).chars().count(), 10);
    }

    #[test]
    fn a_quote_around_a_match_is_a_substring_cut_on_char_boundaries() {
        let text = format!(
            "{} x509: certificate has expired {}",
            "é".repeat(300),
            "ü".repeat(300)
        );
        let start = text.find("x509").expect("present");
        let q = around(&text, start, start + 30, 120);
        assert!(text.contains(q));
        assert!(q.contains("x509: certificate has expired"));
        assert!(q.len() <= 120);
    }
}
