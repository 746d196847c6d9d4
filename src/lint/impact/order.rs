//! A batch of pending migrations judged in the order they apply. A question whose table an earlier statement of
//! the batch creates, fills, empties, renames or whose columns it changes is not asked of the live database (the
//! answer would describe data the statement will not meet): it is marked as depending on that statement. A `DO`
//! block or SQL that could not be parsed may change anything, so everything after it depends on it.

use std::collections::{HashMap, HashSet};

use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use super::asks::{Ask, Question, of_statement};
use super::exec::{Answer, answer, outcome_of};
use super::{Basis, Impact, Kind, Limits, text};
use crate::lint::FileReport;
use crate::lint::analyze::statement_at;
use crate::lint::syntax::{self, canonical};
use crate::migrate::Migration;
use crate::migrate::db::Db;
use crate::migrate::split::line_col;

/// Where an earlier statement of the batch is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    migration: String,
    line: usize,
}

/// What the batch has changed so far, by table (the bare name: `public.t` and `t` are taken as one, which can only
/// make more questions wait).
#[derive(Default)]
struct Changed {
    /// Tables whose rows or existence changed.
    tables: HashMap<String, Origin>,
    /// Columns added, dropped, altered or renamed.
    columns: HashMap<(String, String), Origin>,
    /// A statement that may have changed anything.
    anything: Option<Origin>,
    /// Tables the batch creates (empty until something fills them).
    created: HashSet<String>,
    /// Tables something earlier in the batch writes rows into.
    filled: HashSet<String>,
    /// Columns the batch adds to tables that existed before it (they hold only what the batch writes).
    added: HashMap<(String, String), Origin>,
}

fn bare(name: &str) -> String {
    crate::lint::live::names::unquote(name)
}

impl Changed {
    /// The earlier statement `q`'s answer depends on, if any, and whether that statement created the table (and
    /// nothing has filled it since: no data that exists now is at stake).
    fn depends(&self, q: &Question) -> Option<(&Origin, bool)> {
        let ask = &q.ask;
        if let Some(o) = &self.anything {
            return Some((o, false));
        }
        let table = bare(ask.table());
        if self.created.contains(&table)
            && !self.filled.contains(&table)
            && let Some(o) = self.tables.get(&table)
        {
            return Some((o, true));
        }
        // An UPDATE that only sets columns the batch added overwrites nothing that exists now.
        if q.kind == Kind::OverwrittenRows && !q.mentions.is_empty() {
            let added: Option<Vec<&Origin>> = q
                .mentions
                .iter()
                .map(|c| self.added.get(&(table.clone(), c.clone())))
                .collect();
            if let Some(o) = added.and_then(|a| a.into_iter().next()) {
                return Some((o, true));
            }
        }
        self.changed_before(q).map(|o| (o, false))
    }

    /// The earlier statement that changed what `q` reads, if any.
    fn changed_before(&self, q: &Question) -> Option<&Origin> {
        let ask = &q.ask;
        let mut tables = vec![bare(ask.table())];
        if let Ask::Orphans { to_table, .. } = ask {
            tables.push(bare(to_table));
        }
        for t in &tables {
            if let Some(o) = self.tables.get(t) {
                return Some(o);
            }
        }
        let table = &tables[0];
        let mut columns = self.columns.iter().filter(|((t, _), _)| t == table);
        let mut read: Vec<String> = q.mentions.clone();
        read.extend(ask.columns().unwrap_or_default().into_iter().map(bare));
        match ask {
            // A row count: no column change alters it.
            Ask::Rows { .. } => None,
            // What the catalog defines: any column change may matter.
            Ask::Validate { .. } => columns.next().map(|(_, o)| o),
            // Reads only these columns (or names in its expressions): only their changes matter.
            _ => columns
                .find(|((_, c), _)| read.iter().any(|r| r == c))
                .map(|(_, o)| o),
        }
    }

    fn table(&mut self, name: &str, o: &Origin) {
        self.tables.entry(bare(name)).or_insert_with(|| o.clone());
    }

    fn column(&mut self, table: &str, column: &str, o: &Origin) {
        self.columns
            .entry((bare(table), bare(column)))
            .or_insert_with(|| o.clone());
    }

    /// Records what `stmt` changes.
    fn apply(&mut self, stmt: &ast::Stmt, o: &Origin) {
        match stmt {
            ast::Stmt::CreateTable(s) => {
                if let Some(t) = s.table_name() {
                    let t = canonical(t.syntax());
                    self.table(&t, o);
                    self.created.insert(bare(&t));
                }
            }
            ast::Stmt::CreateTableAs(s) => {
                if let Some(t) = s.table_name() {
                    self.table(&canonical(t.syntax()), o);
                    self.filled.insert(bare(&canonical(t.syntax())));
                }
            }
            ast::Stmt::AlterTable(s) => self.alter_table(s, o),
            ast::Stmt::Insert(s) => {
                if let Some(t) = s.relation_name_ref() {
                    self.table(&canonical(t.syntax()), o);
                    self.filled.insert(bare(&canonical(t.syntax())));
                }
            }
            // An UPDATE changes the columns it sets, nothing else.
            ast::Stmt::Update(s) if s.set_clause().is_some() => {
                let Some(t) = s.relation_name().and_then(|r| r.relation_name_ref()) else {
                    return;
                };
                let table = canonical(t.syntax());
                self.filled.insert(bare(&table));
                for target in s.syntax().descendants().filter_map(ast::ColumnTarget::cast) {
                    if let Some(c) = target.name() {
                        self.column(&table, &canonical(c.syntax()), o);
                    }
                }
            }
            ast::Stmt::Do(_) | ast::Stmt::Call(_) => {
                self.anything.get_or_insert_with(|| o.clone());
            }
            _ => {
                for t in syntax::tables(stmt) {
                    if matches!(
                        stmt,
                        ast::Stmt::DropTable(_)
                            | ast::Stmt::Truncate(_)
                            | ast::Stmt::Delete(_)
                            | ast::Stmt::Update(_)
                            | ast::Stmt::Merge(_)
                            | ast::Stmt::Copy(_)
                    ) {
                        self.table(&t, o);
                        self.filled.insert(bare(&t));
                    }
                }
            }
        }
    }

