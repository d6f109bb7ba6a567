//! The start-up fast paths: most starts find the database already at the declared schema, and
//! then loading the declared schema into a scratch database (most of a no-op's time) cannot
//! give a different model.
//!
//! The first, [`stored_in_sync`], reads `sqlite_schema` and nothing else: when the declared
//! text is, statement by statement, byte for byte the stored text (the `CREATE` keywords before
//! the name aside, which SQLite rewrites), the database is at the declared schema, and the
//! in-sync plan needs only the stored schema's fingerprint. No tokenizing, no parsing, no
//! model: a start-up costs about one read of the catalog. A statement whose stored text differs
//! in spacing only (a native `ADD COLUMN` splices the column into the stored text in SQLite's
//! own spacing) is compared in tokens, that statement alone, as the second path compares them.
//!
//! When every object's stored `sqlite_schema.sql` is, token for token, a declared statement
//! (and the two sets of objects are the same), the database was made by those very
//! statements, so SQLite reads the same model out of it as out of a scratch database loaded
//! with them: the introspected model stands in for the declared one. This module owns that
//! comparison and nothing else; the plan is still made by the planner, from the two models.
//!
//! Architecture invariant: the fast path only ever says "in sync". Any difference — a token,
//! an object, a statement the tokenizer cannot read, anything the options make depend on
//! the declared load (explicit hints, `deny_dangling_foreign_keys`, stand-in modules) — or a
//! plan that is not empty returns `None`, and the caller takes the full path.
//! `tests/tests/properties.rs` checks that it never says "in sync" where the full path
//! plans a step.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::declared::{self, Declared};
use crate::host::{Host, Value, ValueRef};
use crate::model::{StoredFingerprint, ONLINE_REGISTRY};
use crate::share::{platform_may_own, platform_of, Ignore};
use crate::sqltext;
use crate::{Options, Result};

/// The stored schema's fingerprint when the database is at the declared schema `schema_sql`,
/// told from `sqlite_schema` alone (see the module comment); `None` when that cannot be told
/// so (the caller takes the next path): a difference in the text, annotations or options that
/// need the declared schema loaded, virtual tables (their shadow tables are not declared), or
/// what an interrupted online rebuild left.
pub fn stored_in_sync(host: &dyn Host, schema_sql: &str, opts: &Options) -> Result<Option<String>> {
    if !opts.hints.is_empty()
        || opts.deny_dangling_foreign_keys
        || opts.host_modules
        || opts.keep_undeclared
        || schema_sql.contains("liteshift:")
    {
        return Ok(None);
    }
    let not_ours = Ignore::new(opts.ignore.iter().map(String::as_str))?;
    let mut catalog = Catalog::new(schema_sql.as_bytes());
    // Only the text: the kind, the name and the table are in it, and every value read costs
    // about as much as a row. As a blob: SQLite copies a text to end it with a NUL.
    host.query_each(
        "SELECT CAST(sql AS BLOB) FROM main.sqlite_master WHERE sql IS NOT NULL",
        &mut |row| {
            let sql = row.first().and_then(ValueRef::bytes).unwrap_or_default();
            catalog.add(sql, &not_ours);
        },
    )?;
    Ok(catalog.declared_by())
}

/// The stored texts of `sqlite_schema`, compared with a declared schema as they are read: in
/// the declared order first (a database made from this very text has its catalog in that
/// order), the rest kept for [`declared_as_text`]; and the fingerprint of all the objects a
/// model has ([`crate::Schema::stored_fingerprint`]).
struct Catalog<'d> {
    /// The declared text not yet matched in order.
    declared: &'d [u8],
    /// The texts that did not come in the declared order, one after the other, and where each is.
    texts: Vec<u8>,
    ranges: Vec<std::ops::Range<usize>>,
    fingerprint: StoredFingerprint,
    /// Something only a model can tell (a virtual table, an online rebuild's leftovers, a
    /// text not in SQLite's stored form).
    unknown: bool,
}

impl<'d> Catalog<'d> {
    fn new(declared: &'d [u8]) -> Self {
        Catalog {
            declared,
            texts: Vec::new(),
            ranges: Vec::new(),
            fingerprint: StoredFingerprint::default(),
            unknown: false,
        }
    }

