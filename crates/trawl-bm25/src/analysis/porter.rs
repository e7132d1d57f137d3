//! The original Porter (1980) stemmer, as in Lucene's `PorterStemmer` (release 3 of Martin
//! Porter's reference implementation, with its two bounds fixes). Not Snowball's "Porter2".
//!
//! Works on `char`s so that non-ASCII letters behave as in Lucene (they count as consonants).

/// Reusable Porter stemmer state (keeps its buffer between words).
#[derive(Default, Debug, Clone)]
pub struct PorterStemmer {
    b: Vec<char>,
    j: usize,
    k: usize,
}

impl PorterStemmer {
    /// A stemmer with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stems `word` and appends the result to `out`.
    pub fn stem_into(&mut self, word: &str, out: &mut String) {
        self.b.clear();
        self.b.extend(word.chars());
        let n = self.stem_buffer();
        out.extend(&self.b[..n]);
    }

    /// Stems `word` into a new string.
    pub fn stem(&mut self, word: &str) -> String {
        let mut s = String::with_capacity(word.len());
        self.stem_into(word, &mut s);
        s
    }

    /// Stems the word in `self.b`; returns the length of the result.
    fn stem_buffer(&mut self) -> usize {
        let len = self.b.len();
        // Lucene: k = i - 1; words of one or two letters are left alone.
        if len <= 2 {
            return len;
        }
        self.k = len - 1;
        self.j = 0;
        self.step1();
        self.step2();
        self.step3();
        self.step4();
        self.step5();
        self.step6();
        self.k + 1
    }

    /// Is `b[i]` a consonant?
    fn cons(&self, i: usize) -> bool {
        match self.b[i] {
            'a' | 'e' | 'i' | 'o' | 'u' => false,
            'y' => i == 0 || !self.cons(i - 1),
            _ => true,
        }
    }

    /// The measure m of `b[0..=j]`: the number of VC sequences.
    fn m(&self) -> usize {
        let j = self.j as isize;
        let mut n = 0;
        let mut i: isize = 0;
        loop {
            if i > j {
                return n;
            }
            if !self.cons(i as usize) {
                break;
            }
            i += 1;
        }
        i += 1;
        loop {
            loop {
                if i > j {
                    return n;
                }
                if self.cons(i as usize) {
                    break;
                }
                i += 1;
            }
            i += 1;
            n += 1;
            loop {
                if i > j {
                    return n;
                }
                if !self.cons(i as usize) {
                    break;
                }
                i += 1;
            }
            i += 1;
        }
    }

    /// Does `b[0..=j]` contain a vowel?
    fn vowel_in_stem(&self) -> bool {
        (0..=self.j).any(|i| !self.cons(i))
    }

    /// Do `b[j-1]`, `b[j]` form a double consonant?
    fn doublec(&self, j: usize) -> bool {
        j >= 1 && self.b[j] == self.b[j - 1] && self.cons(j)
    }

    /// Is `b[i-2..=i]` consonant-vowel-consonant, the last not w, x or y?
    fn cvc(&self, i: usize) -> bool {
        if i < 2 || !self.cons(i) || self.cons(i - 1) || !self.cons(i - 2) {
            return false;
        }
        !matches!(self.b[i], 'w' | 'x' | 'y')
    }

    /// Does `b[0..=k]` end with `s`? If so, sets `j` to just before the suffix.
    fn ends(&mut self, s: &str) -> bool {
        let l = s.len(); // suffixes are ASCII
        if l > self.k + 1 {
            return false;
        }
        let o = self.k + 1 - l;
        if !s
            .bytes()
            .zip(&self.b[o..=self.k])
            .all(|(a, &c)| a as char == c)
        {
            return false;
        }
        // Lucene's j = k - l may be -1 ("ion" alone); we keep it unsigned and guard its users.
        self.j = o.wrapping_sub(1);
        true
    }

    /// j is "before the start of the word" after `ends` matched the whole word.
    fn j_valid(&self) -> bool {
        self.j != usize::MAX
    }

    /// Replaces `b[j+1..=k]` with `s`.
    fn setto(&mut self, s: &str) {
        let o = self.j.wrapping_add(1);
        self.b.truncate(o);
        self.b.extend(s.chars());
        self.k = o + s.len() - 1; // s is never empty here
    }

    fn r(&mut self, s: &str) {
        if self.j_valid() && self.m() > 0 {
            self.setto(s);
        }
    }

