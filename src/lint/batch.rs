//! A batch of pending migrations read in the order they apply, to tell which Dangerous findings put data that
//! exists now at stake. An object created by an earlier statement of the batch (an earlier pending migration, or
//! earlier in the same file) holds only what the batch itself put there; a table the live database shows empty,
//! and that nothing earlier in the batch fills from elsewhere, holds nothing. Their findings are marked
//! [`Spared`]: still listed, but the apply asks no typed name for them. Pure: what the live database says comes in
//! as [`Probes`] (read by `lint::live::probe`), and [`asks`] names the tables to read.
//!
//! Conservative where it cannot tell: a rename, `INSERT … SELECT`, `UPDATE … FROM`, `MERGE`, `CREATE TABLE … AS`
//! or `SET SCHEMA` makes a table's rows come from elsewhere (neither created by the batch nor as the live database
//! shows it); an `UPDATE` of a table that existed before makes its new columns hold copied values; names compare
//! as PostgreSQL resolves them (`Users` and `"users"` are one table, `public.users` and `users` are not assumed to
//! be). A `DO` block or SQL that could not be parsed is not looked into: its own finding asks for a typed name.

use std::collections::{HashMap, HashSet};

use squawk_linter::Rule;
use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use super::analyze::statement_at;
use super::rules::{DELETE_WITHOUT_WHERE, NARROWING_TYPE_CHANGE, TRUNCATE, UPDATE_WITHOUT_WHERE};
use super::syntax::{self, canonical, name};
use super::{Class, FileReport, Finding, Spared};
use crate::migrate::Migration;
use crate::migrate::split::line_col;

/// What the live database says about a table, by its canonical name (`"public"."users"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Absent,
    Empty,
    HasRows,
    /// It could not be read (a lock, a timeout, a permission), or it is not a plain table.
    Unknown,
}

/// The answers of the live database; a table not in it is [`Probe::Unknown`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes(HashMap<String, Probe>);

impl Probes {
    pub fn insert(&mut self, table: String, probe: Probe) {
        self.0.insert(table, probe);
    }

    pub fn get(&self, table: &str) -> Probe {
        self.0.get(table).copied().unwrap_or(Probe::Unknown)
    }
}

/// The tables (canonical SQL names) whose state on the live database decides a finding of the batch:
/// `migrations` in apply order, `reports` their analyses (same order).
pub fn asks(migrations: &[&Migration], reports: &[FileReport]) -> Vec<String> {
    walk(migrations, reports, None).1
}

/// Marks each Dangerous finding of `reports` (aligned with `migrations`, in apply order) that puts no existing
/// data at stake, given what the live database said; clears the mark on the others.
pub fn spare(migrations: &[&Migration], reports: &mut [FileReport], probes: &Probes) {
    let (verdicts, _) = walk(migrations, reports, Some(probes));
    for (report, verdicts) in reports.iter_mut().zip(verdicts) {
        for (f, v) in report.findings.iter_mut().zip(verdicts) {
            f.spared = v;
        }
    }
}

/// The statement that created an object.
#[derive(Debug, Clone)]
struct Origin {
    migration: String,
    line: usize,
}

/// What a name in a finding's statement means: a table, or a table's column.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Table(String),
    Column(String, String),
}

/// The batch so far, statement by statement.
struct Walk<'p> {
    /// `None` on the first pass, which only collects the tables to ask about.
    probes: Option<&'p Probes>,
    /// Tables created by the batch (and holding only rows the batch wrote itself).
    tables: HashMap<String, Origin>,
    /// Columns added by the batch to tables that existed before it.
    columns: HashMap<(String, String), Origin>,
    /// Tables whose rows may no longer be what the live database shows.
    changed: HashSet<String>,
    asked: Vec<String>,
}

type Verdicts = Vec<Vec<Option<Spared>>>;

fn walk(
    migrations: &[&Migration],
    reports: &[FileReport],
    probes: Option<&Probes>,
) -> (Verdicts, Vec<String>) {
    let mut w = Walk {
        probes,
        tables: HashMap::new(),
        columns: HashMap::new(),
        changed: HashSet::new(),
        asked: Vec::new(),
    };
    let mut out = Vec::new();
    for (m, report) in migrations.iter().zip(reports) {
        let mut verdicts = vec![None; report.findings.len()];
        let mut judged = vec![false; report.findings.len()];
        for stmt in SourceFile::parse(&m.sql).tree().stmts() {
            let at = syntax::start(stmt.syntax());
            let index = statement_at(&m.statements, at).map_or(0, |i| i + 1);
            let names = targets(&stmt);
            for (i, f) in report.findings.iter().enumerate() {
                if judged[i] || f.statement_index != index {
                    continue;
                }
                // Judged before the statement's own effects: what it creates is not "earlier".
                if let Some(targets) = f.object.as_ref().and_then(|o| names.get(o)) {
                    judged[i] = true;
                    verdicts[i] = w.judge(f, targets);
                }
            }
            let origin = Origin {
                migration: m.name.clone(),
                line: line_col(&m.sql, at).0,
            };
            w.apply(&stmt, &origin);
        }
        out.push(verdicts);
    }
    (out, w.asked)
}

