//! What to ask the live data about one statement: the questions whose answers decide what the statement loses or
//! whether it fails (rows a DROP TABLE takes, NULLs a SET NOT NULL trips on, duplicate keys a UNIQUE index trips
//! on…). Pure: reads the squawk-syntax tree only. Names come out as PostgreSQL resolves them, each part quoted
//! (`syntax::canonical`), and expressions as written in the file, so they can be put into a query as they are.

use squawk_syntax::SyntaxNode;
use squawk_syntax::ast::{self, AstNode};

use super::Kind;
use crate::lint::live::names::unquote;
use crate::lint::syntax::{canonical, name};

/// One question for the live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// How many rows the table has.
    Rows { table: String },
    /// How many rows have a value (not NULL) in the column.
    Values { table: String, column: String },
    /// How many rows have NULL in the column.
    Nulls { table: String, column: String },
    /// Groups of rows sharing a key (every part not NULL), among rows matching `predicate`.
    Duplicates {
        table: String,
        keys: Vec<String>,
        predicate: Option<String>,
    },
    /// Rows for which `predicate` is false (NULL passes, as in a CHECK).
    Violations { table: String, predicate: String },
    /// Rows whose key (every part not NULL) has no match in the referenced table; `to_columns` empty means its
    /// primary key.
    Orphans {
        table: String,
        columns: Vec<String>,
        to_table: String,
        to_columns: Vec<String>,
    },
    /// Values of `column` that the change to `to_type` (by `using`, or a plain cast) rejects or alters.
    Cast {
        table: String,
        column: String,
        to_type: String,
        using: Option<String>,
    },
    /// A `VALIDATE CONSTRAINT`: what to ask depends on the constraint's definition, read from the catalog.
    Validate { table: String, constraint: String },
}

impl Ask {
    /// The table the question is about.
    pub fn table(&self) -> &str {
        match self {
            Ask::Rows { table }
            | Ask::Values { table, .. }
            | Ask::Nulls { table, .. }
            | Ask::Duplicates { table, .. }
            | Ask::Violations { table, .. }
            | Ask::Orphans { table, .. }
            | Ask::Cast { table, .. }
            | Ask::Validate { table, .. } => table,
        }
    }

    /// The columns the question reads, when it reads only named columns; `None` when it reads whole rows.
    pub fn columns(&self) -> Option<Vec<&str>> {
        match self {
            Ask::Values { column, .. } | Ask::Nulls { column, .. } | Ask::Cast { column, .. } => {
                Some(vec![column])
            }
            Ask::Orphans { columns, .. } => Some(columns.iter().map(String::as_str).collect()),
            _ => None,
        }
    }
}

/// A question and what its answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub kind: Kind,
    pub ask: Ask,
    /// What the operator reads: `orders`, `orders.note`, the index or constraint name.
    pub object: String,
    /// Whether a value shown as an example is masked (the key looks like it holds a secret).
    pub secret: bool,
    /// The bare names its expressions mention (columns, and maybe function names: only ever too many), when the
    /// question reads expressions.
    pub mentions: Vec<String>,
}

impl Question {
    fn new(kind: Kind, ask: Ask, object: String) -> Question {
        Question {
            kind,
            ask,
            object,
            secret: false,
            mentions: Vec::new(),
        }
    }
}

/// Every identifier in the nodes, bare (as PostgreSQL folds them): what an expression may read.
fn mentions<'a>(nodes: impl IntoIterator<Item = &'a SyntaxNode>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for node in nodes {
        for n in node
            .descendants()
            .filter(|n| ast::NameRef::can_cast(n.kind()))
        {
            let bare = unquote(&canonical(&n));
            if !out.contains(&bare) {
                out.push(bare);
            }
        }
    }
    out
}