    /// One row: an object's stored text. SQLite's own objects and a platform's (or on a
    /// platform's table) are not the schema's; ignored ones are in the fingerprint (a model
    /// has them) and not compared.
    fn add(&mut self, sql: &[u8], not_ours: &Ignore) {
        let Some(StoredForm {
            prefix,
            name,
            table,
        }) = stored_form(sql)
        else {
            self.unknown = true;
            return;
        };
        if prefix == b"CREATE VIRTUAL TABLE " {
            self.unknown = true;
            return;
        }
        // Most names cannot be SQLite's, a platform's or liteshift's own: only the others (or
        // all, with ignore patterns) are unquoted and looked at.
        let special = |token: &[u8]| {
            let first = match token {
                [b'"' | b'`' | b'\'' | b'[', c, ..] | [c, ..] => *c,
                [] => return false,
            };
            first.eq_ignore_ascii_case(&b's') || first == b'_' || platform_may_own(first)
        };
        if !not_ours.is_empty() || special(name) || table.is_some_and(special) {
            let name = dequote(name);
            let table = table.map(dequote);
            let table = table.as_deref().unwrap_or(&name);
            if is_sqlite_own(&name) || platform_of(&name).is_some() || platform_of(table).is_some()
            {
                return;
            }
            if name.eq_ignore_ascii_case(ONLINE_REGISTRY) {
                self.unknown = true;
                return;
            }
            if not_ours.matching_object(&name, Some(table)).is_some() {
                self.fingerprint.add(sql);
                return;
            }
        }
        self.fingerprint.add(sql);
        match next_statement_is(self.declared, sql) {
            Some(rest) => self.declared = rest,
            None => {
                let start = self.texts.len();
                self.texts.extend_from_slice(sql);
                self.ranges.push(start..self.texts.len());
            }
        }
    }

    /// The fingerprint, when the declared text is exactly the compared texts.
    fn declared_by(self) -> Option<String> {
        let rest: Vec<&[u8]> = self.ranges.iter().map(|r| &self.texts[r.clone()]).collect();
        (!self.unknown && declared_as_text(self.declared, &rest)).then(|| self.fingerprint.finish())
    }
}

/// What a stored text says before its definition.
struct StoredForm<'a> {
    /// `CREATE TABLE `…, as [`stored_prefix`] gives them.
    prefix: &'static [u8],
    /// The object's name token.
    name: &'a [u8],
    /// An index's or a trigger's table token.
    table: Option<&'a [u8]>,
}

/// The form of a stored text; `None` for a text SQLite would not have stored.
fn stored_form(sql: &[u8]) -> Option<StoredForm<'_>> {
    const FORMS: [(&[u8], bool); 6] = [
        (b"CREATE TABLE ", false),
        (b"CREATE INDEX ", true),
        (b"CREATE UNIQUE INDEX ", true),
        (b"CREATE VIEW ", false),
        (b"CREATE TRIGGER ", true),
        (b"CREATE VIRTUAL TABLE ", false),
    ];
    let (prefix, on_table) = FORMS.into_iter().find(|(f, _)| sql.starts_with(f))?;
    let at_name = &sql[prefix.len()..];
    let name = name_token(at_name)?;
    let table = if on_table {
        Some(table_after_on(&at_name[name.len()..])?)
    } else {
        None
    };
    Some(StoredForm {
        prefix,
        name,
        table,
    })
}

/// The table token after the first `ON` keyword of `text`, the rest of an index's or a
/// trigger's stored text after its name (`ON t(x)`, `AFTER UPDATE OF a, "b" ON main.t …`: no
/// column list of a trigger holds a bare `ON`).
fn table_after_on(mut text: &[u8]) -> Option<&[u8]> {
    loop {
        text = skip_space(text)?;
        let token = match name_token(text) {
            Some(t) => t,
            None => text.get(..1)?,
        };
        text = &text[token.len()..];
        if token.eq_ignore_ascii_case(b"ON") {
            let text = skip_space(text)?;
            let first = name_token(text)?;
            // A schema-qualified table: its name is the second token.
            return match skip_space(&text[first.len()..])?.strip_prefix(b".") {
                Some(rest) => name_token(skip_space(rest)?),
                None => Some(first),
            };
        }
    }
}

