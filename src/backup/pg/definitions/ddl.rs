//! Reading the definitions `pg_restore --schema-only` prints, with squawk-syntax: `CREATE TABLE` (columns, their
//! types as written, NOT NULL, named table constraints), `ALTER TABLE … ADD CONSTRAINT` and `ALTER COLUMN … SET
//! NOT NULL`, `CREATE INDEX`, `CREATE SEQUENCE`, `CREATE [MATERIALIZED] VIEW`, `CREATE FUNCTION` and `CREATE
//! PROCEDURE`. Names are taken as PostgreSQL resolves them: quoted parts as written, unquoted ones in lower case.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxNode};

use super::{Column, Definitions, Kind, Object, Table};

/// The definitions in `sql` (what `pg_restore --schema-only` printed). What does not parse is left out, so a
/// damaged definition shows up as a difference.
pub fn parse(sql: &str) -> Definitions {
    let mut defs = Definitions::default();
    for stmt in SourceFile::parse(sql).tree().stmts() {
        match stmt {
            ast::Stmt::CreateTable(s) => create_table(&s, &mut defs),
            ast::Stmt::AlterTable(s) => alter_table(&s, &mut defs),
            ast::Stmt::CreateIndex(s) => {
                let index = s.index().and_then(|i| i.path()).map(|p| parts(p.syntax()));
                let table = s
                    .table_relation_name()
                    .and_then(|t| t.table_name_ref())
                    .and_then(|t| qualified(t.syntax()));
                // An index lives in its table's schema; pg_dump names it without one.
                if let (Some([name]), Some((schema, table))) = (index.as_deref(), table) {
                    defs.objects.insert(Object {
                        kind: Kind::Index,
                        schema,
                        name: name.clone(),
                        table: Some(table),
                    });
                }
            }
            ast::Stmt::CreateSequence(s) => named(
                s.sequence().and_then(|n| n.path()),
                Kind::Sequence,
                &mut defs,
            ),
            ast::Stmt::CreateView(s) => {
                named(s.view().and_then(|n| n.path()), Kind::View, &mut defs)
            }
            ast::Stmt::CreateMaterializedView(s) => {
                named(
                    s.view().and_then(|n| n.path()),
                    Kind::MaterializedView,
                    &mut defs,
                );
            }
            ast::Stmt::CreateFunction(s) => {
                named(s.name().and_then(|n| n.path()), Kind::Function, &mut defs)
            }
            ast::Stmt::CreateProcedure(s) => {
                named(s.name().and_then(|n| n.path()), Kind::Procedure, &mut defs)
            }
            _ => {}
        }
    }
    defs
}

/// The parts of a dotted name, as PostgreSQL resolves them: `app."Mixed Case"` → `["app", "Mixed Case"]`.
fn parts(node: &SyntaxNode) -> Vec<String> {
    let mut out = vec![String::new()];
    for token in node
        .descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| !t.kind().is_trivia())
    {
        let text = token.text();
        if text == "." {
            out.push(String::new());
            continue;
        }
        let part = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => text.to_ascii_lowercase(),
        };
        if let Some(last) = out.last_mut() {
            last.push_str(&part);
        }
    }
    out
}

/// A schema-qualified name: `(schema, name)`.
fn qualified(node: &SyntaxNode) -> Option<(String, String)> {
    match <[String; 2]>::try_from(parts(node)) {
        Ok([schema, name]) => Some((schema, name)),
        Err(_) => None,
    }
}

/// A name of one part (a column, a constraint).
fn simple(node: &SyntaxNode) -> String {
    parts(node).join(".")
}

