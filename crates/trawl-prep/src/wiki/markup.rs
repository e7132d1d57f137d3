//! Wikitext to plain text, following the DPR recipe (its passages were cut from text with the
//! markup removed): comments, references, templates `{{...}}`, tables `{|...|}`, files,
//! categories and interlanguage links are dropped; `[[target|text]]` keeps `text`, `[[target]]`
//! keeps `target`; external links keep their label; headings, list markers, bold and italic
//! quotes, HTML tags (their content kept) and magic words go; common entities are decoded.
//!
//! Each pass is a linear scan; nesting (templates in templates, links in file captions) is
//! tracked by depth counters, and an unclosed construct runs to the end of the text (as
//! MediaWiki renders it: what follows is swallowed), so the output never holds half markup.

/// Tags removed together with their content.
const DROPPED_ELEMENTS: &[&str] = &[
    "ref",
    "math",
    "gallery",
    "timeline",
    "imagemap",
    "score",
    "chem",
    "hiero",
    "graph",
    "mapframe",
    "syntaxhighlight",
    "source",
    "references",
];

/// Link namespaces whose links are not text (files, images, categories and their aliases).
const DROPPED_LINK_PREFIXES: &[&str] =
    &["file", "image", "category", "media", "wikt", "wiktionary"];

/// Plain text of a page's wikitext.
pub fn clean_wikitext(wikitext: &str) -> String {
    let s = remove_comments(wikitext);
    let s = remove_elements(&s);
    let s = remove_nested(&s, "{{", "}}");
    let s = remove_tables(&s);
    let s = replace_links(&s);
    let s = replace_external_links(&s);
    let s = remove_tags(&s);
    let s = clean_lines(&s);
    let s = remove_quotes_and_magic_words(&s);
    let s = decode_entities(&s);
    remove_empty_parentheses(&s)
}

fn remove_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start + 4..].find("-->") {
            Some(end) => &rest[start + 4 + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The tag name at `s` (which starts just after `<` or `</`), lower-cased, if it is one.
fn tag_name(s: &str) -> Option<String> {
    let name: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    if name.is_empty() {
        return None;
    }
    let next = s[name.len()..].chars().next();
    matches!(next, None | Some('>' | '/' | ' ' | '\t' | '\n')).then(|| name.to_ascii_lowercase())
}

/// Removes the elements of [`DROPPED_ELEMENTS`] with their content (`<ref name=a/>` too).
fn remove_elements(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(name) = tag_name(after).filter(|n| DROPPED_ELEMENTS.contains(&n.as_str())) else {
            out.push('<');
            rest = after;
            continue;
        };
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        rest = if after[..gt].ends_with('/') {
            &after[gt + 1..]
        } else {
            let body = &after[gt + 1..];
            let close = format!("</{name}");
            match find_ignore_case(body, &close) {
                Some(end) => {
                    let tail = &body[end..];
                    tail.find('>').map_or("", |g| &tail[g + 1..])
                }
                None => "",
            }
        };
    }
    out.push_str(rest);
    out
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Removes `open ... close` spans, counting nesting (templates `{{ {{ }} }}`).
fn remove_nested(s: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut i = 0;
    let mut kept_from = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i..].starts_with(open.as_bytes()) {
            if depth == 0 {
                out.push_str(&s[kept_from..i]);
            }
            depth += 1;
            i += open.len();
        } else if depth > 0 && b[i..].starts_with(close.as_bytes()) {
            depth -= 1;
            i += close.len();
            if depth == 0 {
                kept_from = i;
            }
        } else {
            i += 1;
        }
    }
    if depth == 0 {
        out.push_str(&s[kept_from..]);
    }
    out
}

