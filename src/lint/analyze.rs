//! The analyzer: parses a whole migration file once with squawk-syntax, lints it with the squawk-linter rules of
//! the rule table plus deckhand's own, places every finding in deckhand's statement (index, line, column), applies
//! `-- deckhand:ignore` exemptions and adds the atomicity preview.

use squawk_linter::{Linter, Rule, Violation};
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{Parse, SourceFile, SyntaxKind};

use super::rules::{self, COULD_NOT_PARSE, DROPPED_COLUMN_STILL_READ, RuleText};
use super::syntax::{self, Hit};
use super::{FileReport, Finding, atomicity, ignore};
use crate::migrate::split::line_col;
use crate::migrate::{Migration, Statement};

/// How the migration will be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// The executor sets lock_timeout itself (deckhand does): the "missing lock_timeout" finding is not reported.
    pub executor_sets_lock_timeout: bool,
}

/// A finding before it is placed in a statement.
struct Raw {
    rule: String,
    text: RuleText,
    why: String,
    /// Byte offset in the file where it starts.
    at: usize,
    object: Option<String>,
}

impl Raw {
    fn new(rule: &str, text: RuleText, at: usize, object: Option<String>) -> Raw {
        Raw {
            rule: rule.to_owned(),
            text,
            why: text.why.to_owned(),
            at,
            object,
        }
    }
}

/// Analyzes one migration file. `statements` are the file's statements as deckhand splits them (offsets/lines in
/// the file); `no_transaction` is Migration::no_transaction (Some(reason) when the file runs outside a transaction).
pub fn analyze(
    name: &str,
    path: &str,
    sql: &str,
    statements: &[Statement],
    no_transaction: Option<&str>,
    opts: &Options,
) -> FileReport {
    let parse = SourceFile::parse(sql);
    let text = lint_text(sql, &parse);
    let parse = match &text {
        Some(text) => SourceFile::parse(text),
        None => parse,
    };
    let tree = parse.tree();
    let stmts: Vec<ast::Stmt> = tree.stmts().collect();

    let mut raw = parse_errors(&parse);
    raw.extend(squawk(
        &parse,
        text.as_deref().unwrap_or(sql),
        &stmts,
        no_transaction.is_none(),
        opts,
    ));
    raw.extend(stmts.iter().flat_map(syntax::own_hits).filter_map(own));
    raw.sort_by_key(|r| (r.at, std::cmp::Reverse(r.text.class)));

    let mut findings: Vec<Finding> = raw
        .into_iter()
        .map(|r| place(r, sql, statements, &stmts))
        .collect();
    let ignores = ignore::find(&parse.syntax_node(), sql, statements);
    let meta = exempt(&mut findings, &ignores, sql, statements);
    findings.extend(meta);
    findings.sort_by_key(|f| (f.statement_index, f.line, f.column));

    FileReport {
        name: name.to_owned(),
        path: path.to_owned(),
        findings,
        atomicity: atomicity::atomicity(statements, no_transaction),
        impacts: Vec::new(),
    }
}

/// [`analyze`] of a migration as read from disk.
pub fn analyze_migration(m: &Migration, opts: &Options) -> FileReport {
    let mut report = analyze(
        &m.name,
        &m.path.display().to_string(),
        &m.sql,
        &m.statements,
        m.no_transaction.as_deref(),
        opts,
    );
    // What commits together depends on how the file's tool runs it.
    report.atomicity = atomicity::of_migration(m);
    report
}

/// The text squawk lints: `sql` with squawk's own `squawk-ignore` / `squawk-disable-assume-in-transaction` comments
/// made inert (same length), since an exemption must name a reason and be shown; `None` when there are none.
fn lint_text(sql: &str, parse: &Parse<SourceFile>) -> Option<String> {
    const PREFIX: &str = "squawk-";
    if !sql.contains(PREFIX) {
        return None;
    }
    let mut text = sql.to_owned();
    let mut changed = false;
    for token in parse
        .syntax_node()
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| t.kind() == SyntaxKind::COMMENT)
    {
        let start = usize::from(token.text_range().start());
        for (i, _) in token.text().match_indices(PREFIX) {
            let at = start + i;
            text.replace_range(at..at + PREFIX.len(), "squawk_");
            changed = true;
        }
    }
    changed.then_some(text)
}

fn parse_errors(parse: &Parse<SourceFile>) -> Vec<Raw> {
    let Some(text) = rules::own_rule(COULD_NOT_PARSE) else {
        return Vec::new();
    };
    parse
        .errors()
        .into_iter()
        .map(|e| {
            let mut raw = Raw::new(COULD_NOT_PARSE, text, usize::from(e.range().start()), None);
            raw.why = format!("{}: {}", text.why, e.message());
            raw
        })
        .collect()
}

/// squawk's findings for the rules of the rule table.
fn squawk(
    parse: &Parse<SourceFile>,
    text: &str,
    stmts: &[ast::Stmt],
    in_transaction: bool,
    opts: &Options,
) -> Vec<Raw> {
    let enabled = rules::SQUAWK_RULES
        .iter()
        .map(|(rule, _)| *rule)
        .filter(|r| !(opts.executor_sets_lock_timeout && *r == Rule::RequireLockTimeout));
    let mut linter = Linter::from(enabled);
    linter.settings.assume_in_transaction = in_transaction;
    linter
        .lint(parse, text)
        .into_iter()
        .flat_map(|v| from_violation(&v, stmts))
        .collect()
}