/// A type as written, its whitespace made single spaces: `timestamp(3) without time zone`.
fn type_text(node: &SyntaxNode) -> String {
    node.text()
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A schema-qualified object of `kind` named by `path`.
fn named(path: Option<ast::Path>, kind: Kind, defs: &mut Definitions) {
    if let Some((schema, name)) = path.and_then(|p| qualified(p.syntax())) {
        defs.objects.insert(Object {
            kind,
            schema,
            name,
            table: None,
        });
    }
}

/// The constraint a node names (`CONSTRAINT name …`), if it names one.
fn constraint_name(node: &SyntaxNode) -> Option<String> {
    node.descendants()
        .find_map(ast::ConstraintNameClause::cast)
        .and_then(|c| c.constraint_name())
        .map(|n| simple(n.syntax()))
}

fn create_table(s: &ast::CreateTable, defs: &mut Definitions) {
    let Some((schema, name)) = s
        .table_name()
        .and_then(|t| t.path())
        .and_then(|p| qualified(p.syntax()))
    else {
        return;
    };
    let mut table = Table {
        columns: Vec::new(),
        typed: s.of_type().is_some(),
    };
    for arg in s.table_arg_list().iter().flat_map(ast::TableArgList::args) {
        match arg {
            ast::TableArg::Column(c) => {
                let (Some(col), Some(ty)) = (c.name(), c.ty()) else {
                    continue;
                };
                let not_null = c.clauses().any(|clause| {
                    matches!(
                        clause,
                        ast::ColumnClause::ColumnConstraint(
                            ast::ColumnConstraint::NotNullConstraint(_)
                        )
                    )
                });
                table.columns.push(Column {
                    name: simple(col.syntax()),
                    ty: type_text(ty.syntax()),
                    not_null: Some(not_null),
                });
            }
            ast::TableArg::TableConstraint(ast::TableConstraint::NotNullConstraint(n)) => {
                // PostgreSQL 18's `CONSTRAINT name NOT NULL column`.
                if let Some(col) = n.column_name_ref() {
                    set_not_null(&mut table, &simple(col.syntax()));
                }
            }
            ast::TableArg::TableConstraint(c) => {
                if let Some(constraint) = constraint_name(c.syntax()) {
                    defs.objects.insert(Object {
                        kind: Kind::Constraint,
                        schema: schema.clone(),
                        name: constraint,
                        table: Some(name.clone()),
                    });
                }
            }
            ast::TableArg::LikeClause(_) => {}
        }
    }
    defs.tables.insert((schema.clone(), name.clone()), table);
}

fn set_not_null(table: &mut Table, column: &str) {
    if let Some(c) = table.columns.iter_mut().find(|c| c.name == column) {
        c.not_null = Some(true);
    }
}

/// `ALTER TABLE … ADD CONSTRAINT name …` and `ALTER TABLE … ALTER COLUMN c SET NOT NULL`.
fn alter_table(s: &ast::AlterTable, defs: &mut Definitions) {
    let Some((schema, name)) = s
        .table_relation_name()
        .and_then(|t| t.table_name_ref())
        .and_then(|t| qualified(t.syntax()))
    else {
        return;
    };
    for action in s.actions() {
        match action {
            ast::AlterTableAction::AddConstraint(add) => {
                if let Some(constraint) = constraint_name(add.syntax()) {
                    defs.objects.insert(Object {
                        kind: Kind::Constraint,
                        schema: schema.clone(),
                        name: constraint,
                        table: Some(name.clone()),
                    });
                }
            }
            ast::AlterTableAction::AlterColumn(alter) => {
                let sets = matches!(alter.option(), Some(ast::AlterColumnOption::SetNotNull(_)));
                let key = (schema.clone(), name.clone());
                if let (true, Some(col), Some(table)) =
                    (sets, alter.column_name_ref(), defs.tables.get_mut(&key))
                {
                    set_not_null(table, &simple(col.syntax()));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As pg_restore 15 prints it (owners, comments and sequence options mostly cut), plus PostgreSQL 18's
    /// table-level NOT NULL (a column's nullability, not an object compared: the catalog query leaves NOT NULL
    /// constraints out too) and a SET NOT NULL.
    const DDL: &str = r#"\restrict pueeorl1VxmcH3OIAP4ZdMpLGFvqUX5zPGoXMisFKlMnIcKmfkPx9c4P83xLdre
--
-- Name: data; Type: TABLE; Schema: public; Owner: postgres
--
SET default_tablespace = '';
CREATE TABLE public.data (
    id integer NOT NULL,
    d character varying(20),
    e numeric(10,2) DEFAULT 0 NOT NULL,
    f timestamp with time zone,
    h integer[],
    n timestamp(3)   without time zone,
    "Weird Col" text,
    c text DEFAULT 'x'::text NOT NULL COLLATE pg_catalog."C",
    type app."Mixed Case",
    CONSTRAINT pos CHECK ((id > 0))
);
ALTER TABLE public.data OWNER TO postgres;
CREATE TABLE app."Mixed Case" (
    "from" integer,
    CONSTRAINT m_nn NOT NULL "from"
);
CREATE TABLE app.typed OF app.pair (
    l NOT NULL
);
CREATE FUNCTION app.f(x integer, y text DEFAULT 'q'::text) RETURNS integer
    LANGUAGE sql
    AS $$ select x $$;
CREATE PROCEDURE app.p()
    LANGUAGE sql
    AS $$ select 1 $$;
CREATE SEQUENCE public.data_id_seq
    AS integer
    CACHE 1;
CREATE VIEW app.v AS
 SELECT data.id
   FROM public.data;
CREATE MATERIALIZED VIEW app.mv AS
 SELECT count(*) AS count
   FROM public.data
  WITH NO DATA;
ALTER TABLE ONLY public.data ALTER COLUMN f SET NOT NULL;
ALTER TABLE ONLY app."Mixed Case"
    ADD CONSTRAINT "Mixed Case_from_key" UNIQUE ("from");
CREATE INDEX parted_at_idx ON ONLY public.parted USING btree (at);
\unrestrict pueeorl1VxmcH3OIAP4ZdMpLGFvqUX5zPGoXMisFKlMnIcKmfkPx9c4P83xLdre
"#;

    fn key(schema: &str, name: &str) -> (String, String) {
        (schema.into(), name.into())
    }

    #[test]
    fn tables_columns_and_objects() {
        let defs = parse(DDL);
        let data = &defs.tables[&key("public", "data")];
        let columns: Vec<(&str, &str, Option<bool>)> = data
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty.as_str(), c.not_null))
            .collect();
        assert_eq!(
            columns,
            [
                ("id", "integer", Some(true)),
                ("d", "character varying(20)", Some(false)),
                ("e", "numeric(10,2)", Some(true)),
                ("f", "timestamp with time zone", Some(true)),
                ("h", "integer[]", Some(false)),
                ("n", "timestamp(3) without time zone", Some(false)),
                ("Weird Col", "text", Some(false)),
                ("c", "text", Some(true)),
                ("type", "app.\"Mixed Case\"", Some(false)),
            ]
        );
        let mixed = &defs.tables[&key("app", "Mixed Case")];
        assert_eq!(mixed.columns[0].name, "from");
        assert_eq!(mixed.columns[0].not_null, Some(true));
        assert!(defs.tables[&key("app", "typed")].typed);
        let objects: Vec<String> = defs.objects.iter().map(ToString::to_string).collect();
        assert_eq!(
            objects,
            [
                "index public.parted_at_idx on public.parted",
                "constraint Mixed Case_from_key on app.Mixed Case",
                "constraint pos on public.data",
                "sequence public.data_id_seq",
                "view app.v",
                "materialized view app.mv",
                "function app.f",
                "procedure app.p",
            ]
        );
    }

    #[test]
    fn unquoted_names_fold_to_lower_case() {
        let defs = parse("CREATE TABLE Public.DATA (ID integer);");
        assert_eq!(defs.tables[&key("public", "data")].columns[0].name, "id");
    }
}
