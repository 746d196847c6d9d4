//! Reading squawk-syntax trees for the analyzer: names as written (unquoted), where a node starts, the tables a
//! statement touches, the objects a Dangerous squawk finding destroys, and deckhand's own rules (`truncate`,
//! `delete-without-where`, `update-without-where`, `narrowing-type-change`).

use squawk_linter::Rule;
use squawk_syntax::SyntaxNode;
use squawk_syntax::ast::{self, AstNode};

use super::rules::{
    DELETE_WITHOUT_WHERE, DO_BLOCK, DROP_CASCADE, DROP_OWNED, NARROWING_TYPE_CHANGE, TRUNCATE,
    UPDATE_WITHOUT_WHERE,
};

/// A finding of one of deckhand's own rules, before it is placed in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: &'static str,
    /// Byte offset in the file.
    pub start: usize,
    pub object: Option<String>,
    /// For `narrowing-type-change`: the new type as written.
    pub new_type: Option<String>,
}

/// The name a node spells, as written but unquoted: `public."Users"` → `public.Users`.
pub fn name(node: &SyntaxNode) -> String {
    let mut out = String::new();
    for token in node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
    {
        if token.kind().is_trivia() {
            continue;
        }
        let text = token.text();
        match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => out.push_str(&inner.replace("\"\"", "\"")),
            None => out.push_str(text),
        }
    }
    out
}

/// The name a node spells as PostgreSQL resolves it, each part quoted: unquoted parts folded to lower case (ASCII,
/// as PostgreSQL folds), quoted ones kept: `public."Users"` → `"public"."Users"`, `Users` → `"users"`. Two
/// spellings of one object compare equal; the result is a valid SQL name.
pub fn canonical(node: &SyntaxNode) -> String {
    let mut out = String::new();
    for token in node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
    {
        let text = token.text();
        if text == "." {
            out.push('.');
            continue;
        }
        let part = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => text.to_ascii_lowercase(),
        };
        out.push('"');
        out.push_str(&part.replace('"', "\"\""));
        out.push('"');
    }
    out
}

fn name_of<N: AstNode>(node: Option<N>) -> Option<String> {
    node.map(|n| name(n.syntax())).filter(|n| !n.is_empty())
}

/// Byte offset of a node's first token that is not whitespace or a comment.
pub fn start(node: &SyntaxNode) -> usize {
    node.descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .find(|t| !t.kind().is_trivia())
        .map_or_else(
            || usize::from(node.text_range().start()),
            |t| usize::from(t.text_range().start()),
        )
}

/// Byte offset just past a node's last token.
pub fn end(node: &SyntaxNode) -> usize {
    usize::from(node.text_range().end())
}

fn table_of(relation: Option<ast::TableRelationName>) -> Option<String> {
    name_of(relation.and_then(|r| r.table_name_ref()))
}

fn relation_of(relation: Option<ast::RelationName>) -> Option<String> {
    name_of(relation.and_then(|r| r.relation_name_ref()))
}

