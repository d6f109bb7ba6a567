//! The SQLite versions that mobile platforms ship, for planning offline: a team generating a
//! migration file for Android 8 asks for `android-26` and gets a plan that SQLite 3.18 can run.
//!
//! This module owns the table and the names (`android-26`, `ios-15`, `ios-17.2`) and nothing
//! else. It is never consulted for a live host: a host's version is asked of its SQLite.
//!
//! Each entry gives the oldest SQLite a platform release ships (x.y.0: device makers and
//! patch updates may only add to it), so a plan for the entry runs on every device of that
//! release. Sources: Android's `android.database.sqlite` package summary (its table of API
//! level → SQLite version; a level not in it has the version of the next lower listed one;
//! API 34 shipped 3.39 and was later updated to 3.42, so 34 is 3.39); for iOS, the SQLite
//! version each SDK's `libsqlite3` reports (Apple publishes no table).

use crate::version::SqliteVersion;

impl SqliteVersion {
    /// A version as a user names it: `3.45.1`, or a platform release (`android-26`,
    /// `ios-15`; see the platform table in `platform.rs`). The error says what is expected.
    pub fn from_option(s: &str) -> Result<Self, String> {
        if let Some(found) = lookup(s) {
            return found;
        }
        Self::parse(s).ok_or_else(|| {
            format!("{s:?}: expected a SQLite version like 3.40.0, or a platform release like android-26 or ios-15")
        })
    }
}

/// (platform release, SQLite major.minor), ascending. A release between two entries has the
/// lower entry's SQLite.
const ANDROID: &[(Release, (u32, u32))] = &[
    (Release(21, 0), (3, 8)),
    (Release(24, 0), (3, 9)),
    (Release(26, 0), (3, 18)),
    (Release(27, 0), (3, 19)),
    (Release(28, 0), (3, 22)),
    (Release(30, 0), (3, 28)),
    (Release(31, 0), (3, 32)),
    (Release(34, 0), (3, 39)),
    (Release(35, 0), (3, 44)),
    (Release(36, 1), (3, 50)),
];

const IOS: &[(Release, (u32, u32))] = &[
    (Release(13, 0), (3, 28)),
    (Release(14, 0), (3, 32)),
    (Release(15, 0), (3, 36)),
    (Release(16, 0), (3, 39)),
    (Release(17, 2), (3, 43)),
];

/// A platform release number, `major.minor` (Android API levels are `36` or `36.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Release(u32, u32);

impl Release {
    fn parse(s: &str) -> Option<Release> {
        let (major, minor) = match s.split_once('.') {
            Some((a, b)) => (a, b),
            None => (s, "0"),
        };
        Some(Release(major.parse().ok()?, minor.parse().ok()?))
    }
}

/// The SQLite that Cloudflare's runtime, workerd, runs for D1 and Durable Objects: 3.47.0
/// (source id 2024-10-21) in workerd 1.20260730 (miniflare 4.20260730.0), read from the
/// binary and confirmed by features (3.44's `string_agg()` works; 3.48's two-argument
/// `iif()` and 3.50's `unistr()` do not). A migration file for D1 written offline is planned
/// for it unless a version is given (`--sqlite-version`); a live D1 binding is probed.
pub const CLOUDFLARE_D1: SqliteVersion = SqliteVersion(3, 47, 0);

/// Every platform name and its SQLite version, for the test that each resolves.
#[cfg(test)]
pub fn table() -> Vec<(String, SqliteVersion)> {
    let show = |prefix: &str, r: Release| match r.1 {
        0 => format!("{prefix}-{}", r.0),
        m => format!("{prefix}-{}.{m}", r.0),
    };
    let rows = |prefix: &'static str, t: &'static [(Release, (u32, u32))]| {
        t.iter()
            .map(move |(r, (a, b))| (show(prefix, *r), SqliteVersion(*a, *b, 0)))
    };
    rows("android", ANDROID).chain(rows("ios", IOS)).collect()
}

/// The SQLite version of a platform release named `android-N`, `android-N.M`, `ios-N` or
/// `ios-N.M`; `None` when `name` is not such a name. An error when it names a release older
/// than the table knows.
pub fn lookup(name: &str) -> Option<Result<SqliteVersion, String>> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "d1" || lower == "cloudflare-d1" {
        return Some(Ok(CLOUDFLARE_D1));
    }
    let (platform, table) = if let Some(rest) = lower.strip_prefix("android-") {
        (("Android API", rest), ANDROID)
    } else if let Some(rest) = lower.strip_prefix("ios-") {
        (("iOS", rest), IOS)
    } else {
        return None;
    };
    let Some(release) = Release::parse(platform.1) else {
        return Some(Err(format!(
            "{name:?}: expected a release number after the platform, like android-26 or ios-15"
        )));
    };
    let found = table.iter().rev().find(|(r, _)| *r <= release);
    Some(match found {
        Some((_, (a, b))) => Ok(SqliteVersion(*a, *b, 0)),
        None => Err(format!(
            "{name:?}: liteshift knows {} releases from {} on; give the SQLite version instead (e.g. 3.8.0)",
            platform.0,
            table[0].0 .0
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> SqliteVersion {
        lookup(name).unwrap().unwrap()
    }

    #[test]
    fn releases_map_to_the_lower_listed_entry() {
        assert_eq!(v("android-24"), SqliteVersion(3, 9, 0));
        assert_eq!(v("android-25"), SqliteVersion(3, 9, 0));
        assert_eq!(v("android-26"), SqliteVersion(3, 18, 0));
        assert_eq!(v("android-29"), SqliteVersion(3, 22, 0));
        assert_eq!(v("android-33"), SqliteVersion(3, 32, 0));
        assert_eq!(v("android-34"), SqliteVersion(3, 39, 0));
        assert_eq!(v("android-36"), SqliteVersion(3, 44, 0));
        assert_eq!(v("android-36.1"), SqliteVersion(3, 50, 0));
        assert_eq!(v("android-40"), SqliteVersion(3, 50, 0));
        assert_eq!(v("iOS-15"), SqliteVersion(3, 36, 0));
        assert_eq!(v("ios-17"), SqliteVersion(3, 39, 0));
        assert_eq!(v("ios-17.2"), SqliteVersion(3, 43, 0));
        assert_eq!(v("ios-18"), SqliteVersion(3, 43, 0));
        assert_eq!(v("d1"), SqliteVersion(3, 47, 0));
    }

    #[test]
    fn other_names_are_not_platforms_and_old_releases_are_errors() {
        assert!(lookup("3.40.1").is_none());
        assert!(lookup("windows-11").is_none());
        let e = lookup("android-19").unwrap().unwrap_err();
        assert!(e.contains("from 21 on"), "{e}");
        assert!(lookup("ios-x").unwrap().is_err());
    }

    #[test]
    fn the_table_names_round_trip() {
        for (name, version) in table() {
            assert_eq!(v(&name), version, "{name}");
        }
    }
}