/// The questions one top-level statement raises, in the order its clauses appear.
pub fn of_statement(stmt: &ast::Stmt) -> Vec<Question> {
    match stmt {
        ast::Stmt::DropTable(s) => s
            .table_name_refs()
            .map(|t| table_question(Kind::TableRows, t.syntax()))
            .collect(),
        ast::Stmt::Truncate(s) => s
            .table_list()
            .map(|l| {
                l.table_relation_names()
                    .filter_map(|r| r.table_name_ref())
                    .map(|t| table_question(Kind::TruncatedRows, t.syntax()))
                    .collect()
            })
            .unwrap_or_default(),
        ast::Stmt::Delete(s)
            if s.where_clause_or_current_of().is_none() && s.using_clause().is_none() =>
        {
            relation(s.relation_name())
                .map(|t| table_question(Kind::DeletedRows, &t))
                .into_iter()
                .collect()
        }
        ast::Stmt::Update(s)
            if s.where_clause_or_current_of().is_none() && s.from_clause().is_none() =>
        {
            // What it overwrites: the values of the columns it sets.
            let set: Vec<String> = s
                .syntax()
                .descendants()
                .filter_map(ast::ColumnTarget::cast)
                .filter_map(|c| c.name())
                .map(|c| unquote(&canonical(c.syntax())))
                .collect();
            relation(s.relation_name())
                .map(|t| Question {
                    mentions: set,
                    ..table_question(Kind::OverwrittenRows, &t)
                })
                .into_iter()
                .collect()
        }
        ast::Stmt::AlterTable(s) => alter_table(s),
        ast::Stmt::CreateIndex(s) if s.unique_token().is_some() => {
            unique_index(s).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

fn relation(r: Option<ast::RelationName>) -> Option<SyntaxNode> {
    r.and_then(|r| r.relation_name_ref())
        .map(|n| n.syntax().clone())
}

fn table_question(kind: Kind, table: &SyntaxNode) -> Question {
    Question::new(
        kind,
        Ask::Rows {
            table: canonical(table),
        },
        name(table),
    )
}

/// Whether a column's name says it holds something secret: its values are never shown.
pub fn looks_secret(column: &str) -> bool {
    const WORDS: [&str; 12] = [
        "password", "passwd", "secret", "token", "key", "hash", "salt", "ssn", "card", "iban",
        "otp", "pin",
    ];
    let lower = column.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

fn alter_table(s: &ast::AlterTable) -> Vec<Question> {
    let Some(table) = s
        .table_relation_name()
        .and_then(|r| r.table_name_ref())
        .map(|t| t.syntax().clone())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for action in s.actions() {
        match action {
            ast::AlterTableAction::DropColumn(d) => {
                if let Some(c) = d.column_name_ref() {
                    out.push(column_question(Kind::ColumnValues, &table, c.syntax()));
                }
            }
            ast::AlterTableAction::AlterColumn(a) => out.extend(alter_column(&table, &a)),
            ast::AlterTableAction::AddColumn(a) => out.extend(add_column(&table, &a)),
            ast::AlterTableAction::AddConstraint(a) => {
                if let Some(c) = a.constraint() {
                    out.extend(constraint(&table, &c));
                }
            }
            ast::AlterTableAction::ValidateConstraint(v) => {
                if let Some(c) = v.constraint_name_ref() {
                    let ask = Ask::Validate {
                        table: canonical(&table),
                        constraint: name(c.syntax()),
                    };
                    out.push(Question::new(Kind::Validation, ask, name(c.syntax())));
                }
            }
            _ => {}
        }
    }
    out
}

fn column_question(kind: Kind, table: &SyntaxNode, column: &SyntaxNode) -> Question {
    let (t, c) = (canonical(table), canonical(column));
    let ask = match kind {
        Kind::ColumnValues => Ask::Values {
            table: t,
            column: c,
        },
        _ => Ask::Nulls {
            table: t,
            column: c,
        },
    };
    Question::new(kind, ask, format!("{}.{}", name(table), name(column)))
}

fn alter_column(table: &SyntaxNode, a: &ast::AlterColumn) -> Option<Question> {
    let column = a.column_name_ref()?;
    match a.option()? {
        ast::AlterColumnOption::SetNotNull(_) => {
            Some(column_question(Kind::NullRows, table, column.syntax()))
        }
        ast::AlterColumnOption::SetType(t) => {
            let ty = t.ty()?;
            let using = t.using_expr().and_then(|u| u.expr());
            let mut q = Question::new(
                Kind::CastValues,
                Ask::Cast {
                    table: canonical(table),
                    column: canonical(column.syntax()),
                    to_type: ty.syntax().text().to_string(),
                    using: using.as_ref().map(|e| e.syntax().text().to_string()),
                },
                format!("{}.{}", name(table), name(column.syntax())),
            );
            q.secret = looks_secret(&name(column.syntax()));
            q.mentions = mentions(using.as_ref().map(AstNode::syntax));
            Some(q)
        }
        _ => None,
    }
}

/// `ADD COLUMN … NOT NULL` with no default (nor identity, nor generated): every existing row fails it.
fn add_column(table: &SyntaxNode, a: &ast::AddColumn) -> Option<Question> {
    let column = a.column_name()?;
    let constraints: Vec<ast::Constraint> = a.constraints().collect();
    let not_null = constraints.iter().any(|c| {
        matches!(
            c,
            ast::Constraint::NotNullConstraint(_) | ast::Constraint::PrimaryKeyConstraint(_)
        )
    });
    let filled = constraints.iter().any(|c| {
        matches!(
            c,
            ast::Constraint::DefaultConstraint(_) | ast::Constraint::GeneratedConstraint(_)
        )
    });
    let ask = Ask::Rows {
        table: canonical(table),
    };
    let object = format!("{}.{}", name(table), name(column.syntax()));
    (not_null && !filled).then(|| Question::new(Kind::RowsWithoutValue, ask, object))
}

/// `ADD [CONSTRAINT n] UNIQUE | PRIMARY KEY | CHECK | FOREIGN KEY`. A NOT VALID check or foreign key checks no
/// existing row, so it asks nothing (its VALIDATE will).
fn constraint(table: &SyntaxNode, c: &ast::Constraint) -> Vec<Question> {
    let not_valid = c
        .syntax()
        .descendants()
        .any(|n| ast::NotValid::can_cast(n.kind()));
    let label = constraint_label(table, c);
    let t = canonical(table);
    match c {
        ast::Constraint::UniqueConstraint(u) => key_columns(u.index_parameters(), table, &label),
        ast::Constraint::PrimaryKeyConstraint(p) => {
            let mut out = key_columns(p.index_parameters(), table, &label);
            if let Some(cols) = p.index_parameters().and_then(|i| i.column_list()) {
                out.extend(
                    cols.column_name_refs()
                        .map(|col| column_question(Kind::NullRows, table, col.syntax())),
                );
            }
            out
        }
        ast::Constraint::CheckConstraint(k) if !not_valid => k
            .expr()
            .map(|e| {
                let ask = Ask::Violations {
                    table: t,
                    predicate: e.syntax().text().to_string(),
                };
                let mut q = Question::new(Kind::CheckViolations, ask, label);
                q.mentions = mentions([e.syntax()]);
                q
            })
            .into_iter()
            .collect(),
        ast::Constraint::ForeignKeyConstraint(f) if !not_valid => {
            let list = |l: Option<ast::ForeignKeyColumnList>| -> Vec<String> {
                l.map(|l| {
                    l.column_name_refs()
                        .map(|c| canonical(c.syntax()))
                        .collect()
                })
                .unwrap_or_default()
            };
            f.table_name_ref()
                .map(|to| {
                    let ask = Ask::Orphans {
                        table: t,
                        columns: list(f.from_columns()),
                        to_table: canonical(to.syntax()),
                        to_columns: list(f.to_columns()),
                    };
                    Question::new(Kind::OrphanRows, ask, label)
                })
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The constraint's name when it has one, else `table (UNIQUE)` and the like.
fn constraint_label(table: &SyntaxNode, c: &ast::Constraint) -> String {
    let named = c
        .syntax()
        .children()
        .find_map(ast::ConstraintNameClause::cast)
        .and_then(|n| n.constraint_name())
        .map(|n| name(n.syntax()));
    named.unwrap_or_else(|| {
        let kind = match c {
            ast::Constraint::UniqueConstraint(_) => "UNIQUE",
            ast::Constraint::PrimaryKeyConstraint(_) => "PRIMARY KEY",
            ast::Constraint::CheckConstraint(_) => "CHECK",
            ast::Constraint::ForeignKeyConstraint(_) => "FOREIGN KEY",
            _ => "constraint",
        };
        format!("{} ({kind})", name(table))
    })
}

fn key_columns(
    params: Option<ast::IndexParameters>,
    table: &SyntaxNode,
    label: &str,
) -> Vec<Question> {
    let Some(cols) = params.and_then(|p| p.column_list()) else {
        return Vec::new();
    };
    let names: Vec<String> = cols.column_name_refs().map(|c| name(c.syntax())).collect();
    let keys: Vec<String> = cols
        .column_name_refs()
        .map(|c| canonical(c.syntax()))
        .collect();
    if keys.is_empty() {
        return Vec::new();
    }
    let ask = Ask::Duplicates {
        table: canonical(table),
        keys,
        predicate: None,
    };
    let mut q = Question::new(Kind::DuplicateKeys, ask, label.to_string());
    q.secret = names.iter().any(|n| looks_secret(n));
    q.mentions = cols
        .column_name_refs()
        .map(|c| unquote(&canonical(c.syntax())))
        .collect();
    vec![q]
}

/// `CREATE UNIQUE INDEX [name] ON t (a, lower(b)) [WHERE p]`: groups of rows with the same key among those
/// matching `p`.
fn unique_index(s: &ast::CreateIndex) -> Option<Question> {
    let table = s.table_relation_name()?.table_name_ref()?;
    let items: Vec<ast::PartitionItem> = s.partition_item_list()?.partition_items().collect();
    let exprs: Vec<ast::Expr> = items.iter().filter_map(|i| i.expr()).collect();
    if exprs.is_empty() || exprs.len() != items.len() {
        return None;
    }
    let keys: Vec<String> = exprs
        .iter()
        .map(|e| e.syntax().text().to_string())
        .collect();
    let object = s
        .index()
        .map(|i| name(i.syntax()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{} (UNIQUE index)", name(table.syntax())));
    let predicate = s.where_clause().and_then(|w| w.expr());
    let mut q = Question::new(
        Kind::DuplicateKeys,
        Ask::Duplicates {
            table: canonical(table.syntax()),
            keys: keys.clone(),
            predicate: predicate.as_ref().map(|e| e.syntax().text().to_string()),
        },
        object,
    );
    q.secret = keys.iter().any(|k| looks_secret(k));
    q.mentions = mentions(
        exprs
            .iter()
            .map(AstNode::syntax)
            .chain(predicate.as_ref().map(AstNode::syntax)),
    );
    Some(q)
}