/// Every name a finding of `stmt` may give as its object (as the analyzer writes it), with what it means.
fn targets(stmt: &ast::Stmt) -> HashMap<String, Vec<Target>> {
    let mut out: HashMap<String, Vec<Target>> = HashMap::new();
    let mut add = |written: String, target: Target| {
        let list = out.entry(written).or_default();
        if !list.contains(&target) {
            list.push(target);
        }
    };
    for node in stmt.syntax().descendants() {
        if ast::TableNameRef::can_cast(node.kind()) || ast::RelationNameRef::can_cast(node.kind()) {
            add(name(&node), Target::Table(canonical(&node)));
        }
    }
    if let ast::Stmt::AlterTable(s) = stmt
        && let Some(t) = s.table_relation_name().and_then(|r| r.table_name_ref())
    {
        for action in s.actions() {
            let column = match action {
                ast::AlterTableAction::DropColumn(d) => d.column_name_ref(),
                ast::AlterTableAction::AlterColumn(a) => a.column_name_ref(),
                _ => None,
            };
            if let Some(c) = column {
                add(
                    format!("{}.{}", name(t.syntax()), name(c.syntax())),
                    Target::Column(canonical(t.syntax()), canonical(c.syntax())),
                );
            }
        }
    }
    out
}

fn is_table_rule(rule: &str) -> bool {
    rule == Rule::BanDropTable.to_string()
        || [TRUNCATE, DELETE_WITHOUT_WHERE, UPDATE_WITHOUT_WHERE].contains(&rule)
}

fn is_column_rule(rule: &str) -> bool {
    rule == Rule::BanDropColumn.to_string() || rule == NARROWING_TYPE_CHANGE
}