fn from_violation(v: &Violation, stmts: &[ast::Stmt]) -> Vec<Raw> {
    let Some(text) = rules::squawk_rule(v.code) else {
        return Vec::new();
    };
    let at = usize::from(v.text_range.start());
    let rule = v.code.to_string();
    let stmt = top_level(stmts, at);
    if v.code == Rule::ConstraintMissingNotValid
        && stmt.is_some_and(|s| syntax::reported_by_own_constraint_rule(s, at))
    {
        return Vec::new();
    }
    let objects = match stmt {
        Some(stmt) => syntax::objects(stmt, v.code, at),
        None => vec![None],
    };
    let mut out: Vec<Raw> = objects
        .into_iter()
        .map(|object| Raw::new(&rule, text, at, object))
        .collect();
    if v.code == Rule::BanDropColumn
        && let Some(companion) = rules::own_rule(DROPPED_COLUMN_STILL_READ)
    {
        out.push(Raw::new(DROPPED_COLUMN_STILL_READ, companion, at, None));
    }
    out
}

fn own(hit: Hit) -> Option<Raw> {
    let text = rules::own_rule(hit.rule)?;
    let mut raw = Raw::new(hit.rule, text, hit.start, hit.object);
    if let Some(ty) = hit.new_type {
        raw.why = format!(
            "ALTER COLUMN … TYPE {ty}: {} — values can be rounded, cut or refused if the column is wider today \
             (its current type is not in the migration, so deckhand cannot check it statically)",
            text.why
        );
    }
    Some(raw)
}

/// The top-level statement of the parsed file containing byte offset `at`.
fn top_level(stmts: &[ast::Stmt], at: usize) -> Option<&ast::Stmt> {
    stmts
        .iter()
        .find(|s| syntax::start(s.syntax()) <= at && at < syntax::end(s.syntax()))
}

/// 0-based index of deckhand's statement containing byte offset `at` (else the last one starting before it, else
/// the first one).
pub(crate) fn statement_at(statements: &[Statement], at: usize) -> Option<usize> {
    statements
        .iter()
        .position(|s| s.offset <= at && at < s.offset + s.sql.len())
        .or_else(|| statements.iter().rposition(|s| s.offset <= at))
        .or_else(|| (!statements.is_empty()).then_some(0))
}

/// A finding at byte offset `at` of `sql`, placed in its statement (`statement_index` 0 when the file has none).
pub(crate) fn finding_at(
    sql: &str,
    statements: &[Statement],
    at: usize,
    rule: &str,
    text: RuleText,
    why: String,
) -> Finding {
    let index = statement_at(statements, at);
    let (line, column) = line_col(sql, at);
    Finding {
        class: text.class,
        rule: rule.to_owned(),
        statement_index: index.map_or(0, |i| i + 1),
        line,
        column,
        statement: index
            .and_then(|i| statements.get(i))
            .map(|s| s.sql.clone())
            .unwrap_or_default(),
        why,
        safer: text.safer.to_owned(),
        object: None,
        tables: Vec::new(),
        severity: None,
        context: Vec::new(),
        ignored: None,
        spared: None,
    }
}

fn place(raw: Raw, sql: &str, statements: &[Statement], stmts: &[ast::Stmt]) -> Finding {
    let mut finding = finding_at(sql, statements, raw.at, &raw.rule, raw.text, raw.why);
    finding.object = raw.object;
    finding.tables = top_level(stmts, raw.at)
        .map(syntax::tables)
        .unwrap_or_default();
    finding
}

/// Applies the ignore comments to `findings`; returns the findings about the comments themselves.
fn exempt(
    findings: &mut [Finding],
    ignores: &[ignore::IgnoreComment],
    sql: &str,
    statements: &[Statement],
) -> Vec<Finding> {
    let mut meta = Vec::new();
    for comment in ignores {
        let Some(reason) = &comment.reason else {
            meta.push(about_ignore(
                comment,
                rules::IGNORE_WITHOUT_REASON,
                format!(
                    "`deckhand:ignore {}` gives no reason: it exempts nothing",
                    comment.rule
                ),
                sql,
                statements,
            ));
            continue;
        };
        let mut used = false;
        if let Some(index) = comment.statement {
            for f in findings.iter_mut().filter(|f| {
                f.statement_index == index + 1 && (comment.rule == "all" || f.rule == comment.rule)
            }) {
                used = true;
                f.ignored.get_or_insert_with(|| reason.clone());
            }
        }
        if !used {
            let why = unused_why(comment);
            meta.push(about_ignore(
                comment,
                rules::UNUSED_IGNORE,
                why,
                sql,
                statements,
            ));
        }
    }
    meta
}

fn unused_why(comment: &ignore::IgnoreComment) -> String {
    let rule = &comment.rule;
    match comment.statement {
        _ if !rules::is_known(rule) => {
            format!("`deckhand:ignore {rule}` names no rule deckhand reports: it exempts nothing")
        }
        None => format!(
            "`deckhand:ignore {rule}` is not on the line right before a statement or at the end of its first \
             line: it exempts nothing"
        ),
        Some(i) => format!(
            "`deckhand:ignore {rule}` matches no finding of statement {}",
            i + 1
        ),
    }
}

fn about_ignore(
    comment: &ignore::IgnoreComment,
    rule: &str,
    why: String,
    sql: &str,
    statements: &[Statement],
) -> Finding {
    let text = rules::own_rule(rule).unwrap_or(RuleText {
        class: super::Class::Locking,
        why: "",
        safer: "",
    });
    let mut finding = finding_at(sql, statements, comment.offset, rule, text, why);
    if let Some(i) = comment.statement {
        finding.statement_index = i + 1;
        finding.statement = statements.get(i).map(|s| s.sql.clone()).unwrap_or_default();
    }
    finding
}
