//! Simple features of a text, computed from the text alone, to look for units that track
//! them. Each is a number per character, taken, like a state, after reading that character:
//! `in_quotes` is 1 at an opening quote and 0 at the closing one.

use serde::Serialize;

/// One feature over the text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Feature {
    pub name: &'static str,
    pub about: &'static str,
    /// `[N]` its value after each character.
    pub values: Vec<f32>,
}

/// The features, by name and description, in the order [`features`] returns them.
pub const FEATURES: [(&str, &str); 10] = [
    ("in_quotes", "inside double quotes (\"...\" or “...”)"),
    ("in_brackets", "inside parentheses or brackets: (), [], {}"),
    (
        "column",
        "position in the line: characters since the last newline",
    ),
    ("word_start", "the first character of a word"),
    ("newline", "a newline: the next character starts a line"),
    ("vowel", "a vowel: a, e, i, o, u"),
    ("consonant", "a letter that is not a vowel"),
    ("digit", "a digit"),
    ("upper", "an upper-case letter"),
    (
        "indent",
        "indentation: the current line's leading spaces (a tab counts 4)",
    ),
];

/// The [`FEATURES`] of `chars`.
///
/// ```
/// use charrnn::explain::features;
///
/// let chars: Vec<char> = "a \"b\" c\n  d".chars().collect();
/// let f = features(&chars);
/// assert_eq!(f[0].name, "in_quotes");
/// assert_eq!(f[0].values, [0., 0., 1., 1., 0., 0., 0., 0., 0., 0., 0.]);
/// assert_eq!(f[2].values, [1., 2., 3., 4., 5., 6., 7., 0., 1., 2., 3.]); // column
/// assert_eq!(f[9].values, [0., 0., 0., 0., 0., 0., 0., 0., 1., 2., 2.]); // indent
/// ```
pub fn features(chars: &[char]) -> Vec<Feature> {
    let n = chars.len();
    let mut v: Vec<Vec<f32>> = vec![Vec::with_capacity(n); FEATURES.len()];
    let mut quoted = false;
    let mut depth = 0u32;
    let mut column = 0u32;
    let mut indent = 0u32;
    let mut leading = true;
    let mut prev_word = false;
    for &c in chars {
        match c {
            '"' => quoted = !quoted,
            '“' => quoted = true,
            '”' => quoted = false,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == '\n' {
            (column, indent, leading) = (0, 0, true);
        } else {
            column += 1;
            match c {
                ' ' if leading => indent += 1,
                '\t' if leading => indent += 4,
                _ => leading = false,
            }
        }
        let word = c.is_alphanumeric();
        let lower = c.to_lowercase().next().unwrap_or(c);
        let vowel = matches!(lower, 'a' | 'e' | 'i' | 'o' | 'u');
        let row = [
            quoted as u32,
            (depth > 0) as u32,
            column,
            (word && !prev_word) as u32,
            (c == '\n') as u32,
            vowel as u32,
            (c.is_alphabetic() && !vowel) as u32,
            c.is_numeric() as u32,
            c.is_uppercase() as u32,
            indent,
        ];
        for (col, x) in v.iter_mut().zip(row) {
            col.push(x as f32);
        }
        prev_word = word;
    }
    FEATURES
        .iter()
        .zip(v)
        .map(|(&(name, about), values)| Feature {
            name,
            about,
            values,
        })
        .collect()
}