/// The text after the next statement of `declared` when that statement is `stored` (in the
/// sense of [`declared_as_text`]), and the `;` ending it.
fn next_statement_is<'d>(declared: &'d [u8], stored: &[u8]) -> Option<&'d [u8]> {
    let mut rest = skip_space(declared)?;
    while let Some(r) = rest.strip_prefix(b";") {
        rest = skip_space(r)?;
    }
    // A declared statement written as SQLite stores it (keywords included) is one comparison.
    let after = match rest.strip_prefix(stored) {
        Some(after) => after,
        None => {
            let (prefix, at_name) = stored_prefix(rest)?;
            at_name.strip_prefix(stored.strip_prefix(prefix)?)?
        }
    };
    let after = skip_space(after)?;
    match after.strip_prefix(b";") {
        Some(r) => Some(r),
        None => after.is_empty().then_some(after),
    }
}

/// SQLite's own objects (`sqlite_sequence`, `sqlite_stat1`…), never in a model.
fn is_sqlite_own(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"))
}

/// `bytes` as text (checked without copying when they are UTF-8, as a name almost always is).
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A name token without its quotes, as `sqlite_schema.name` has it.
fn dequote(token: &[u8]) -> Cow<'_, str> {
    let close = match token.first() {
        Some(b'"') => b'"',
        Some(b'`') => b'`',
        Some(b'\'') => b'\'',
        Some(b'[') => b']',
        _ => return utf8(token),
    };
    let inner = utf8(&token[1..token.len() - 1]);
    let c = char::from(close);
    if close == b']' || !inner.contains(c) {
        return inner;
    }
    Cow::Owned(inner.replace(&format!("{c}{c}"), &c.to_string()))
}

/// Whether `schema_sql`'s statements are exactly the `stored` texts, each once, in any order:
/// byte for byte from the object's name to the statement's last token, the keywords before
/// the name in the form SQLite stores them ([`stored_prefix`]), anything else between
/// statements space, comments and `;`. A statement that is not byte for byte its object's
/// stored text may still be it token for token ([`same_tokens`]): SQLite's own `ALTER TABLE`
/// splices its edits into the stored text in its own spacing. Every answer in doubt is `false`.
fn declared_as_text<'s>(schema_sql: &[u8], stored: &[&'s [u8]]) -> bool {
    let mut used = vec![false; stored.len()];
    let mut by_name: Option<BTreeMap<&str, usize>> = None;
    let (mut rest, mut next, mut matched) = (schema_sql, 0, 0);
    loop {
        let Some(r) = skip_space(rest) else {
            return false;
        };
        rest = r;
        if let Some(r) = rest.strip_prefix(b";") {
            rest = r;
            continue;
        }
        if rest.is_empty() {
            return matched == stored.len();
        }
        let Some((prefix, at_name)) = stored_prefix(rest) else {
            return false;
        };
        let fits = |i: usize| {
            !used[i]
                && stored[i].starts_with(prefix)
                && at_name.starts_with(&stored[i][prefix.len()..])
        };
        // Usually the database was made from this very text, and its catalog is in its order.
        let named = |by_name: &mut Option<BTreeMap<&'s str, usize>>| {
            let names = by_name.get_or_insert_with(|| names_of(stored));
            name_token(at_name)
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| names.get(n).copied())
                .filter(|&i| !used[i])
        };
        let found = if next < stored.len() && fits(next) {
            Some(next)
        } else {
            named(&mut by_name).filter(|&i| fits(i))
        };
        let (i, after) = match found {
            Some(i) => (i, skip_space(&at_name[stored[i].len() - prefix.len()..])),
            None => {
                let Some(i) = named(&mut by_name) else {
                    return false;
                };
                (i, same_tokens(rest, stored[i]).and_then(skip_space))
            }
        };
        let Some(r) = after else {
            return false;
        };
        used[i] = true;
        (next, matched) = (i + 1, matched + 1);
        rest = r;
        if !(rest.is_empty() || rest.starts_with(b";")) {
            return false;
        }
    }
}