    fn alter_table(&mut self, s: &ast::AlterTable, o: &Origin) {
        let Some(t) = s.table_relation_name().and_then(|r| r.table_name_ref()) else {
            return;
        };
        let table = canonical(t.syntax());
        for action in s.actions() {
            let columns: Vec<String> = match &action {
                ast::AlterTableAction::AddColumn(a) => {
                    let added: Vec<String> = a
                        .column_name()
                        .map(|c| canonical(c.syntax()))
                        .into_iter()
                        .collect();
                    for c in &added {
                        self.added
                            .entry((bare(&table), bare(c)))
                            .or_insert_with(|| o.clone());
                    }
                    added
                }
                ast::AlterTableAction::DropColumn(d) => d
                    .column_name_ref()
                    .map(|c| canonical(c.syntax()))
                    .into_iter()
                    .collect(),
                // A new type changes the values; a default or NOT NULL changes none.
                ast::AlterTableAction::AlterColumn(a)
                    if matches!(a.option(), Some(ast::AlterColumnOption::SetType(_))) =>
                {
                    a.column_name_ref()
                        .map(|c| canonical(c.syntax()))
                        .into_iter()
                        .collect()
                }
                ast::AlterTableAction::RenameColumn(r) => r
                    .column_name_ref()
                    .map(|c| canonical(c.syntax()))
                    .into_iter()
                    .chain(r.column_name().map(|c| canonical(c.syntax())))
                    .collect(),
                ast::AlterTableAction::TableRenameTo(_) | ast::AlterTableAction::SetSchema(_) => {
                    self.table(&table, o);
                    for n in action
                        .syntax()
                        .descendants()
                        .filter(|n| ast::TableName::can_cast(n.kind()))
                    {
                        self.table(&canonical(&n), o);
                    }
                    Vec::new()
                }
                _ => Vec::new(),
            };
            for c in columns {
                self.column(&table, &c, o);
            }
        }
    }
}

/// One question of the batch, placed: where its statement is, and the earlier statement it depends on.
struct Placed {
    question: Question,
    statement_index: usize,
    line: usize,
    depends: Option<(Origin, bool)>,
}

/// Every question of the batch, per migration, with what it depends on. Pure (the syntax trees never cross an
/// await: they are not `Send`).
fn place(migrations: &[&Migration]) -> Vec<Vec<Placed>> {
    let mut changed = Changed::default();
    let mut out = Vec::new();
    for m in migrations {
        let parse = SourceFile::parse(&m.sql);
        let mut placed = Vec::new();
        for stmt in parse.tree().stmts() {
            let at = syntax::start(stmt.syntax());
            let origin = Origin {
                migration: m.name.clone(),
                line: line_col(&m.sql, at).0,
            };
            let statement_index = statement_at(&m.statements, at).map_or(0, |i| i + 1);
            for question in of_statement(&stmt) {
                placed.push(Placed {
                    depends: changed
                        .depends(&question)
                        .map(|(o, created)| (o.clone(), created)),
                    question,
                    statement_index,
                    line: origin.line,
                });
            }
            changed.apply(&stmt, &origin);
        }
        if !parse.errors().is_empty() {
            // What could not be parsed may change anything: the rest of the batch waits on it.
            changed.anything.get_or_insert(Origin {
                migration: m.name.clone(),
                line: 1,
            });
        }
        out.push(placed);
    }
    out
}

/// Judges the data impact of every statement of a batch: `migrations` in the order they apply, `reports` their
/// analyses (same order), each given its [`Impact`]s. Reads the live database under `limits`.
pub async fn judge(
    db: &mut Db,
    migrations: &[&Migration],
    reports: &mut [FileReport],
    limits: &Limits,
) {
    let started = std::time::Instant::now();
    for (placed, report) in place(migrations).into_iter().zip(reports.iter_mut()) {
        let mut impacts = Vec::new();
        for p in placed {
            let spent = started.elapsed() >= limits.total;
            let a = match p.depends {
                None if spent => Answer {
                    outcome: outcome_of(p.question.kind),
                    count: None,
                    basis: Basis::NotJudged {
                        why: format!(
                            "the time allowed for counting ({} in all) was spent",
                            crate::plan::human_duration(limits.total)
                        ),
                    },
                    example: None,
                },
                Some((o, created)) => Answer {
                    outcome: outcome_of(p.question.kind),
                    count: None,
                    basis: if created {
                        Basis::CreatedInBatch {
                            migration: o.migration,
                            line: o.line,
                        }
                    } else {
                        Basis::DependsOn {
                            migration: o.migration,
                            line: o.line,
                        }
                    },
                    example: None,
                },
                None => answer(db, &p.question, limits).await,
            };
            impacts.push(impact(&p.question, a, p.statement_index, p.line));
        }
        report.impacts = impacts;
    }
}

fn impact(q: &Question, a: Answer, statement_index: usize, line: usize) -> Impact {
    let what = text::what(q.kind, a.outcome, &q.object, a.count, a.example.as_deref());
    Impact {
        statement_index,
        line,
        kind: q.kind,
        outcome: a.outcome,
        object: q.object.clone(),
        count: a.count,
        text: format!("{what} {}", text::basis(&a.basis)),
        basis: a.basis,
        example: a.example,
    }
}
