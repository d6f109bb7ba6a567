//! SQL text helpers: quoting, positions, and the *normalised token text* that every
//! comparison in liteshift is based on.
//!
//! Normalised text is a comparison key, not SQL meant to be run: identifiers are unquoted and
//! lower-cased, keywords lower-cased, whitespace and comments dropped, `==`/`<>` folded to
//! `=`/`!=`. String, number and blob literals keep their exact spelling.

use sqlite3_parser::ast::fmt::{ToTokens, TokenStream};
use sqlite3_parser::lexer::sql::{TokenType, Tokenizer};
use sqlite3_parser::lexer::Scanner;

/// Quote an identifier for SQLite, always with double quotes.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal for SQLite.
pub fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Remove one level of SQLite identifier quoting (`"x"`, `` `x` ``, `[x]`, `'x'`).
pub fn unquote(raw: &str) -> String {
    let b = raw.as_bytes();
    if b.len() >= 2 {
        let (open, close) = (b[0], b[b.len() - 1]);
        // Quotes are ASCII, so slicing inside them is on char boundaries; check them first
        // (an unquoted identifier may start and end with multi-byte characters).
        let inner = || &raw[1..raw.len() - 1];
        match (open, close) {
            (b'"', b'"') => return inner().replace("\"\"", "\""),
            (b'`', b'`') => return inner().replace("``", "`"),
            (b'\'', b'\'') => return inner().replace("''", "'"),
            (b'[', b']') => return inner().to_string(),
            _ => {}
        }
    }
    raw.to_string()
}

/// The comparison key of an identifier: unquoted, ASCII lower-cased (SQLite's own rule).
pub fn ident_key(raw: &str) -> String {
    unquote(raw).to_ascii_lowercase()
}

/// A 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut col = 1;
    for (i, ch) in text.char_indices() {
        if i >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// Normalised form of an identifier token: unquoted and lower-cased. A double-quoted token
/// whose content is not a plain identifier (`""`, `"no way"`) is most likely a string literal
/// in SQLite's double-quoted-string fallback; it keeps its double quotes, so it equals neither
/// the identifier nor the single-quoted literal: builds compiled with `SQLITE_DQS=0` (the
/// official sqlite-wasm build) reject what `'…'` spells correctly, and apps change one into
/// the other on purpose. (A plain `"msg"` is keyed as the identifier `msg`, which also differs
/// from `'msg'`.)
pub fn norm_ident(raw: &str) -> String {
    let inner = unquote(raw);
    let plain = inner
        .chars()
        .next()
        .map(|c| c.is_ascii_alphabetic() || c == '_')
        .unwrap_or(false)
        && inner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if raw.starts_with('"') && !plain {
        quote_ident(&inner)
    } else {
        inner.to_ascii_lowercase()
    }
}

fn norm_token(ty: TokenType, raw: &str, out: &mut Vec<String>) {
    use TokenType::*;
    let t = match ty {
        TK_ID => norm_ident(raw),
        TK_STRING | TK_INTEGER | TK_FLOAT | TK_BLOB | TK_VARIABLE => raw.to_string(),
        TK_EQ => "=".to_string(),
        TK_NE => "!=".to_string(),
        _ => raw.to_ascii_lowercase(),
    };
    out.push(t);
}

/// A column's `DEFAULT` text as an expression usable anywhere, e.g. in a `SELECT`. A `DEFAULT`
/// cannot reference a column, so a double-quoted token in it (not a function name) is a string
/// literal by SQLite's double-quoted-string fallback; elsewhere it could name a column, and a
/// host built with `SQLITE_DQS=0` (the official sqlite-wasm build) rejects it. Such tokens
/// become single-quoted literals; everything else is kept as written.
pub fn default_as_value(default: &str) -> String {
    let Some(toks) = tokens(default) else {
        return default.to_string();
    };
    let mut out = String::with_capacity(default.len());
    let mut last = 0;
    for (i, (ty, r)) in toks.iter().enumerate() {
        let raw = &default[r.clone()];
        let call = toks.get(i + 1).is_some_and(|(t, _)| *t == TokenType::TK_LP);
        if *ty == TokenType::TK_ID && raw.starts_with('"') && !call {
            out.push_str(&default[last..r.start]);
            out.push_str(&quote_str(&unquote(raw)));
            last = r.end;
        }
    }
    out.push_str(&default[last..]);
    out
}

/// Whether a column's `DEFAULT` (its text, as declared or normalised) is what SQLite's own
/// `ALTER TABLE … ADD COLUMN` accepts as constant: a literal (string, number, blob, NULL,
/// TRUE, FALSE, or a bare identifier, which SQLite reads as a string), a signed one, either in
/// any number of parentheses (`DEFAULT (-1)`, `('x')`, `(NULL)`). Not an expression such as
/// `(1 + 2)`, and not `CURRENT_TIMESTAMP`.
pub fn is_constant_default(default: &str) -> bool {
    let Some(toks) = tokens(default) else {
        return false;
    };
    let types: Vec<TokenType> = toks.iter().map(|(t, _)| *t).collect();
    constant_literal(&types, true)
}

fn constant_literal(t: &[TokenType], top: bool) -> bool {
    use TokenType::*;
    match t {
        [TK_LP, inner @ .., TK_RP] => constant_literal(inner, false),
        [TK_MINUS | TK_PLUS, rest @ ..] => constant_literal(rest, false),
        [TK_STRING | TK_INTEGER | TK_FLOAT | TK_BLOB | TK_NULL] => true,
        // TRUE/FALSE, and `DEFAULT name` (a string); inside parentheses a name is a column.
        [TK_ID] => top,
        _ => false,
    }
}

/// Whether a column's `DEFAULT` text is NULL (absent, `NULL`, or `NULL` in parentheses).
pub fn default_is_null(default: Option<&str>) -> bool {
    let Some(d) = default else { return true };
    let mut d = d.trim();
    while let Some(inner) = d.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        d = inner.trim();
    }
    d.eq_ignore_ascii_case("null")
}