/// The text after the statement `declared` starts with, when that statement is `stored`
/// token for token in the sense of the model path's comparison ([`canonical`]: the keywords
/// before the name as SQLite stores them, every token from the name on exactly as written,
/// spacing and comments aside); `None` otherwise. SQLite reads the same model out of two
/// such texts (`tests/tests/properties.rs` holds both paths to the full one).
fn same_tokens<'d>(declared: &'d [u8], stored: &[u8]) -> Option<&'d [u8]> {
    let stored = std::str::from_utf8(stored).ok()?;
    let want = canonical(stored)?;
    let count = sqltext::tokens(stored)?.len();
    // The declared statement has as many tokens, or three more (`IF NOT EXISTS`), then a `;`
    // or the end: only that much of the declared text is read.
    let toks = sqltext::leading_tokens(declared, count + 4)?;
    [count, count + 3].into_iter().find_map(|n| {
        let last = toks.get(n.checked_sub(1)?)?;
        let ends = toks
            .get(n)
            .is_none_or(|(ty, _)| *ty == sqlite3_parser::lexer::sql::TokenType::TK_SEMI);
        let statement = std::str::from_utf8(&declared[..last.1.end]).ok()?;
        (ends && canonical(statement)? == want).then(|| &declared[last.1.end..])
    })
}

/// The stored texts by the name token that follows their `CREATE` keywords (a name that is
/// not UTF-8 is not found, and its statement compares as different).
fn names_of<'a>(stored: &[&'a [u8]]) -> BTreeMap<&'a str, usize> {
    let mut names = BTreeMap::new();
    for (i, s) in stored.iter().enumerate() {
        let name = stored_prefix(s).and_then(|(_, at_name)| name_token(at_name));
        if let Some(name) = name.and_then(|n| std::str::from_utf8(n).ok()) {
            names.insert(name, i);
        }
    }
    names
}

/// SQLite's white space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// `text` after the space and comments it starts with; `None` in an unterminated `/*`.
fn skip_space(mut text: &[u8]) -> Option<&[u8]> {
    loop {
        let spaces = text.iter().take_while(|&&b| is_space(b)).count();
        text = &text[spaces..];
        if let Some(comment) = text.strip_prefix(b"--") {
            text = match comment.iter().position(|&b| b == b'\n') {
                Some(end) => &comment[end..],
                None => &[],
            };
        } else if let Some(comment) = text.strip_prefix(b"/*") {
            let end = comment.windows(2).position(|w| w == b"*/")?;
            text = &comment[end + 2..];
        } else {
            return Some(text);
        }
    }
}

/// The keywords a `CREATE` statement starts with, as SQLite stores them (`CREATE TABLE `,
/// `CREATE UNIQUE INDEX `…: capitals, single spaces, no `IF NOT EXISTS`), and the text from
/// the object's name on. `None` for anything else (TEMP included) or a comment among the
/// keywords.
fn stored_prefix(statement: &[u8]) -> Option<(&'static [u8], &[u8])> {
    let rest = keyword(statement, b"CREATE")?;
    let (prefix, rest): (&'static [u8], _) = if let Some(r) = keyword(rest, b"TABLE") {
        (b"CREATE TABLE ", r)
    } else if let Some(r) = keyword(rest, b"INDEX") {
        (b"CREATE INDEX ", r)
    } else if let Some(r) = keyword(rest, b"UNIQUE").and_then(|r| keyword(r, b"INDEX")) {
        (b"CREATE UNIQUE INDEX ", r)
    } else if let Some(r) = keyword(rest, b"VIEW") {
        (b"CREATE VIEW ", r)
    } else if let Some(r) = keyword(rest, b"TRIGGER") {
        (b"CREATE TRIGGER ", r)
    } else if let Some(r) = keyword(rest, b"VIRTUAL").and_then(|r| keyword(r, b"TABLE")) {
        (b"CREATE VIRTUAL TABLE ", r)
    } else {
        return None;
    };
    let rest = keyword(rest, b"IF")
        .and_then(|r| keyword(r, b"NOT"))
        .and_then(|r| keyword(r, b"EXISTS"))
        .unwrap_or(rest);
    Some((prefix, rest))
}