/// The tables a top-level statement touches: ALTER TABLE target (and the tables its new foreign keys reference), CREATE INDEX ON target, DROP TABLE names,
/// TRUNCATE/DELETE/UPDATE targets, REINDEX TABLE target; schema-qualified as written, unquoted, without duplicates.
pub fn tables(stmt: &ast::Stmt) -> Vec<String> {
    let found: Vec<String> = match stmt {
        // The altered table first (objects use it), then tables a new FOREIGN KEY references: adding one locks
        // the referenced table too (SHARE ROW EXCLUSIVE), so sessions holding locks there matter.
        ast::Stmt::AlterTable(s) => table_of(s.table_relation_name())
            .into_iter()
            .chain(
                s.syntax()
                    .descendants()
                    .filter_map(ast::ForeignKeyConstraint::cast)
                    .filter_map(|fk| fk.table_name_ref())
                    .map(|t| name(t.syntax())),
            )
            .collect(),
        ast::Stmt::AlterForeignTable(s) => table_of(s.table_relation_name()).into_iter().collect(),
        ast::Stmt::CreateIndex(s) => table_of(s.table_relation_name()).into_iter().collect(),
        ast::Stmt::DropTable(s) => s.table_name_refs().map(|t| name(t.syntax())).collect(),
        ast::Stmt::DropForeignTable(s) => s.table_name_refs().map(|t| name(t.syntax())).collect(),
        ast::Stmt::Truncate(s) => truncated(s),
        ast::Stmt::Delete(s) => relation_of(s.relation_name()).into_iter().collect(),
        ast::Stmt::Update(s) => relation_of(s.relation_name()).into_iter().collect(),
        ast::Stmt::Reindex(s) => match s.reindex_target() {
            Some(ast::ReindexTarget::ReindexTargetTable(t)) => {
                name_of(t.table_name_ref()).into_iter().collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for table in found {
        if !table.is_empty() && !out.contains(&table) {
            out.push(table);
        }
    }
    out
}

/// The tables the statements of `sql` touch (see [`tables`]), each once.
pub fn tables_in(sql: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for stmt in squawk_syntax::SourceFile::parse(sql).tree().stmts() {
        for t in tables(&stmt) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

fn truncated(s: &ast::Truncate) -> Vec<String> {
    s.table_list()
        .map(|list| {
            list.table_relation_names()
                .filter_map(|r| table_of(Some(r)))
                .collect()
        })
        .unwrap_or_default()
}

/// The objects a squawk finding at `at` in `stmt` destroys, one finding each (DROP TABLE a, b: `a` and `b`);
/// `[None]` when the rule names no object or it cannot be read.
pub fn objects(stmt: &ast::Stmt, rule: Rule, at: usize) -> Vec<Option<String>> {
    let names: Vec<String> = match (rule, stmt) {
        (Rule::BanDropTable, ast::Stmt::DropTable(s)) => {
            s.table_name_refs().map(|t| name(t.syntax())).collect()
        }
        (Rule::BanDropTable, ast::Stmt::DropForeignTable(s)) => {
            s.table_name_refs().map(|t| name(t.syntax())).collect()
        }
        (Rule::BanDropSchema, ast::Stmt::DropSchema(s)) => {
            s.schema_refs().map(|r| name(r.syntax())).collect()
        }
        (Rule::BanDropDatabase, ast::Stmt::DropDatabase(s)) => {
            name_of(s.database_ref()).into_iter().collect()
        }
        (Rule::BanDropColumn, _) => dropped_column(stmt, at).into_iter().collect(),
        (Rule::BanTruncateCascade, ast::Stmt::Truncate(s)) => {
            let tables = truncated(s);
            (!tables.is_empty())
                .then(|| tables.join(", "))
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    };
    let names: Vec<Option<String>> = names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(Some)
        .collect();
    if names.is_empty() { vec![None] } else { names }
}

/// Whether the `constraint-missing-not-valid` finding at `at` is about a UNIQUE, PRIMARY KEY or FOREIGN KEY
/// constraint: their own rules report them (and NOT VALID does not exist for UNIQUE or PRIMARY KEY).
pub fn reported_by_own_constraint_rule(stmt: &ast::Stmt, at: usize) -> bool {
    stmt.syntax()
        .descendants()
        .filter_map(ast::AddConstraint::cast)
        .find(|c| start(c.syntax()) == at)
        .and_then(|c| c.constraint())
        .is_some_and(|c| {
            matches!(
                c,
                ast::Constraint::UniqueConstraint(_)
                    | ast::Constraint::PrimaryKeyConstraint(_)
                    | ast::Constraint::ForeignKeyConstraint(_)
                    | ast::Constraint::ReferencesConstraint(_)
            )
        })
}

/// `table.column` of the DROP COLUMN (or `type.attribute` of the DROP ATTRIBUTE) starting at `at`.
fn dropped_column(stmt: &ast::Stmt, at: usize) -> Option<String> {
    if let ast::Stmt::AlterType(s) = stmt {
        let attribute = stmt
            .syntax()
            .descendants()
            .filter_map(ast::DropAttribute::cast)
            .find(|d| start(d.syntax()) == at)?;
        let ty = name_of(s.type_name_ref())?;
        return Some(format!(
            "{ty}.{}",
            name_of(attribute.composite_field_ref())?
        ));
    }
    let column = stmt
        .syntax()
        .descendants()
        .filter_map(ast::DropColumn::cast)
        .find(|d| start(d.syntax()) == at)?;
    let table = tables(stmt).into_iter().next()?;
    Some(format!("{table}.{}", name_of(column.column_name_ref())?))
}

/// deckhand's own rules on one top-level statement.
pub fn own_hits(stmt: &ast::Stmt) -> Vec<Hit> {
    let mut hits = Vec::new();
    let hit = |rule, start, object| Hit {
        rule,
        start,
        object,
        new_type: None,
    };
    match stmt {
        ast::Stmt::Truncate(s) => {
            for table in truncated(s) {
                hits.push(hit(TRUNCATE, start(s.syntax()), Some(table)));
            }
        }
        ast::Stmt::AlterTable(s) => {
            let table = table_of(s.table_relation_name());
            hits.extend(s.actions().filter_map(|a| narrowing(table.as_deref(), a)));
        }
        _ => {}
    }
    hits.extend(keyword_hits(stmt));
    // DELETE/UPDATE at the top level or in a data-modifying CTE (never inside function or rule bodies).
    let dml = matches!(
        stmt,
        ast::Stmt::Select(_)
            | ast::Stmt::SelectInto(_)
            | ast::Stmt::Insert(_)
            | ast::Stmt::Update(_)
            | ast::Stmt::Delete(_)
            | ast::Stmt::Merge(_)
    );
    if dml {
        for node in stmt.syntax().descendants() {
            if let Some(d) = ast::Delete::cast(node.clone())
                && d.where_clause_or_current_of().is_none()
            {
                let object = relation_of(d.relation_name());
                hits.push(hit(DELETE_WITHOUT_WHERE, start(d.syntax()), object));
            } else if let Some(u) = ast::Update::cast(node)
                && u.where_clause_or_current_of().is_none()
            {
                let object = relation_of(u.relation_name());
                hits.push(hit(UPDATE_WITHOUT_WHERE, start(u.syntax()), object));
            }
        }
    }
    hits
}

/// Statements whose danger squawk does not see, recognised by their leading keywords (comments and case
/// ignored): `DO` blocks, `DROP OWNED`, and `DROP TYPE | DOMAIN | EXTENSION … CASCADE`.
fn keyword_hits(stmt: &ast::Stmt) -> Vec<Hit> {
    let node = stmt.syntax();
    let words: Vec<String> = node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
        .map(|t| t.text().to_ascii_uppercase())
        .collect();
    let at = start(node);
    let hit = |rule, object| Hit {
        rule,
        start: at,
        object,
        new_type: None,
    };
    let word = |i: usize| words.get(i).map(String::as_str);
    match (word(0), word(1)) {
        (Some("DO"), _) => vec![hit(DO_BLOCK, None)],
        (Some("DROP"), Some("OWNED")) => {
            vec![hit(DROP_OWNED, word(3).map(|w| w.to_ascii_lowercase()))]
        }
        (Some("DROP"), Some("TYPE" | "DOMAIN" | "EXTENSION"))
            if words.iter().any(|w| w == "CASCADE") =>
        {
            let skip = if word(2) == Some("IF") && word(3) == Some("EXISTS") {
                4
            } else {
                2
            };
            // The name as written (case kept): the next non-keyword token.
            let name = node
                .descendants_with_tokens()
                .filter_map(|e| e.into_token())
                .filter(|t| !t.kind().is_trivia())
                .nth(skip)
                .map(|t| t.text().trim_matches('"').to_string());
            vec![hit(DROP_CASCADE, name)]
        }
        _ => Vec::new(),
    }
}

/// An `ALTER COLUMN … TYPE` to a type that may not hold every existing value.
fn narrowing(table: Option<&str>, action: ast::AlterTableAction) -> Option<Hit> {
    let ast::AlterTableAction::AlterColumn(column) = action else {
        return None;
    };
    let Some(ast::AlterColumnOption::SetType(set_type)) = column.option() else {
        return None;
    };
    let ty = name_as_written(set_type.ty()?.syntax());
    if !is_narrowing(&ty) {
        return None;
    }
    let object = match (table, name_of(column.column_name_ref())) {
        (Some(t), Some(c)) => Some(format!("{t}.{c}")),
        _ => None,
    };
    Some(Hit {
        rule: NARROWING_TYPE_CHANGE,
        start: start(column.syntax()),
        object,
        new_type: Some(ty),
    })
}

/// A type's text with its whitespace collapsed: `character  varying (20)` → `character varying (20)`.
fn name_as_written(node: &SyntaxNode) -> String {
    node.text()
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a column of type `ty` may not hold every value of a wider or different type: bounded character types,
/// smallint, integer, numeric with a precision, real, boolean, date. The column's current type is not known.
pub fn is_narrowing(ty: &str) -> bool {
    let t: String = ty.to_ascii_lowercase().replace('"', "");
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = t.strip_prefix("pg_catalog.").unwrap_or(&t);
    if t.ends_with(']') || t.ends_with(" array") {
        return false;
    }
    let (base, args) = match t.split_once('(') {
        Some((base, rest)) => (base.trim(), Some(rest.trim_end_matches(')').trim())),
        None => (t.trim(), None),
    };
    match base {
        "varchar" | "character varying" | "char varying" | "bpchar" | "numeric" | "decimal" => {
            args.is_some()
        }
        // `char` without a length is char(1).
        "char" | "character" => true,
        "smallint" | "int2" | "integer" | "int" | "int4" | "real" | "float4" | "boolean"
        | "bool" | "date" => args.is_none(),
        "float" => args
            .and_then(|a| a.parse::<u32>().ok())
            .is_some_and(|p| p <= 24),
        // A length cuts bits; a precision rounds fractional seconds away.
        "bit" | "varbit" | "bit varying" | "timestamp" | "timestamptz" | "time" | "timetz" => {
            args.is_some()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squawk_syntax::SourceFile;

    fn first(sql: &str) -> ast::Stmt {
        SourceFile::parse(sql)
            .tree()
            .stmts()
            .next()
            .expect("a statement")
    }

    #[test]
    fn names_are_unquoted_and_schema_qualified_as_written() {
        assert_eq!(
            tables(&first(r#"ALTER TABLE public."Users" ADD COLUMN a int"#)),
            vec!["public.Users"]
        );
        assert_eq!(
            tables(&first("DROP TABLE IF EXISTS a, s.b CASCADE")),
            vec!["a", "s.b"]
        );
        assert_eq!(tables(&first("TRUNCATE ONLY a, b")), vec!["a", "b"]);
        assert_eq!(tables(&first("CREATE INDEX i ON ONLY t (c)")), vec!["t"]);
        assert_eq!(
            tables(&first("DELETE FROM s.t AS x WHERE true")),
            vec!["s.t"]
        );
        assert_eq!(tables(&first("UPDATE t SET a = 1")), vec!["t"]);
        assert!(tables(&first("SELECT 1")).is_empty());
    }

    #[test]
    fn a_new_foreign_key_touches_the_referenced_table_too() {
        let stmt = first(
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES app.users (id) NOT VALID;",
        );
        assert_eq!(tables(&stmt), vec!["orders", "app.users"]);
        assert_eq!(
            tables(&first("ALTER TABLE orders ADD COLUMN note text;")),
            vec!["orders"]
        );
    }

    #[test]
    fn narrowing_types() {
        for ty in [
            "varchar(20)",
            "character varying (20)",
            "char",
            "CHAR(2)",
            "smallint",
            "int",
            "INTEGER",
            "int4",
            "numeric(10, 2)",
            "pg_catalog.numeric(5)",
            "real",
            "float(10)",
            "boolean",
            "date",
            "timestamp(0)",
            "timestamp(3) with time zone",
            "time(0)",
            "bit(8)",
            "varbit(16)",
        ] {
            assert!(is_narrowing(ty), "{ty}");
        }
        for ty in [
            "text",
            "varchar",
            "bigint",
            "numeric",
            "double precision",
            "float(53)",
            "timestamptz",
            "timestamp",
            "bit varying",
            "int[]",
            "varchar(20)[]",
            "jsonb",
            "uuid",
        ] {
            assert!(!is_narrowing(ty), "{ty}");
        }
    }

    #[test]
    fn own_rules_find_dml_without_where_in_ctes_but_not_in_function_bodies() {
        let hits = own_hits(&first(
            "WITH gone AS (DELETE FROM a RETURNING id) UPDATE b SET x = 1 WHERE id IN (SELECT id FROM gone)",
        ));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].rule, DELETE_WITHOUT_WHERE);
        assert_eq!(hits[0].object.as_deref(), Some("a"));
        assert!(
            own_hits(&first(
                "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM a; END"
            ))
            .is_empty()
        );
    }
}