/// The text of each column definition of a `CREATE TABLE` statement, exactly as written
/// (from the column name to the end of its last constraint), in declared order. `None` when
/// the statement has no column list the tokenizer can read.
pub fn column_definitions(sql: &str) -> Option<Vec<&str>> {
    use TokenType::*;
    let toks = tokens(sql)?;
    let open = toks.iter().position(|(t, _)| *t == TK_LP)?;
    let mut defs = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    let mut end = 0usize;
    for (t, r) in &toks[open + 1..] {
        match t {
            TK_LP => depth += 1,
            TK_RP if depth == 0 => {
                defs.extend(start.map(|s| &sql[s..end]));
                return Some(column_defs_only(defs));
            }
            TK_RP => depth -= 1,
            TK_COMMA if depth == 0 => {
                defs.extend(start.take().map(|s| &sql[s..end]));
                continue;
            }
            _ => {}
        }
        start.get_or_insert(r.start);
        end = r.end;
    }
    None
}

/// The declared text of the expression of the CHECK constraint named `name` (a name key) in a
/// `CREATE TABLE` statement: what is between the parentheses of `CONSTRAINT name CHECK (…)`.
pub fn named_check_text<'a>(sql: &'a str, name: &str) -> Option<&'a str> {
    use TokenType::*;
    let toks = tokens(sql)?;
    let at = toks.windows(4).position(|w| {
        w[0].0 == TK_CONSTRAINT
            && ident_key(&sql[w[1].1.clone()]) == name
            && w[2].0 == TK_CHECK
            && w[3].0 == TK_LP
    })?;
    let start = toks[at + 3].1.end;
    let mut depth = 0usize;
    for (t, r) in &toks[at + 4..] {
        match t {
            TK_LP => depth += 1,
            TK_RP if depth == 0 => return Some(sql[start..r.start].trim()),
            TK_RP => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The leading definitions that are columns (table constraints follow them).
fn column_defs_only(defs: Vec<&str>) -> Vec<&str> {
    let is_constraint = |d: &&str| {
        let first = d
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("");
        ["constraint", "primary", "unique", "check", "foreign"]
            .iter()
            .any(|k| first.eq_ignore_ascii_case(k))
    };
    defs.into_iter().take_while(|d| !is_constraint(d)).collect()
}

/// Tokenize SQL text with SQLite's tokenizer. Returns `(token type, byte range)` items, or
/// `None` when the text does not tokenize (the caller then falls back to whitespace folding).
pub fn tokens(sql: &str) -> Option<Vec<(TokenType, std::ops::Range<usize>)>> {
    let input = sql.as_bytes();
    let mut scanner = Scanner::new(Tokenizer::new());
    let mut out = Vec::new();
    loop {
        match scanner.scan(input) {
            Ok((_, None, _)) => return Some(out),
            Ok((start, Some((_, ty)), end)) => out.push((ty, start..end)),
            Err(_) => return None,
        }
    }
}

/// The first `n` tokens of `sql` (fewer at its end), read no further; `None` when the
/// tokenizer cannot read one of them.
pub(crate) fn leading_tokens(
    sql: &[u8],
    n: usize,
) -> Option<Vec<(TokenType, std::ops::Range<usize>)>> {
    let mut scanner = Scanner::new(Tokenizer::new());
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match scanner.scan(sql) {
            Ok((_, None, _)) => break,
            Ok((start, Some((_, ty)), end)) => out.push((ty, start..end)),
            Err(_) => return None,
        }
    }
    Some(out)
}

/// Normalised token text of arbitrary SQL (a view, trigger, index or unparsed table).
pub fn normalize_sql(sql: &str) -> String {
    match tokens(sql) {
        Some(toks) => {
            let mut out = Vec::with_capacity(toks.len());
            for (ty, r) in toks {
                norm_token(ty, &sql[r], &mut out);
            }
            while out.last().map(|s| s == ";").unwrap_or(false) {
                out.pop();
            }
            // `CREATE ... IF NOT EXISTS name` means the same object as without the clause.
            let joined = out.join(" ");
            joined.replacen(" if not exists ", " ", 1)
        }
        None => sql.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// Identifier keys (lower-cased, unquoted) mentioned anywhere in `sql`: used to find which
/// objects a view or trigger depends on. Over-approximates, never under-approximates
/// (any token that could be a name is included), unless the text does not tokenize.
pub fn mentioned_names(sql: &str) -> Option<std::collections::BTreeSet<String>> {
    let toks = tokens(sql)?;
    let mut set = std::collections::BTreeSet::new();
    for (ty, r) in toks {
        let raw = &sql[r];
        match ty {
            TokenType::TK_INTEGER
            | TokenType::TK_FLOAT
            | TokenType::TK_BLOB
            | TokenType::TK_VARIABLE => {}
            _ => {
                set.insert(ident_key(raw));
            }
        }
    }
    Some(set)
}

/// A token stream that renders AST nodes as normalised text (`out`), or, with `sql`, as the
/// parser's own `Display` writes them (its `FmtTokenStream`, reproduced here so that the
/// parser's rendering code is built for one stream type only: 7 KB less wasm).
struct NormStream {
    out: Vec<String>,
    /// The SQL text so far, and whether it ends with a space (`FmtTokenStream::spaced`).
    sql: Option<(String, bool)>,
}

impl TokenStream for NormStream {
    type Error = std::convert::Infallible;
    fn append(&mut self, ty: TokenType, value: Option<&str>) -> Result<(), Self::Error> {
        if let Some((f, spaced)) = &mut self.sql {
            // sqlite3-parser 0.17's `FmtTokenStream::append`, line for line.
            if !*spaced {
                match ty {
                    TokenType::TK_COMMA
                    | TokenType::TK_SEMI
                    | TokenType::TK_RP
                    | TokenType::TK_DOT => {}
                    _ => {
                        f.push(' ');
                        *spaced = true;
                    }
                }
            }
            if ty == TokenType::TK_BLOB {
                f.push_str("X'");
                if let Some(v) = value {
                    f.push_str(v);
                }
                f.push('\'');
                return Ok(());
            } else if let Some(kw) = ty.as_str() {
                f.push_str(kw);
                *spaced = ty == TokenType::TK_LP || ty == TokenType::TK_DOT;
            }
            if let Some(v) = value {
                *spaced = v.bytes().all(|b| b.is_ascii_whitespace());
                f.push_str(v);
            }
            return Ok(());
        }
        match value {
            Some(v) => {
                if ty == TokenType::TK_ID {
                    self.out.push(norm_ident(v));
                } else if let Some(kw) = ty.as_str() {
                    // keyword followed by a value (e.g. a type name): keep both
                    self.out.push(kw.to_ascii_lowercase());
                    self.out.push(v.to_string());
                } else {
                    self.out.push(v.to_string());
                }
            }
            None => {
                let t = match ty {
                    TokenType::TK_EQ => "=",
                    TokenType::TK_NE => "!=",
                    _ => ty.as_str().unwrap_or("?"),
                };
                self.out.push(t.to_ascii_lowercase());
            }
        }
        Ok(())
    }
}

/// Normalised text of an AST node.
pub fn norm_node<T: ToTokens + ?Sized>(node: &T) -> String {
    let mut s = NormStream {
        out: Vec::new(),
        sql: None,
    };
    let Ok(()) = node.to_tokens(&mut s);
    s.out.join(" ")
}

/// An AST node as SQL, exactly as the parser's `Display` (`ToTokens::to_fmt`) writes it.
pub fn sql_node<T: ToTokens + ?Sized>(node: &T) -> String {
    let mut s = NormStream {
        out: Vec::new(),
        sql: Some((String::new(), true)),
    };
    let Ok(()) = node.to_tokens(&mut s);
    s.sql.map(|(f, _)| f).unwrap_or_default()
}

/// Find the byte range of the object name in a `CREATE ...` statement: the token after
/// `TABLE`/`INDEX`/`VIEW`/`TRIGGER` (skipping `IF NOT EXISTS` and a `schema.` prefix).
pub fn create_name_range(sql: &str) -> Option<std::ops::Range<usize>> {
    let toks = tokens(sql)?;
    let mut i = 0;
    while i < toks.len() {
        let kw = sql[toks[i].1.clone()].to_ascii_lowercase();
        if matches!(kw.as_str(), "table" | "index" | "view" | "trigger") {
            break;
        }
        i += 1;
    }
    i += 1;
    let word = |j: usize| toks.get(j).map(|t| sql[t.1.clone()].to_ascii_lowercase());
    if word(i).as_deref() == Some("if") {
        i += 3;
    }
    if word(i + 1).as_deref() == Some(".") {
        i += 2;
    }
    toks.get(i).map(|t| t.1.clone())
}

/// Replace the object name of a `CREATE ...` statement with `new_name` (quoted).
pub fn rename_create(sql: &str, new_name: &str) -> Option<String> {
    let r = create_name_range(sql)?;
    let mut s = String::with_capacity(sql.len() + 16);
    s.push_str(&sql[..r.start]);
    s.push_str(&quote_ident(new_name));
    s.push_str(&sql[r.end..]);
    Some(s)
}

/// A `CREATE [UNIQUE] INDEX name ON table (…)` renamed to `new_name`, on `new_table` (both
/// quoted); `None` when the statement is not one the tokenizer can place both names in (a
/// schema-qualified table, say).
pub fn index_on(sql: &str, new_name: &str, new_table: &str) -> Option<String> {
    let name = create_name_range(sql)?;
    let toks = tokens(sql)?;
    let at = toks.iter().position(|t| t.1 == name)?;
    let word = |j: usize| toks.get(j).map(|t| sql[t.1.clone()].to_ascii_lowercase());
    if word(at + 1).as_deref() != Some("on") || word(at + 3).as_deref() != Some("(") {
        return None;
    }
    let table = toks.get(at + 2)?.1.clone();
    let mut s = String::with_capacity(sql.len() + 32);
    s.push_str(&sql[..name.start]);
    s.push_str(&quote_ident(new_name));
    s.push_str(&sql[name.end..table.start]);
    s.push_str(&quote_ident(new_table));
    s.push_str(&sql[table.end..]);
    Some(s)
}

/// One key column of an index on plain columns: its name and any `COLLATE` and `DESC` as
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    pub name: String,
    pub collate: Option<String>,
    pub desc: bool,
}

/// The key columns of a `CREATE INDEX … ON table (…)` whose every term is a column name
/// (with an optional `COLLATE` and `ASC`/`DESC`) and which has no `WHERE`; `None` otherwise
/// (an expression, a partial index, text the tokenizer cannot read).
pub fn index_key_columns(sql: &str) -> Option<Vec<KeyColumn>> {
    let name = create_name_range(sql)?;
    let toks = tokens(sql)?;
    let at = toks.iter().position(|t| t.1 == name)?;
    let text = |j: usize| toks.get(j).map(|t| &sql[t.1.clone()]);
    let word = |j: usize| text(j).map(str::to_ascii_lowercase);
    if word(at + 1).as_deref() != Some("on") || word(at + 3).as_deref() != Some("(") {
        return None;
    }
    let close = at
        + 4
        + toks[at + 4..]
            .iter()
            .position(|t| t.0 == TokenType::TK_RP)?;
    // Nothing after the list (a `WHERE`) but a `;`.
    if toks[close + 1..].iter().any(|t| t.0 != TokenType::TK_SEMI) {
        return None;
    }
    let mut out = Vec::new();
    for term in toks[at + 4..close].split(|t| t.0 == TokenType::TK_COMMA) {
        let words: Vec<String> = term.iter().map(|t| sql[t.1.clone()].to_string()).collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let (rest, desc) = match lower.last().map(String::as_str) {
            Some("desc") => (&words[..words.len() - 1], true),
            Some("asc") => (&words[..words.len() - 1], false),
            _ => (&words[..], false),
        };
        let plain = |w: &str| {
            w.starts_with(['"', '`', '['])
                || w.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        };
        let collate = match rest {
            [n] if plain(n) => None,
            [n, c, coll] if plain(n) && c.eq_ignore_ascii_case("collate") && plain(coll) => {
                Some(coll.clone())
            }
            _ => return None,
        };
        out.push(KeyColumn {
            name: rest[0].clone(),
            collate,
            desc,
        });
    }
    (!out.is_empty()).then_some(out)
}

/// The byte ranges of the statements of `sql`, by SQLite's own rule (`sqlite3_complete`): a `;`
/// ends a statement, except inside the body of a `CREATE TRIGGER`, which ends at `; END ;`.
/// Each range starts at the statement's first token and ends before its `;`; comments and
/// empty statements between them are left out. Text the tokenizer cannot read is one
/// statement (SQLite then reports what is wrong with it).
pub fn split_statements(sql: &str) -> Vec<std::ops::Range<usize>> {
    // The tokens up to the first the tokenizer cannot read; from there on, the rest of the
    // text belongs to the statement it is in.
    let (toks, unreadable_at) = tokens_until_error(sql);
    let mut out = Vec::new();
    // The statement being read: its start, its first words, and the trigger-body state.
    let mut start: Option<usize> = None;
    let mut words: Vec<String> = Vec::new();
    let mut last_end = 0;
    let (mut after_semi, mut after_end) = (false, false);
    for (ty, r) in toks {
        let semi = ty == TokenType::TK_SEMI;
        let Some(s) = start else {
            if !semi {
                start = Some(r.start);
                words = vec![sql[r.clone()].to_ascii_lowercase()];
                last_end = r.end;
            }
            continue;
        };
        let trigger = matches!(
            words.iter().map(String::as_str).collect::<Vec<_>>()[..],
            ["create", "trigger", ..] | ["create", "temp" | "temporary", "trigger", ..]
        );
        if semi && (!trigger || after_end) {
            out.push(s..last_end);
            start = None;
            (after_semi, after_end) = (false, false);
            continue;
        }
        if words.len() < 3 {
            words.push(sql[r.clone()].to_ascii_lowercase());
        }
        after_end = after_semi && sql[r.clone()].eq_ignore_ascii_case("end");
        after_semi = semi;
        last_end = r.end;
    }
    match (start, unreadable_at) {
        (Some(s), Some(_)) => out.push(s..sql.len()),
        (None, Some(at)) => out.push(at..sql.len()),
        (Some(s), None) => out.push(s..last_end),
        (None, None) => {}
    }
    out
}

/// [`tokens`], stopping at the first error: the tokens before it, and where it is.
fn tokens_until_error(sql: &str) -> (Vec<(TokenType, std::ops::Range<usize>)>, Option<usize>) {
    let input = sql.as_bytes();
    let mut scanner = Scanner::new(Tokenizer::new());
    let mut out: Vec<(TokenType, std::ops::Range<usize>)> = Vec::new();
    loop {
        match scanner.scan(input) {
            Ok((_, None, _)) => return (out, None),
            Ok((start, Some((_, ty)), end)) => out.push((ty, start..end)),
            Err(_) => {
                let at = out.last().map(|(_, r)| r.end).unwrap_or(0);
                let rest = skip_space_and_comments(&sql[at..]);
                return (out, Some(sql.len() - rest.len()));
            }
        }
    }
}

/// Skip leading whitespace and SQL comments; return the rest.
pub fn skip_space_and_comments(mut s: &str) -> &str {
    loop {
        let t = s.trim_start();
        if let Some(rest) = t.strip_prefix("--") {
            s = rest.find('\n').map(|i| &rest[i + 1..]).unwrap_or("");
        } else if let Some(rest) = t.strip_prefix("/*") {
            s = rest.find("*/").map(|i| &rest[i + 2..]).unwrap_or("");
        } else {
            return t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sql_node` writes what the parser's `Display` writes, for every kind of token: blobs,
    /// dots, parentheses, commas, keywords with values, subqueries, windows, column types.
    #[test]
    fn sql_node_is_the_parsers_display() {
        use sqlite3_parser::ast::{Cmd, CreateTableBody, Stmt};
        use sqlite3_parser::FallibleIterator;
        let tables = [
            "CREATE TABLE t(a INTEGER PRIMARY KEY AUTOINCREMENT, b VARCHAR(10) NOT NULL DEFAULT 'x' COLLATE nocase, c BLOB DEFAULT X'0aFF', d REAL CHECK (d > 0.5 AND d BETWEEN -1 AND 1e10), e TEXT REFERENCES p(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED, f AS (upper(b) || \"q\".\"r\") STORED, \"g h\" [int], `i`, UNIQUE (b, c) ON CONFLICT REPLACE, CHECK (a IN (SELECT 1 UNION ALL SELECT max(x) OVER (PARTITION BY y ORDER BY z DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM s.u AS v WHERE x IS NOT NULL GROUP BY y HAVING count(*) > 1 LIMIT 5 OFFSET 2)), CHECK (CASE WHEN a THEN 1 ELSE CAST(b AS INTEGER) END), CHECK (e NOT LIKE '%a%' ESCAPE '\\' AND e GLOB 'x*' AND NOT EXISTS (SELECT * FROM w JOIN z USING (k) LEFT JOIN (SELECT 1) ON 1)), CHECK (json_extract(b, '$.a') IS ?1 OR a = :n OR a == -(+a) OR a <> ~a OR a != a % 3 << 2 >> 1 & 4 | 8), FOREIGN KEY (c, d) REFERENCES p MATCH SIMPLE ON UPDATE SET NULL) WITHOUT ROWID, STRICT",
            "CREATE TABLE t(a, b DEFAULT (datetime('now', 'localtime')), c DEFAULT -1, d DEFAULT CURRENT_TIMESTAMP, e DEFAULT TRUE, f NUMERIC(10, 2), g DEFAULT (count(DISTINCT a) FILTER (WHERE a > 0)), CHECK (a COLLATE binary IS DISTINCT FROM b), CHECK (a ISNULL OR b NOTNULL), CHECK (coalesce(a, raise(ignore)) IS NULL))",
        ];
        for sql in tables {
            let bump = sqlite3_parser::Bump::new();
            let mut parser = sqlite3_parser::lexer::sql::Parser::new(&bump, sql.as_bytes());
            let Some(Cmd::Stmt(Stmt::CreateTable { body, .. })) = parser.next().unwrap() else {
                panic!("not parsed: {sql}");
            };
            let CreateTableBody::ColumnsAndConstraints {
                columns,
                constraints,
                ..
            } = body
            else {
                panic!("no columns: {sql}");
            };
            struct Shown<'a, T: ToTokens>(&'a T);
            impl<T: ToTokens> std::fmt::Display for Shown<'_, T> {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    self.0.to_fmt(f)
                }
            }
            let mut n = 0;
            for cd in columns.iter() {
                assert_eq!(sql_node(cd), Shown(cd).to_string());
                n += 1;
            }
            for c in constraints.unwrap_or(&[]).iter() {
                assert_eq!(sql_node(c), Shown(c).to_string());
                n += 1;
            }
            assert!(n > 5, "{sql}");
        }
    }

    #[test]
    fn defaults_become_values_without_double_quoted_strings() {
        assert_eq!(default_as_value("\"\""), "''");
        assert_eq!(default_as_value("\"it's\""), "'it''s'");
        assert_eq!(default_as_value("('a' || \"b\")"), "('a' || 'b')");
        assert_eq!(default_as_value("\"upper\"('x')"), "\"upper\"('x')");
        assert_eq!(default_as_value("-1"), "-1");
        assert_eq!(default_as_value("CURRENT_TIMESTAMP"), "CURRENT_TIMESTAMP");
        // The value is the literal, even where a column of that name exists.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let v: String = conn
            .query_row(
                &format!(
                    "SELECT {} FROM (SELECT 'x' AS id)",
                    default_as_value("\"id\"")
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, "id");
    }

    #[test]
    fn statements_split_like_sqlite_complete() {
        let sql = "-- c\nCREATE TABLE t(a); ;\n CREATE TRIGGER r AFTER INSERT ON t BEGIN\n  SELECT CASE WHEN 1 THEN 2 END; UPDATE t SET a = ';';\nEND;\nCREATE VIEW v AS SELECT 1 -- tail";
        let parts: Vec<&str> = split_statements(sql).into_iter().map(|r| &sql[r]).collect();
        assert_eq!(
            parts,
            [
                "CREATE TABLE t(a)",
                "CREATE TRIGGER r AFTER INSERT ON t BEGIN\n  SELECT CASE WHEN 1 THEN 2 END; UPDATE t SET a = ';';\nEND",
                "CREATE VIEW v AS SELECT 1",
            ]
        );
        assert!(split_statements(" -- only a comment\n;").is_empty());
        let temp = "CREATE TEMP TRIGGER x AFTER DELETE ON t BEGIN DELETE FROM t; END; SELECT 1";
        assert_eq!(split_statements(temp).len(), 2);
        // From text the tokenizer cannot read, the rest is one statement (SQLite says why).
        let bad = "CREATE TABLE a(id);\nCREATE TABLE b(x DEFAULT 'oops);\nCREATE TABLE c(y);";
        let parts: Vec<&str> = split_statements(bad).into_iter().map(|r| &bad[r]).collect();
        assert_eq!(
            parts,
            [
                "CREATE TABLE a(id)",
                "CREATE TABLE b(x DEFAULT 'oops);\nCREATE TABLE c(y);"
            ]
        );
    }

    #[test]
    fn normalization_ignores_quoting_case_whitespace_comments() {
        let a = normalize_sql("CREATE VIEW \"V\" AS SELECT [A], `b` FROM t -- c\n WHERE a == 1;");
        let b = normalize_sql("create view v as /* x */ select a,b from T where a=1");
        assert_eq!(a, b);
        assert_ne!(normalize_sql("select 'A'"), normalize_sql("select 'a'"));
        // A double-quoted string literal is not the single-quoted one.
        assert_ne!(normalize_sql("select \"\""), normalize_sql("select ''"));
        assert_ne!(
            normalize_sql("select raise(abort, \"no way\")"),
            normalize_sql("select raise(abort, 'no way')")
        );
        assert_ne!(
            normalize_sql("select \"msg\""),
            normalize_sql("select 'msg'")
        );
    }

    #[test]
    fn unquote_keeps_non_ascii_identifiers_whole() {
        assert_eq!(unquote("݌ݍ"), "݌ݍ");
        assert_eq!(unquote("\"݌\""), "݌");
        assert_eq!(ident_key("Ⅻx"), "Ⅻx");
    }

    #[test]
    fn constant_defaults_follow_sqlites_add_column_rule() {
        for d in [
            "0", "-1", "(-1)", "('x')", "(NULL)", "((1.5))", "'a'", "x'00'", "+2", "true", "\"\"",
            "abc",
        ] {
            assert!(is_constant_default(d), "{d}");
        }
        for d in [
            "(1 + 2)",
            "CURRENT_TIMESTAMP",
            "(CURRENT_TIMESTAMP)",
            "(abc)",
            "upper('x')",
            "(1, 2)",
            "- -",
        ] {
            assert!(!is_constant_default(d), "{d}");
        }
        assert!(
            default_is_null(None)
                && default_is_null(Some("(NULL)"))
                && default_is_null(Some("null"))
        );
        assert!(!default_is_null(Some("'NULL'")) && !default_is_null(Some("0")));
    }

    #[test]
    fn named_checks_are_the_declared_text() {
        let sql = "CREATE TABLE t(a INT CONSTRAINT pos CHECK (a>0), b TEXT, CONSTRAINT \"B ok\" CHECK ( b <> \"x\" AND (b IS NOT NULL) ))";
        assert_eq!(named_check_text(sql, "pos"), Some("a>0"));
        assert_eq!(
            named_check_text(sql, "b ok"),
            Some("b <> \"x\" AND (b IS NOT NULL)")
        );
        assert_eq!(named_check_text(sql, "nope"), None);
    }

    #[test]
    fn column_definitions_are_the_declared_text() {
        let sql = "CREATE TABLE t(\n  id INTEGER PRIMARY KEY,\n  price DECIMAL(10, 2) NOT NULL DEFAULT (0),\n  \"odd, name\" VARCHAR (20) CHECK (length(\"odd, name\") > 0), -- c\n  CONSTRAINT u UNIQUE (price), CHECK (id > 0))";
        assert_eq!(
            column_definitions(sql).unwrap(),
            vec![
                "id INTEGER PRIMARY KEY",
                "price DECIMAL(10, 2) NOT NULL DEFAULT (0)",
                "\"odd, name\" VARCHAR (20) CHECK (length(\"odd, name\") > 0)",
            ]
        );
        assert_eq!(column_definitions("CREATE TABLE t(a)").unwrap(), vec!["a"]);
    }

    #[test]
    fn renames_create_statement() {
        assert_eq!(
            rename_create("CREATE TABLE IF NOT EXISTS main.\"t\"(a)", "x").unwrap(),
            "CREATE TABLE IF NOT EXISTS main.\"x\"(a)"
        );
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn an_index_of_plain_columns_has_key_columns_and_one_with_an_expression_or_where_none() {
        let cols =
            index_key_columns(r#"CREATE INDEX "i" ON t ("a b" COLLATE nocase DESC, c ASC, [d]);"#)
                .unwrap();
        let got: Vec<(&str, Option<&str>, bool)> = cols
            .iter()
            .map(|k| (k.name.as_str(), k.collate.as_deref(), k.desc))
            .collect();
        assert_eq!(
            got,
            [
                ("\"a b\"", Some("nocase"), true),
                ("c", None, false),
                ("[d]", None, false)
            ]
        );
        for sql in [
            "CREATE INDEX i ON t(lower(a))",
            "CREATE INDEX i ON t(a + 1)",
            "CREATE INDEX i ON t(a) WHERE a > 0",
            "CREATE INDEX i ON main.t(a)",
        ] {
            assert_eq!(index_key_columns(sql), None, "{sql}");
        }
    }
}