/// The text after the keyword `word` (any case) that `text` starts with and the space after it.
fn keyword<'a>(text: &'a [u8], word: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = &text[word.len()..];
    let spaces = rest.iter().take_while(|&&b| is_space(b)).count();
    (spaces > 0).then(|| &rest[spaces..])
}

/// The name token `text` starts with, as written: quoted (`"…"`, `` `…` ``, `[…]`, `'…'`) or
/// a run of identifier characters.
fn name_token(text: &[u8]) -> Option<&[u8]> {
    let close = match text.first()? {
        b'"' => b'"',
        b'`' => b'`',
        b'\'' => b'\'',
        b'[' => b']',
        _ => {
            let end = text
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80))
                .unwrap_or(text.len());
            return (end > 0).then(|| &text[..end]);
        }
    };
    // A doubled quote is one quote character inside the name.
    let mut i = 1;
    loop {
        let at = i + text.get(i..)?.iter().position(|&b| b == close)?;
        if close != b']' && text.get(at + 1) == Some(&close) {
            i = at + 2;
            continue;
        }
        return Some(&text[..=at]);
    }
}

/// The declared schema as the database's own model, when the database's stored schema is
/// exactly the declared statements; `None` otherwise (or when the options rule it out).
pub fn declared_as_stored(
    host: &dyn Host,
    schema_sql: &str,
    opts: &Options,
    version: crate::SqliteVersion,
    current: impl FnOnce() -> Result<crate::Schema>,
) -> Result<Option<Declared>> {
    if !opts.hints.is_empty() || opts.deny_dangling_foreign_keys || opts.host_modules {
        return Ok(None);
    }
    let (statements, static_error) = declared::read_statements(schema_sql, &opts.source_name);
    if static_error.is_some() || statements.is_empty() {
        return Ok(None);
    }
    // Annotation errors are errors on this path too; rename annotations that cannot apply
    // do nothing, as on the full path.
    let declared::Annotations { hints, ignore } =
        declared::parse_annotations(schema_sql, &opts.source_name)?;
    let ignore: Vec<String> = ignore
        .into_iter()
        .chain(opts.ignore.iter().cloned())
        .collect();
    let not_ours = Ignore::new(ignore.iter().map(String::as_str))?;
    let names: BTreeSet<String> = statements.iter().map(|s| s.name.clone()).collect();
    let rows = host.query(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let stored: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let text = |i: usize| r.get(i).and_then(Value::text).unwrap_or_default();
            let (name, table) = (text(0), text(1));
            let ours = platform_of(&name).is_none()
                && platform_of(&table).is_none()
                && not_ours.matching_object(&name, Some(&table)).is_none()
                && (!opts.keep_undeclared || names.contains(&name.to_ascii_lowercase()));
            ours.then(|| text(2))
        })
        .collect();
    let declared: Vec<&str> = statements
        .iter()
        .map(|s| as_stored(&schema_sql[s.range.clone()]))
        .collect();
    if !same_statements(&declared, &stored) {
        return Ok(None);
    }
    let schema = current()?;
    let created_at: BTreeMap<String, usize> = statements
        .into_iter()
        .map(|s| (s.name, s.range.start))
        .collect();
    let dangling = declared::dangling_foreign_keys(
        host,
        version,
        schema_sql,
        &opts.source_name,
        &created_at,
        &|parent| platform_of(parent).is_some() || not_ours.matching(parent).is_some(),
    )?;
    Ok(Some(Declared {
        schema,
        hints,
        ignore,
        warnings: dangling.iter().map(declared::dangling_warning).collect(),
    }))
}

/// A declared statement's text as SQLite would store it when it was written in the stored
/// form (`CREATE TABLE name…` in capitals, single spaces): without surrounding space and the
/// final `;`. Anything else is compared by tokens.
fn as_stored(statement: &str) -> &str {
    statement.trim().trim_end_matches(';').trim_end()
}