    /// Plurals and -ed / -ing.
    fn step1(&mut self) {
        if self.b[self.k] == 's' {
            if self.ends("sses") {
                self.k -= 2;
            } else if self.ends("ies") {
                self.setto("i");
            } else if self.b[self.k - 1] != 's' {
                self.k -= 1;
            }
        }
        if self.ends("eed") {
            if self.j_valid() && self.m() > 0 {
                self.k -= 1;
            }
        } else if (self.ends("ed") || self.ends("ing")) && self.j_valid() && self.vowel_in_stem() {
            self.k = self.j;
            if self.ends("at") {
                self.setto("ate");
            } else if self.ends("bl") {
                self.setto("ble");
            } else if self.ends("iz") {
                self.setto("ize");
            } else if self.doublec(self.k) {
                let ch = self.b[self.k];
                self.k -= 1;
                if matches!(ch, 'l' | 's' | 'z') {
                    self.k += 1;
                }
            } else {
                self.j = self.k;
                if self.m() == 1 && self.cvc(self.k) {
                    self.setto("e");
                }
            }
        }
    }

    /// Terminal y to i when there is another vowel in the stem.
    fn step2(&mut self) {
        if self.ends("y") && self.j_valid() && self.vowel_in_stem() {
            self.b[self.k] = 'i';
        }
    }

    /// Double suffixes to single ones (-ization -> -ize, ...).
    fn step3(&mut self) {
        if self.k == 0 {
            return;
        }
        let rules: &[(&str, &str)] = match self.b[self.k - 1] {
            'a' => &[("ational", "ate"), ("tional", "tion")],
            'c' => &[("enci", "ence"), ("anci", "ance")],
            'e' => &[("izer", "ize")],
            'l' => &[
                ("bli", "ble"),
                ("alli", "al"),
                ("entli", "ent"),
                ("eli", "e"),
                ("ousli", "ous"),
            ],
            'o' => &[("ization", "ize"), ("ation", "ate"), ("ator", "ate")],
            's' => &[
                ("alism", "al"),
                ("iveness", "ive"),
                ("fulness", "ful"),
                ("ousness", "ous"),
            ],
            't' => &[("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")],
            'g' => &[("logi", "log")],
            _ => &[],
        };
        self.first_rule(rules);
    }

    /// -ic-, -full, -ness etc.
    fn step4(&mut self) {
        let rules: &[(&str, &str)] = match self.b[self.k] {
            'e' => &[("icate", "ic"), ("ative", ""), ("alize", "al")],
            'i' => &[("iciti", "ic")],
            'l' => &[("ical", "ic"), ("ful", "")],
            's' => &[("ness", "")],
            _ => &[],
        };
        self.first_rule(rules);
    }

    /// Applies the first rule whose suffix matches (Lucene's `if (ends(..)) { r(..); break; }`).
    fn first_rule(&mut self, rules: &[(&str, &str)]) {
        for (suffix, repl) in rules {
            if self.ends(suffix) {
                if repl.is_empty() {
                    // r("") : setto("") makes k = j.
                    if self.j_valid() && self.m() > 0 {
                        self.k = self.j;
                    }
                } else {
                    self.r(repl);
                }
                return;
            }
        }
    }

    /// -ant, -ence etc. in context <c>vcvc<v>.
    fn step5(&mut self) {
        if self.k == 0 {
            return;
        }
        let matched = match self.b[self.k - 1] {
            'a' => self.ends("al"),
            'c' => self.ends("ance") || self.ends("ence"),
            'e' => self.ends("er"),
            'i' => self.ends("ic"),
            'l' => self.ends("able") || self.ends("ible"),
            'n' => self.ends("ant") || self.ends("ement") || self.ends("ment") || self.ends("ent"),
            'o' => {
                (self.ends("ion") && self.j_valid() && matches!(self.b[self.j], 's' | 't'))
                    || self.ends("ou")
            }
            's' => self.ends("ism"),
            't' => self.ends("ate") || self.ends("iti"),
            'u' => self.ends("ous"),
            'v' => self.ends("ive"),
            'z' => self.ends("ize"),
            _ => false,
        };
        if matched && self.j_valid() && self.m() > 1 {
            self.k = self.j;
        }
    }

    /// Removes a final -e if m > 1, and -ll -> -l if m > 1.
    fn step6(&mut self) {
        self.j = self.k;
        if self.b[self.k] == 'e' {
            let a = self.m();
            if a > 1 || (a == 1 && !self.cvc(self.k - 1)) {
                self.k -= 1;
            }
        }
        if self.b[self.k] == 'l' && self.doublec(self.k) && self.m() > 1 {
            self.k -= 1;
        }
    }
}
