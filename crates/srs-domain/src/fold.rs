//! How text is compared for search, sorting and duplicate checks: without
//! case and without accents, the same way on every database engine, so
//! "Muller", "müller" and "MÜLLER" all find Müller, and "Zoe" is the same
//! name as "Zoë" when checking for duplicates.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Letters that do not decompose into a base letter and a mark, spelled as
/// people type them without the accent.
fn spelled(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'ł' | 'Ł' => "l",
        'ħ' | 'Ħ' => "h",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// The folded form of `text`: compatibility-decomposed, marks removed,
/// lower-cased, with the few letters above spelled out.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)) {
        match spelled(c) {
            Some(s) => out.push_str(s),
            None => out.extend(c.to_lowercase()),
        }
    }
    // Lower-casing may produce marks again (İ becomes i + a dot above).
    out.chars().filter(|c| !is_combining_mark(*c)).collect()
}

/// Apostrophes as people and word processors type them: dropped, so
/// "obrien", "o'brien" and "O’Brien" are one spelling.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ' | '`' | '´' | '′')
}

/// Hyphens and dashes: word breaks, so "Smith‐Jones" (a typographic
/// hyphen) is found by "smith-jones", "smith jones" and "jones smith".
fn is_dash(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '_')
}

/// The folded form search compares: [`fold`], then apostrophes dropped,
/// hyphens and dashes made spaces, and runs of white space made one.
pub fn fold_for_search(text: &str) -> String {
    let folded: String = fold(text)
        .chars()
        .filter(|c| !is_apostrophe(*c))
        .map(|c| if is_dash(c) { ' ' } else { c })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most this many words of a query are matched (the rest are ignored):
/// each costs a scan of the search text.
pub const SEARCH_WORDS: usize = 8;

/// The words of a search query, folded, without repeats, each of which a
/// record's search text must contain (in any order).
pub fn search_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in fold_for_search(query).split(' ').filter(|w| !w.is_empty()) {
        // A word inside another is already required by it.
        if words.iter().any(|w| w.contains(word)) {
            continue;
        }
        words.retain(|w| !word.contains(w.as_str()));
        words.push(word.to_owned());
    }
    words.truncate(SEARCH_WORDS);
    words
}

/// Whether a record whose search text is `folded` (from
/// [`fold_for_search`]) matches `query`: what the database's search does,
/// for tests and for checking one record.
pub fn search_matches(folded: &str, query: &str) -> bool {
    search_words(query)
        .iter()
        .all(|w| folded.contains(w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::{fold, fold_for_search, search_matches, search_words};
    use proptest::prelude::*;

    #[test]
    fn search_matches_every_word_in_any_order_with_punctuation_folded() {
        let ada = fold_for_search("Ada Bz Sharma");
        assert!(search_matches(&ada, "Ada Sharma"));
        assert!(search_matches(&ada, "sharma ada"));
        assert!(!search_matches(&ada, "Ada Smith"));
        let zoe = fold_for_search("Zoë Müller");
        assert!(search_matches(&zoe, "muller zoe"));
        let obrien = fold_for_search("Seán O'Brien");
        for q in ["obrien", "O'Brien", "o’brien", "O‘Brien", "brien sean"] {
            assert!(search_matches(&obrien, q), "{q}");
        }
        let hyphen = fold_for_search("Anna Smith-Jones");
        for q in [
            "smith-jones",
            "Smith‐Jones",
            "smith jones",
            "jones anna",
            "Smith–Jones",
        ] {
            assert!(search_matches(&hyphen, q), "{q}");
        }
        // A student number keeps matching as written.
        let number = fold_for_search("Ada Lovelace S2026-000123 ada@example.edu");
        assert!(search_matches(&number, "S2026-000123"));
        assert!(search_matches(&number, "ada@example.edu"));
    }

    #[test]
    fn query_words_are_few_and_not_repeated() {
        assert_eq!(search_words("  Ada   ada  ADA "), vec!["ada"]);
        assert_eq!(search_words("an anna"), vec!["anna"]);
        assert_eq!(search_words("anna an"), vec!["anna"]);
        assert_eq!(
            search_words("a b c d e f g h i j k").len(),
            super::SEARCH_WORDS
        );
        assert!(search_words(" ’ - ").is_empty());
    }

    /// A name word: letters (some accented), maybe an apostrophe inside.
    fn word() -> impl Strategy<Value = String> {
        (
            "[a-zA-ZéüøÅ]{1,8}",
            prop::option::of(("['’]", "[a-zA-Z]{1,6}")),
        )
            .prop_map(|(head, tail)| match tail {
                Some((apostrophe, rest)) => format!("{head}{apostrophe}{rest}"),
                None => head,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any subset of a name's words, in any order, typed with the other
        /// apostrophe, another case and ASCII hyphens, finds the name.
        #[test]
        fn any_words_of_a_name_in_any_order_find_it(
            words in prop::collection::vec(word(), 1..5),
            joiners in prop::collection::vec(prop::sample::select(vec![" ", "-", "‐", " - "]), 4),
            pick in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
            upper in any::<bool>(),
        ) {
            let mut name = words[0].clone();
            for (w, j) in words[1..].iter().zip(&joiners) {
                name.push_str(j);
                name.push_str(w);
            }
            let folded = fold_for_search(&name);
            let mut query: Vec<String> = pick
                .iter()
                .map(|i| {
                    let w = i.get(&words).replace('’', "'");
                    if upper { w.to_uppercase() } else { w }
                })
                .collect();
            query.reverse();
            let query = query.join(" ");
            prop_assert!(search_matches(&folded, &query), "{:?} not found by {:?}", name, query);
        }

        /// Folding for search is idempotent and leaves no double spaces.
        #[test]
        fn folding_for_search_is_stable(text in "\\PC{0,40}") {
            let once = fold_for_search(&text);
            prop_assert_eq!(fold_for_search(&once), once.clone());
            prop_assert!(!once.contains("  "));
            prop_assert_eq!(once.trim(), once.as_str());
        }
    }

    #[test]
    fn case_and_accents_fold_away() {
        assert_eq!(fold("Müller"), "muller");
        assert_eq!(fold("MÜLLER"), fold("muller"));
        assert_eq!(fold("Émile Zola"), "emile zola");
        assert_eq!(fold("Zoë"), fold("Zoe"));
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("Łukasz Øster"), "lukasz oster");
        assert_eq!(fold("İstanbul"), "istanbul");
        // Decomposed input folds like composed input.
        assert_eq!(fold("Mu\u{0308}ller"), "muller");
        // Scripts without case or accents are kept.
        assert_eq!(fold("王小明"), "王小明");
        assert_eq!(fold("Ольга"), "ольга");
    }

    #[test]
    fn folding_is_idempotent() {
        for s in ["Ça va", "ﬁnance", "Ångström", "O'Brien-Smith"] {
            assert_eq!(fold(&fold(s)), fold(s), "{s}");
        }
    }
}
