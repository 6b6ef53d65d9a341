//! Made-up people: realistic, varied names (accents, CJK, Vietnamese,
//! Cyrillic, plain ASCII, or none at all) and unique email addresses.

use rand::Rng;

use crate::state::Inner;

/// (name, ASCII form for email addresses).
type Part = (&'static str, &'static str);

const GIVEN: &[Part] = &[
    ("Zoë", "zoe"),
    ("Øyvind", "oyvind"),
    ("José", "jose"),
    ("Björn", "bjorn"),
    ("Chloé", "chloe"),
    ("Mårten", "marten"),
    ("Renée", "renee"),
    ("Łukasz", "lukasz"),
    ("Siobhán", "siobhan"),
    ("François", "francois"),
    ("Jürgen", "jurgen"),
    ("Ayşe", "ayse"),
    ("Priya", "priya"),
    ("Chinedu", "chinedu"),
    ("John", "john"),
    ("Mary", "mary"),
    ("Ana", "ana"),
    ("Kai", "kai"),
];

const FAMILY: &[Part] = &[
    ("Ångström", "angstrom"),
    ("Ødegård", "odegard"),
    ("García", "garcia"),
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("Dvořák", "dvorak"),
    ("Yılmaz", "yilmaz"),
    ("Lefèvre", "lefevre"),
    ("van der Berg", "vanderberg"),
    ("Okafor", "okafor"),
    ("Smith", "smith"),
    ("Patel", "patel"),
    ("Nowak", "nowak"),
];

/// Names written family name first: (family, given, display, ASCII form).
const FAMILY_FIRST: &[(&str, &str, &str, &str)] = &[
    ("李", "雷", "李雷", "li.lei"),
    ("王", "芳", "王芳", "wang.fang"),
    ("张", "伟", "张伟", "zhang.wei"),
    ("佐藤", "花子", "佐藤 花子", "sato.hanako"),
    ("김", "민준", "김민준", "kim.minjun"),
    ("Nguyễn", "Văn An", "Nguyễn Văn An", "nguyen.van.an"),
    ("Trần", "Thị Mai", "Trần Thị Mai", "tran.thi.mai"),
];

const CYRILLIC: &[(&str, &str, &str)] = &[
    ("Анна", "Иванова", "anna.ivanova"),
    ("Дмитрий", "Соколов", "dmitry.sokolov"),
];

const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
];

/// A made-up person, before a provider shapes it into its user object.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub first: Option<String>,
    pub last: Option<String>,
    /// The whole name as shown (a display name).
    pub display: Option<String>,
    /// ASCII handle for email addresses and usernames.
    pub handle: String,
}

pub(crate) fn person(rng: &mut impl Rng) -> Person {
    let owned = |s: &str| Some(s.to_owned());
    let roll = rng.random_range(0..100);
    match roll {
        // No name at all.
        0..7 => Person {
            first: None,
            last: None,
            display: None,
            handle: "user".to_owned(),
        },
        7..15 => {
            let &(given, ascii) = pick(GIVEN, rng);
            Person {
                first: owned(given),
                last: None,
                display: owned(given),
                handle: ascii.to_owned(),
            }
        }
        15..30 => {
            let &(family, given, display, ascii) = pick(FAMILY_FIRST, rng);
            Person {
                first: owned(given),
                last: owned(family),
                display: owned(display),
                handle: ascii.to_owned(),
            }
        }
        30..34 => {
            let &(given, family, ascii) = pick(CYRILLIC, rng);
            Person {
                first: owned(given),
                last: owned(family),
                display: Some(format!("{given} {family}")),
                handle: ascii.to_owned(),
            }
        }
        _ => {
            let &(given, given_ascii) = pick(GIVEN, rng);
            let &(family, family_ascii) = pick(FAMILY, rng);
            Person {
                first: owned(given),
                last: owned(family),
                display: Some(format!("{given} {family}")),
                handle: format!("{given_ascii}.{family_ascii}"),
            }
        }
    }
}

/// Someone whose display name differs from `current`, so an update
/// always changes something.
pub(crate) fn different_person(rng: &mut impl Rng, current: Option<&str>) -> Person {
    loop {
        let person = person(rng);
        if person.display.as_deref() != current {
            return person;
        }
    }
}

/// An address no user has yet.
pub(crate) fn fresh_email(inner: &mut Inner, handle: &str) -> String {
    loop {
        let serial = inner.next_serial();
        let address = email(&mut inner.rng, handle, serial);
        if inner.store.email_owner(&address).is_none() {
            return address;
        }
    }
}

/// An address made unique by `serial`.
pub(crate) fn email(rng: &mut impl Rng, handle: &str, serial: u64) -> String {
    format!("{handle}{serial}@{}", pick(DOMAINS, rng))
}

fn pick<'a, T>(items: &'a [T], rng: &mut impl Rng) -> &'a T {
    // The lists above are constant and non-empty.
    &items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn people_are_varied_and_deterministic() {
        let people = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..500).map(|_| person(&mut rng)).collect::<Vec<_>>()
        };
        let a = people(1);
        assert!(a.iter().any(|p| p.display.is_none()));
        assert!(a.iter().any(|p| p.last.is_none() && p.first.is_some()));
        assert!(
            a.iter()
                .any(|p| p.display.as_deref().is_some_and(|d| !d.is_ascii()))
        );
        assert!(a.iter().all(|p| p.handle.is_ascii()));
        let names = |ps: &[Person]| ps.iter().map(|p| p.display.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&people(1)));
        let mut rng = StdRng::seed_from_u64(1);
        assert!(email(&mut rng, "zoe", 7).contains("zoe7@"));
    }
}