/// Removes tables: `{|` opens one at the start of a line (after blanks), `|}` closes it.
fn remove_tables(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for line in s.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("{|") {
            depth += 1;
            continue;
        }
        if depth > 0 {
            if let Some(after) = t.strip_prefix("|}") {
                depth -= 1;
                // Text after the closing `|}` on the same line is kept.
                if depth == 0 {
                    out.push_str(after);
                }
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// `[[target|text]]` -> text, `[[target]]` -> target; files, categories and interlanguage
/// links -> nothing (with any links nested in their captions).
fn replace_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("[[") {
        out.push_str(&rest[..start]);
        let body_start = start + 2;
        let Some(len) = matching_close(&rest[body_start..]) else {
            rest = "";
            break;
        };
        let inner = &rest[body_start..body_start + len];
        rest = &rest[body_start + len + 2..];
        if !dropped_link(inner) {
            let shown = match inner.split_once('|') {
                Some((_, label)) => label,
                None => inner.trim_start_matches(':'),
            };
            // A label may hold links itself (rare outside file captions).
            out.push_str(&replace_links(shown));
        }
    }
    out.push_str(rest);
    out
}

/// The length of a link body up to its matching `]]`, counting nested `[[`.
fn matching_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 1usize;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'[' && b[i + 1] == b'[' {
            depth += 1;
            i += 2;
        } else if b[i] == b']' && b[i + 1] == b']' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

fn dropped_link(inner: &str) -> bool {
    let Some((prefix, _)) = inner.split_once(':') else {
        return false;
    };
    if inner.starts_with(':') {
        return false; // `[[:Category:X]]` is a visible link to the category page
    }
    let p = prefix.trim().to_ascii_lowercase();
    DROPPED_LINK_PREFIXES.contains(&p.as_str())
        // Interlanguage links: `[[de:Berlin]]`, `[[zh-yue:...]]`.
        || (p.len() >= 2
            && p.len() <= 12
            && p.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !p.contains("--"))
}

/// `[http://x label]` -> label, `[http://x]` -> nothing.
fn replace_external_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('[') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let is_url = ["http://", "https://", "//", "ftp://"]
            .iter()
            .any(|p| after.starts_with(p));
        let end = after.find(']').filter(|&e| !after[..e].contains('\n'));
        match (is_url, end) {
            (true, Some(end)) => {
                if let Some((_, label)) = after[..end].split_once(' ') {
                    out.push_str(label.trim());
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes HTML-like tags (`<br/>`, `<small>`, `</span>`), keeping what they enclose.
fn remove_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let name_at = after.strip_prefix('/').unwrap_or(after);
        match (tag_name(name_at), after.find('>')) {
            (Some(_), Some(gt)) if !after[..gt].contains('<') => {
                // A block tag separates words.
                out.push(' ');
                rest = &after[gt + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Drops headings, horizontal rules and table leftovers; strips list and indent markers.
fn clean_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let t = line.trim();
        let heading = t.len() >= 2 && t.starts_with('=') && t.ends_with('=');
        if heading || t.starts_with("----") || t.starts_with('|') || t.starts_with('!') {
            continue;
        }
        let t = t.trim_start_matches(['*', '#', ':', ';']).trim_start();
        if !t.is_empty() {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

/// Drops bold/italic quote runs (`''`, `'''`, `'''''`) and `__MAGIC__` words.
fn remove_quotes_and_magic_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let mut kept_from = 0;
    while i < b.len() {
        if b[i] == b'\'' && b.get(i + 1) == Some(&b'\'') {
            out.push_str(&s[kept_from..i]);
            while i < b.len() && b[i] == b'\'' {
                i += 1;
            }
            kept_from = i;
        } else if b[i] == b'_' && b[i..].starts_with(b"__") {
            let word = &b[i + 2..];
            let len = word.iter().take_while(|c| c.is_ascii_uppercase()).count();
            if len > 0 && word[len..].starts_with(b"__") {
                out.push_str(&s[kept_from..i]);
                i += 2 + len + 2;
                kept_from = i;
            } else {
                i += 2;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&s[kept_from..]);
    out
}

/// Decodes the entities wikitext uses (`&nbsp;`, dashes, `&amp;`, numeric references).
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&e| e > 0 && e <= 10);
        let decoded = end.and_then(|e| entity(&after[..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "nbsp" | "thinsp" | "ensp" | "emsp" => ' ',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "minus" => '\u{2212}',
        "times" => '\u{d7}',
        "deg" => '\u{b0}',
        "hellip" => '\u{2026}',
        _ => return None,
    })
}

/// `()`, `( ; )`, `(, )`: what is left of a parenthesis whose templates were removed.
fn remove_empty_parentheses(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_whitespace() || matches!(c, ',' | ';' | ':')) =>
            {
                out.push_str(rest[..open].trim_end_matches(' '));
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn links_keep_their_label_or_target_and_files_and_categories_go() {
        let got = clean_wikitext(
            "A [[Paris|city]] and [[London]]s. [[File:X.jpg|thumb|A [[cat]] photo]] \
             [[Category:Cities]][[de:Paris]]",
        );
        assert_eq!(words(&got), "A city and Londons.");
    }

    #[test]
    fn nested_templates_tables_refs_and_comments_are_removed() {
        let got = clean_wikitext(
            "{{Infobox|a={{nested|x}}|b=2}}Text<ref name=\"r\">cite {{web}}</ref> here<ref name=a/>.\
             <!-- hidden -->\n{| class=\"wikitable\"\n|-\n| cell || {{x}}\n|}\nAfter.",
        );
        assert_eq!(words(&got), "Text here. After.");
    }

    #[test]
    fn headings_quotes_lists_and_entities() {
        let got = clean_wikitext(
            "== History ==\n'''Bold''' and ''italic'' &ndash; x&nbsp;y\n* item one\n# item two\n__TOC__",
        );
        assert_eq!(
            words(&got),
            "Bold and italic \u{2013} x y item one item two"
        );
    }

    #[test]
    fn external_links_keep_labels_and_leftover_parentheses_go() {
        let got =
            clean_wikitext("See [https://x.org the site] [http://y.org]. Bob ({{IPA|b}}) ran.");
        assert_eq!(words(&got), "See the site . Bob ran.");
    }

    #[test]
    fn unclosed_markup_swallows_the_rest_instead_of_leaking() {
        assert_eq!(words(&clean_wikitext("ok {{broken template")), "ok");
        assert_eq!(words(&clean_wikitext("ok [[broken link")), "ok");
        assert_eq!(words(&clean_wikitext("ok <ref>never closed")), "ok");
    }
}