/// Whether the declared statements and the stored SQL are the same multiset: byte-identical
/// texts pair up without tokenizing (the common case: the database was made from this
/// schema), and only the rest are compared in canonical tokens.
fn same_statements(declared: &[&str], stored: &[String]) -> bool {
    if declared.len() != stored.len() {
        return false;
    }
    let mut unmatched: BTreeMap<&str, usize> = BTreeMap::new();
    for d in declared {
        *unmatched.entry(d).or_default() += 1;
    }
    let mut rest_stored = Vec::new();
    for s in stored {
        match unmatched.get_mut(s.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => rest_stored.push(s.as_str()),
        }
    }
    if rest_stored.is_empty() {
        return true;
    }
    let rest_declared: Vec<&str> = unmatched
        .iter()
        .flat_map(|(d, n)| std::iter::repeat_n(*d, *n))
        .collect();
    match (
        sorted_canonical(&rest_declared),
        sorted_canonical(&rest_stored),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The canonical forms of `statements`, sorted; `None` if one cannot be tokenized.
fn sorted_canonical(statements: &[&str]) -> Option<Vec<String>> {
    let mut v = statements
        .iter()
        .map(|s| canonical(s))
        .collect::<Option<Vec<String>>>()?;
    v.sort_unstable();
    Some(v)
}

/// A `CREATE` statement as SQLite stores it, in tokens: the keywords before the object's name
/// upper-cased without `IF NOT EXISTS` (SQLite stores `CREATE TABLE name…` whatever was
/// written), every token from the name on exactly as written, comments and spacing dropped.
fn canonical(sql: &str) -> Option<String> {
    let toks = sqltext::tokens(sql)?;
    let name = sqltext::create_name_range(sql)?;
    let mut out = String::with_capacity(sql.len());
    for (_, r) in &toks {
        let raw = &sql[r.clone()];
        if r.start < name.start {
            let word = raw.to_ascii_uppercase();
            if matches!(word.as_str(), "IF" | "NOT" | "EXISTS") {
                continue;
            }
            out.push_str(&word);
        } else {
            out.push_str(raw);
        }
        out.push(' ');
    }
    while out.ends_with("; ") {
        out.truncate(out.len() - 2);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{
        canonical, declared_as_text, dequote, name_token, same_statements, stored_form, Catalog,
    };
    use crate::share::Ignore;

    #[test]
    fn the_declared_text_is_the_stored_text_statement_by_statement() {
        let stored = [
            "CREATE TABLE a(x INTEGER PRIMARY KEY, y TEXT -- note\n)",
            "CREATE UNIQUE INDEX a_y ON a(y)",
            "CREATE VIEW v AS SELECT x FROM a",
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END",
        ];
        let stored: Vec<&[u8]> = stored.iter().map(|s| s.as_bytes()).collect();
        let yes = |sql: &str| assert!(declared_as_text(sql.as_bytes(), &stored), "{sql}");
        let no = |sql: &str| assert!(!declared_as_text(sql.as_bytes(), &stored), "{sql}");
        let exact = "CREATE TABLE a(x INTEGER PRIMARY KEY, y TEXT -- note\n);\nCREATE UNIQUE INDEX a_y ON a(y);\nCREATE VIEW v AS SELECT x FROM a;\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;\n";
        yes(exact);
        // Keywords before the name in any case and spacing, IF NOT EXISTS; comments and empty
        // statements between statements; another order; no final `;`.
        yes("-- app schema\n/* v2 */ create  unique\tindex if not exists a_y ON a(y) ;;\nCREATE VIEW v AS SELECT x FROM a -- trailing\n;\ncreate table IF NOT EXISTS a(x INTEGER PRIMARY KEY, y TEXT -- note\n);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END");
        // From the name on, every token counts as written; spacing and comments between them
        // do not (SQLite's own ALTER TABLE respaces the stored text).
        yes(&exact.replace("a(x INTEGER", "a(x  INTEGER"));
        yes(&exact.replace("-- note\n", "/* another note */"));
        yes(&exact.replace("SELECT 1; SELECT 2; END;", "SELECT 1;\n  SELECT 2;\nEND;"));
        yes(&exact.replace(
            "CREATE UNIQUE INDEX a_y ON a(y);",
            "CREATE UNIQUE INDEX IF NOT EXISTS a_y ON a ( y ) ;",
        ));
        no(&exact.replace("AS SELECT x", "AS select x"));
        no(&exact.replace("CREATE TABLE a(", "CREATE TABLE \"a\"("));
        no(&exact.replace("y TEXT", "y  TEXT NOT NULL"));
        no(&exact.replace("ON a(y);", "ON a( y ) WHERE y > 0;"));
        no(&exact.replace("SELECT 2; END;", "SELECT 2 ; END ; SELECT 3;"));
        // An object more or less, twice, or a longer statement.
        no(&exact.replace("CREATE VIEW v AS SELECT x FROM a;", ""));
        no(&format!("{exact}CREATE VIEW v AS SELECT x FROM a;"));
        no(&format!("{exact}CREATE TABLE b(z);"));
        no(&exact.replace("ON a(y);", "ON a(y) WHERE y > 0;"));
        no(&exact.replace("SELECT 2; END;", "SELECT 2; END; SELECT 3;"));
        // What SQLite stores differently, or not at all; a comment among the keywords.
        no(&exact.replace("CREATE TABLE a(", "CREATE TEMP TABLE a("));
        no(&exact.replace("CREATE TABLE a(", "CREATE TABLE main.a("));
        no(&exact.replace("CREATE VIEW", "CREATE /* c */ VIEW"));
        no(&format!("{exact}/* unterminated"));
        no("");
        assert!(declared_as_text(b"-- nothing\n", &[]));
    }

    /// SQLite's `ALTER TABLE … ADD COLUMN` splices `, <column>` before the table's closing
    /// parenthesis of the stored text, in its own spacing; the declaration the app now ships has
    /// the column where its author wrote it. Token for token they are the same statement.
    #[cfg(feature = "rusqlite")]
    #[test]
    fn a_table_altered_by_sqlite_is_its_declaration_token_for_token() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE notes(\n  id INTEGER PRIMARY KEY,\n  body TEXT NOT NULL -- the text\n);\n\
             CREATE INDEX notes_body ON notes(body);\n\
             ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;",
        )
        .unwrap();
        let stored: Vec<String> = conn
            .prepare("SELECT sql FROM sqlite_schema ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let stored: Vec<&[u8]> = stored.iter().map(|s| s.as_bytes()).collect();
        let declared = "CREATE TABLE notes(\n  id INTEGER PRIMARY KEY,\n  body TEXT NOT NULL, -- the text\n  pinned INTEGER NOT NULL DEFAULT 0\n);\nCREATE INDEX notes_body ON notes(body);\n";
        assert!(declared_as_text(declared.as_bytes(), &stored), "{stored:?}");
        // A different default, or the column where SQLite did not put it, is not.
        assert!(!declared_as_text(
            declared.replace("DEFAULT 0", "DEFAULT 1").as_bytes(),
            &stored
        ));
        let moved = "CREATE TABLE notes(\n  id INTEGER PRIMARY KEY,\n  pinned INTEGER NOT NULL DEFAULT 0,\n  body TEXT NOT NULL\n);\nCREATE INDEX notes_body ON notes(body);\n";
        assert!(!declared_as_text(moved.as_bytes(), &stored));
    }

    #[test]
    fn the_catalog_is_compared_as_it_is_read_in_any_order() {
        let declared = "CREATE TABLE a(x);\nCREATE TABLE b(y);\nCREATE INDEX b_y ON b(y);\n";
        let rows = [
            "CREATE TABLE a(x)",
            "CREATE TABLE sqlite_sequence(name,seq)",
            "CREATE TABLE \"android_metadata\"(locale TEXT)",
            "CREATE TABLE b(y)",
            "CREATE INDEX b_y ON b(y)",
            "CREATE TRIGGER \"android on\" AFTER UPDATE OF \"on\", locale ON android_metadata BEGIN SELECT 1; END",
            "CREATE INDEX m ON \"android_metadata\"(locale)",
        ];
        let none = Ignore::new([]).unwrap();
        let read = |order: &[usize], ignore: &Ignore| {
            let mut c = Catalog::new(declared.as_bytes());
            for &i in order {
                c.add(rows[i].as_bytes(), ignore);
            }
            c.declared_by()
        };
        let fp = read(&[0, 1, 2, 3, 4, 5], &none).expect("in order");
        assert_eq!(
            read(&[4, 2, 5, 3, 1, 0], &none),
            Some(fp.clone()),
            "any order"
        );
        assert_eq!(read(&[0, 1, 2, 3], &none), None, "an object missing");
        // An ignored object is not compared, and is in the fingerprint.
        let ignore_b = Ignore::new(["b*"]).unwrap();
        assert_eq!(
            read(&[0, 1, 2, 3, 4], &ignore_b),
            None,
            "declared and ignored"
        );
        let mut c = Catalog::new(b"CREATE TABLE a(x);");
        for sql in rows {
            c.add(sql.as_bytes(), &ignore_b);
        }
        assert_eq!(c.declared_by(), Some(fp));
        let mut c = Catalog::new(declared.as_bytes());
        c.add(b"CREATE VIRTUAL TABLE f USING fts5(x)", &none);
        assert_eq!(c.declared_by(), None, "a virtual table");
    }

    #[test]
    fn the_table_of_an_index_or_trigger() {
        let t = |s: &'static str| stored_form(s.as_bytes()).and_then(|f| f.table).map(dequote);
        assert_eq!(t("CREATE INDEX i ON t(x)").as_deref(), Some("t"));
        assert_eq!(
            t("CREATE UNIQUE INDEX \"i on\" ON \"T 1\" (x)").as_deref(),
            Some("T 1")
        );
        assert_eq!(
            t("CREATE TRIGGER g INSTEAD OF UPDATE OF \"on\", b ON v BEGIN SELECT 1; END")
                .as_deref(),
            Some("v")
        );
        assert_eq!(
            t("CREATE TRIGGER g AFTER INSERT ON main . t BEGIN SELECT 1; END").as_deref(),
            Some("t")
        );
        assert_eq!(t("CREATE TABLE t(x)"), None);
    }

    #[test]
    fn name_tokens() {
        let t = |s: &'static str| name_token(s.as_bytes()).map(|n| dequote(n));
        assert_eq!(t("abc(x)").as_deref(), Some("abc"));
        assert_eq!(t("\"a b\"(x)").as_deref(), Some("a b"));
        assert_eq!(t("\"a\"\"b\"(x)").as_deref(), Some("a\"b"));
        assert_eq!(t("[a b] AS").as_deref(), Some("a b"));
        assert_eq!(t("'it''s' AS").as_deref(), Some("it's"));
        assert_eq!(t("ünï(x)").as_deref(), Some("ünï"));
        assert_eq!(t("(x)"), None);
        assert_eq!(t("\"open"), None);
    }

    #[test]
    fn byte_identical_statements_pair_up_and_the_rest_by_tokens() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(same_statements(
            &["CREATE TABLE a(x)", "create table b(y)"],
            &s(&["CREATE TABLE b(y)", "CREATE TABLE a(x)"])
        ));
        assert!(!same_statements(
            &["CREATE TABLE a(x)", "CREATE TABLE a(x)"],
            &s(&["CREATE TABLE a(x)", "CREATE TABLE b(x)"])
        ));
        assert!(!same_statements(
            &["CREATE TABLE a(x)"],
            &s(&["CREATE TABLE a(X)"])
        ));
        assert!(!same_statements(&["CREATE TABLE a(x)"], &s(&[])));
    }

    #[test]
    fn the_stored_form_of_a_declared_statement() {
        let c = |s: &str| canonical(s).unwrap();
        assert_eq!(
            c("create table if not exists t(a  INT, -- note\n b);"),
            c("CREATE TABLE t(a INT, b)")
        );
        assert_eq!(
            c("create unique index i ON t(a)"),
            c("CREATE UNIQUE INDEX i ON t(a)")
        );
        // From the name on, every token counts as written: case, quotes, literals.
        assert_ne!(c("CREATE TABLE T(a)"), c("CREATE TABLE t(a)"));
        assert_ne!(c("CREATE TABLE t(a)"), c("CREATE TABLE \"t\"(a)"));
        assert_ne!(c("CREATE TABLE t(Key)"), c("CREATE TABLE t(key)"));
        assert_ne!(
            c("CREATE TABLE t(a DEFAULT 'x')"),
            c("CREATE TABLE t(a DEFAULT 'X')")
        );
        assert_ne!(c("CREATE TABLE t(a)"), c("CREATE TABLE main.t(a)"));
    }
}