impl Walk<'_> {
    /// Whether finding `f`, about `targets`, loses no existing data: every object its name may mean must be spared.
    fn judge(&mut self, f: &Finding, targets: &[Target]) -> Option<Spared> {
        if f.class != Class::Dangerous {
            return None;
        }
        let mut verdict = None;
        for target in targets {
            let v = match target {
                Target::Table(t) if is_table_rule(&f.rule) => self.table(t),
                Target::Column(t, c) if is_column_rule(&f.rule) => self.column(t, c),
                _ => None,
            };
            verdict = Some(v?);
        }
        verdict
    }

    fn table(&mut self, t: &str) -> Option<Spared> {
        match self.tables.get(t) {
            Some(o) => Some(created(o)),
            None => self.if_empty(t),
        }
    }

    fn column(&mut self, t: &str, c: &str) -> Option<Spared> {
        let key = (t.to_string(), c.to_string());
        match self.tables.get(t).or_else(|| self.columns.get(&key)) {
            Some(o) => Some(created(o)),
            None => self.if_empty(t),
        }
    }

    /// Spared when the table is as the live database shows it, and that is empty.
    fn if_empty(&mut self, t: &str) -> Option<Spared> {
        if self.changed.contains(t) {
            return None;
        }
        match self.probes {
            None => {
                self.ask(t);
                None
            }
            Some(p) => (p.get(t) == Probe::Empty).then_some(Spared::EmptyTable),
        }
    }

    fn ask(&mut self, t: &str) {
        if !self.asked.iter().any(|a| a == t) {
            self.asked.push(t.to_string());
        }
    }

    /// What `stmt` does to the objects the batch created and to the tables as the live database shows them.
    fn apply(&mut self, stmt: &ast::Stmt, origin: &Origin) {
        match stmt {
            ast::Stmt::CreateTable(s) => {
                if let Some(t) = s.table_name() {
                    let t = canonical(t.syntax());
                    if s.if_not_exists().is_some() {
                        self.create_if_absent(t, origin);
                    } else {
                        self.create(t, origin);
                    }
                }
            }
            ast::Stmt::CreateTableAs(s) => {
                if let Some(t) = s.table_name() {
                    self.unsure(canonical(t.syntax()));
                }
            }
            ast::Stmt::DropTable(s) => {
                for t in s.table_name_refs() {
                    self.unsure(canonical(t.syntax()));
                }
            }
            ast::Stmt::AlterTable(s) => self.alter_table(s, origin),
            _ => {}
        }
        self.dml(stmt);
    }

    fn create(&mut self, t: String, origin: &Origin) {
        self.columns.retain(|(table, _), _| *table != t);
        self.changed.insert(t.clone());
        self.tables.insert(t, origin.clone());
    }

    /// `CREATE TABLE IF NOT EXISTS` creates the table only when the live database has none.
    fn create_if_absent(&mut self, t: String, origin: &Origin) {
        match self.probes.map(|p| p.get(&t)) {
            // The first pass: ask, and go on as if the table is there (nothing created).
            None => self.ask(&t),
            Some(Probe::Absent) => self.create(t, origin),
            Some(Probe::Empty | Probe::HasRows) => {}
            Some(Probe::Unknown) => self.unsure(t),
        }
    }

    /// The table is gone, or its rows may come from elsewhere: neither created by the batch nor as it is now.
    fn unsure(&mut self, t: String) {
        self.tables.remove(&t);
        self.columns.retain(|(table, _), _| *table != t);
        self.changed.insert(t);
    }

    fn alter_table(&mut self, s: &ast::AlterTable, origin: &Origin) {
        let Some(t) = s.table_relation_name().and_then(|r| r.table_name_ref()) else {
            return;
        };
        let t = canonical(t.syntax());
        for action in s.actions() {
            match action {
                ast::AlterTableAction::AddColumn(a) if a.if_not_exists().is_none() => {
                    if let Some(c) = a.column_name()
                        && !self.tables.contains_key(&t)
                    {
                        let key = (t.clone(), canonical(c.syntax()));
                        self.columns.insert(key, origin.clone());
                    }
                }
                ast::AlterTableAction::DropColumn(d) => {
                    if let Some(c) = d.column_name_ref() {
                        self.columns.remove(&(t.clone(), canonical(c.syntax())));
                    }
                }
                ast::AlterTableAction::RenameColumn(r) => {
                    if let (Some(old), Some(new)) = (r.column_name_ref(), r.column_name()) {
                        let from = self.columns.remove(&(t.clone(), canonical(old.syntax())));
                        let to = (t.clone(), canonical(new.syntax()));
                        self.columns.remove(&to);
                        if let Some(o) = from {
                            self.columns.insert(to, o);
                        }
                    }
                }
                ast::AlterTableAction::TableRenameTo(r) => {
                    if let Some(new) = r.table_name() {
                        let new = qualified_like(&t, &canonical(new.syntax()));
                        self.rename(&t, new);
                    }
                }
                ast::AlterTableAction::SetSchema(_) => self.unsure(t.clone()),
                _ => {}
            }
        }
    }

    /// `ALTER TABLE a RENAME TO b`: `b` is what `a` was (created by the batch or not); neither name is as the live
    /// database shows it any more.
    fn rename(&mut self, a: &str, b: String) {
        let fresh = self.tables.remove(a);
        let moved: Vec<(String, Origin)> = self
            .columns
            .iter()
            .filter(|((table, _), _)| table == a)
            .map(|((_, c), o)| (c.clone(), o.clone()))
            .collect();
        self.unsure(a.to_string());
        self.unsure(b.clone());
        for (c, o) in moved {
            self.columns.insert((b.clone(), c), o);
        }
        if let Some(o) = fresh {
            self.tables.insert(b, o);
        }
    }

    /// Rows written by DML (at the top level or in a data-modifying CTE; never in function bodies): from literal
    /// values they are the batch's own; copied from elsewhere, the table holds data that exists now.
    fn dml(&mut self, stmt: &ast::Stmt) {
        let dml = matches!(
            stmt,
            ast::Stmt::Select(_)
                | ast::Stmt::SelectInto(_)
                | ast::Stmt::Insert(_)
                | ast::Stmt::Update(_)
                | ast::Stmt::Delete(_)
                | ast::Stmt::Merge(_)
        );
        if !dml {
            return;
        }
        for node in stmt.syntax().descendants() {
            if let Some(i) = ast::Insert::cast(node.clone()) {
                let own = match i.insert_source() {
                    None | Some(ast::InsertSource::DefaultValues(_)) => true,
                    Some(ast::InsertSource::SelectVariant(ast::SelectVariant::Values(v))) => {
                        !has_query(v.syntax())
                    }
                    Some(_) => false,
                };
                if let Some(t) = i.relation_name_ref()
                    && (!own || i.with_clause().is_some())
                {
                    self.unsure(canonical(t.syntax()));
                }
            } else if let Some(u) = ast::Update::cast(node.clone()) {
                let Some(t) = u.relation_name().and_then(|r| r.relation_name_ref()) else {
                    continue;
                };
                let t = canonical(t.syntax());
                if u.from_clause().is_some() || has_query(u.syntax()) {
                    self.unsure(t);
                } else {
                    // Values computed from the row itself: a new column of an older table now holds copies.
                    self.columns.retain(|(table, _), _| *table != t);
                }
            } else if let Some(m) = ast::Merge::cast(node.clone()) {
                if let Some(t) = m.table_relation_name().and_then(|r| r.table_name_ref()) {
                    self.unsure(canonical(t.syntax()));
                }
            } else if let Some(into) = ast::IntoClause::cast(node)
                && let Some(t) = into.table_name()
            {
                self.unsure(canonical(t.syntax()));
            }
        }
    }
}

fn created(o: &Origin) -> Spared {
    Spared::CreatedInBatch {
        migration: o.migration.clone(),
        line: o.line,
    }
}

/// Whether `node` holds a query (a subquery reads other rows).
fn has_query(node: &squawk_syntax::SyntaxNode) -> bool {
    node.descendants()
        .any(|n| ast::Select::can_cast(n.kind()) || ast::Table::can_cast(n.kind()))
}

/// `new` in the schema of `old` when `old` names one (`ALTER TABLE app.a RENAME TO b` makes `app.b`).
fn qualified_like(old: &str, new: &str) -> String {
    match old.rfind("\".\"") {
        Some(dot) => format!("{}{new}", &old[..dot + 2]),
        None => new.to_string(),
    }
}
