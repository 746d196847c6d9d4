//! Asking the live database one [`Question`]: the exact count first, each query alone in a READ ONLY transaction
//! with `statement_timeout` and `lock_timeout` set (PostgreSQL); when the count takes too long or meets a lock, an
//! estimate from the planner's statistics or from a `TABLESAMPLE SYSTEM` sample under the same limits; when that
//! fails too, why it could not be judged. Plain SELECTs only (ACCESS SHARE), sent with the simple protocol and
//! values inlined (a pooling proxy may sit in between). SQLite counts exactly (its tables are local files).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::asks::{Ask, Question};
use super::{Basis, Kind, Limits, Outcome};
use crate::lint::live::names::{dollar_quote, unquote};
use crate::migrate::db::{Backend, Db};
use crate::migrate::error::describe_db_error;

/// The answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub count: Option<i64>,
    pub basis: Basis,
    pub example: Option<String>,
}

impl Answer {
    fn new(outcome: Outcome, count: Option<i64>, basis: Basis) -> Answer {
        Answer {
            outcome,
            count,
            basis,
            example: None,
        }
    }

    fn not_judged(outcome: Outcome, why: String) -> Answer {
        Answer::new(outcome, None, Basis::NotJudged { why })
    }
}

/// Rows sampled when a table is too big to count: the sample's percentage is chosen to read about this many.
const SAMPLE_ROWS: f64 = 200_000.0;

/// What a counted figure means for this question: a type change's own count is of values it alters (they are
/// lost); asked as a condition (too long, out of range), of values that make it fail.
fn outcome_for(q: &Question) -> Outcome {
    match q.ask {
        Ask::Cast { .. } => Outcome::Lost,
        _ => outcome_of(q.kind),
    }
}

/// The outcome a kind has when something is counted.
pub fn outcome_of(kind: Kind) -> Outcome {
    match kind {
        Kind::TableRows
        | Kind::TruncatedRows
        | Kind::DeletedRows
        | Kind::OverwrittenRows
        | Kind::ColumnValues => Outcome::Lost,
        _ => Outcome::WillFail,
    }
}

/// A failed query, sorted by what it means here.
enum Failure {
    /// statement_timeout or lock_timeout: estimate instead.
    TooSlow,
    /// The table or column is not there (yet).
    Missing(String),
    /// The database rejected the query itself (a cast that raises): the statement would raise it too.
    Raised(String),
    Other(String),
}

fn failure(e: &sqlx::Error, backend: Backend) -> Failure {
    let (message, code, _) = describe_db_error(e);
    match (backend, code.as_deref()) {
        (Backend::Postgres, Some("57014" | "55P03")) => Failure::TooSlow,
        (Backend::Postgres, Some("42P01" | "42703" | "3F000")) => Failure::Missing(message),
        (Backend::Postgres, Some(c)) if c.starts_with("22") => Failure::Raised(message),
        (Backend::Sqlite, _) if message.contains("no such") => Failure::Missing(message),
        _ => Failure::Other(message),
    }
}

/// The limits of a catalog read (statistics, a constraint's definition): small and indexed, so never cut short
/// by a tiny `impact_timeout`, and never waiting for a lock either.
fn catalog(limits: &Limits) -> Limits {
    Limits {
        per_query: limits.per_query.max(CATALOG_TIME),
        ..*limits
    }
}

/// How long a catalog read may take at least.
const CATALOG_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `sql` read-only under the limits; its rows.
async fn query(db: &mut Db, sql: &str, limits: &Limits) -> Result<Vec<AnyRow>, sqlx::Error> {
    if db.backend == Backend::Sqlite {
        return sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(&mut db.conn)
            .await;
    }
    let ms = |d: std::time::Duration| d.as_millis().max(1);
    let begin = format!(
        "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
        ms(limits.per_query),
        ms(limits.lock_wait)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(begin))
        .execute(&mut db.conn)
        .await?;
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut db.conn)
        .await;
    let end = if rows.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::raw_sql(end).execute(&mut db.conn).await?;
    rows
}

async fn one_count(db: &mut Db, sql: &str, limits: &Limits) -> Result<Option<i64>, sqlx::Error> {
    let rows = query(db, sql, limits).await?;
    match rows.first() {
        Some(r) => r.try_get::<Option<i64>, _>(0),
        None => Ok(None),
    }
}

/// The SQL that counts what `ask` asks, reading its table with `sample` after it (empty, or a TABLESAMPLE clause).
fn count_sql(ask: &Ask, sample: &str) -> Option<String> {
    let from = format!("{}{sample}", ask.table());
    let sql = match ask {
        Ask::Rows { .. } => format!("SELECT CAST(count(*) AS BIGINT) FROM {from}"),
        Ask::Values { column, .. } => format!("SELECT CAST(count({column}) AS BIGINT) FROM {from}"),
        Ask::Nulls { column, .. } => {
            format!("SELECT CAST(count(*) AS BIGINT) FROM {from} WHERE {column} IS NULL")
        }
        Ask::Violations { predicate, .. } => {
            format!("SELECT CAST(count(*) AS BIGINT) FROM {from} WHERE NOT ({predicate})")
        }
        Ask::Orphans {
            columns,
            to_table,
            to_columns,
            ..
        } if !columns.is_empty() && columns.len() == to_columns.len() => {
            let present: Vec<String> = columns
                .iter()
                .map(|c| format!("c.{c} IS NOT NULL"))
                .collect();
            let matched: Vec<String> = columns
                .iter()
                .zip(to_columns)
                .map(|(c, p)| format!("p.{p} = c.{c}"))
                .collect();
            format!(
                "SELECT CAST(count(*) AS BIGINT) FROM {} AS c{sample} WHERE {} AND NOT EXISTS \
                 (SELECT 1 FROM {to_table} AS p WHERE {})",
                ask.table(),
                present.join(" AND "),
                matched.join(" AND ")
            )
        }
        Ask::Cast {
            column,
            to_type,
            using,
            ..
        } => {
            let value = using.as_deref().unwrap_or(column);
            format!(
                "SELECT CAST(count(*) AS BIGINT) FROM {from} WHERE {column} IS NOT NULL AND \
                 CAST(CAST(({value}) AS {to_type}) AS TEXT) IS DISTINCT FROM CAST({column} AS TEXT)"
            )
        }
        _ => return None,
    };
    Some(sql)
}

/// Duplicate keys: how many groups, and the biggest one as an example.
fn duplicates_sql(keys: &[String], predicate: Option<&str>, from: &str) -> String {
    let present: Vec<String> = keys.iter().map(|k| format!("({k}) IS NOT NULL")).collect();
    let selected: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("({k}) AS k{i}"))
        .collect();
    let positions: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
    let shown: Vec<String> = (0..keys.len())
        .map(|i| format!("CAST(k{i} AS TEXT)"))
        .collect();
    let filter = predicate.map_or(String::new(), |p| format!(" AND ({p})"));
    format!(
        "WITH d AS (SELECT {}, count(*) AS n FROM {from} WHERE {}{filter} GROUP BY {} HAVING count(*) > 1) \
         SELECT CAST((SELECT count(*) FROM d) AS BIGINT), \
         (SELECT '(' || {} || ') x' || CAST(n AS TEXT) FROM d ORDER BY n DESC LIMIT 1)",
        selected.join(", "),
        present.join(" AND "),
        positions.join(", "),
        shown.join(" || ', ' || ")
    )
}

/// Answers `q` on the live database.
pub async fn answer(db: &mut Db, q: &Question, limits: &Limits) -> Answer {
    if matches!(q.ask, Ask::Cast { .. }) {
        return super::cast::answer(db, q, limits).await;
    }
    counted(db, q, limits).await
}

/// [`answer`] by counting what the question asks (a type change: the values it alters).
pub(super) async fn counted(db: &mut Db, q: &Question, limits: &Limits) -> Answer {
    let outcome = outcome_for(q);
    let exact = match &q.ask {
        Ask::Duplicates {
            keys, predicate, ..
        } => {
            return duplicates(db, q, keys, predicate.as_deref(), limits).await;
        }
        Ask::Orphans { to_columns, .. } if to_columns.is_empty() => {
            return match primary_key(db, &q.ask, limits).await {
                Ok(ask) => Box::pin(answer(db, &Question { ask, ..q.clone() }, limits)).await,
                Err(why) => Answer::not_judged(outcome, why),
            };
        }
        Ask::Validate { constraint, .. } => return validate(db, q, constraint, limits).await,
        ask => count_sql(ask, ""),
    };
    let Some(sql) = exact else {
        return Answer::not_judged(outcome, "deckhand cannot count this".into());
    };
    match one_count(db, &sql, limits).await {
        Ok(n) => Answer::new(outcome, Some(n.unwrap_or(0)), Basis::Exact),
        Err(e) => match failure(&e, db.backend) {
            Failure::TooSlow => estimate(db, q, limits).await,
            other => settled(other, q, outcome),
        },
    }
}

/// The answer when the exact query failed for a reason other than time: the object is not there, the database
/// rejected a value (the statement evaluates the same expressions on the same rows: it would raise this too), or
/// something else, said as it is.
fn settled(f: Failure, q: &Question, outcome: Outcome) -> Answer {
    match f {
        Failure::Missing(m) => {
            Answer::not_judged(outcome, format!("not on the live database: {m}"))
        }
        Failure::Raised(m) => {
            let error = if q.secret {
                "a value is rejected (not shown: it looks secret)".into()
            } else {
                m
            };
            Answer::new(Outcome::WillFail, None, Basis::Raised { error })
        }
        Failure::Other(m) => Answer::not_judged(outcome, m),
        Failure::TooSlow => Answer::not_judged(outcome, "counting took too long".into()),
    }
}

async fn duplicates(
    db: &mut Db,
    q: &Question,
    keys: &[String],
    predicate: Option<&str>,
    limits: &Limits,
) -> Answer {
    let outcome = Outcome::WillFail;
    let run = async |db: &mut Db, from: &str| -> Result<(i64, Option<String>), sqlx::Error> {
        let rows = query(db, &duplicates_sql(keys, predicate, from), limits).await?;
        match rows.first() {
            Some(r) => Ok((
                r.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
                r.try_get::<Option<String>, _>(1)?,
            )),
            None => Ok((0, None)),
        }
    };
    let table = q.ask.table();
    let shown = |example: Option<String>| {
        example.map(|e| {
            if q.secret {
                "(value not shown: it looks secret)".to_string()
            } else {
                e.replace(") x", ") ×")
            }
        })
    };
    match run(db, table).await {
        Ok((n, example)) => Answer {
            example: shown(example),
            ..Answer::new(outcome, Some(n), Basis::Exact)
        },
        Err(e) => match failure(&e, db.backend) {
            Failure::TooSlow => {
                let percent = sample_percent(db, table, limits).await;
                match run(db, &format!("{table}{}", sampled(&percent))).await {
                    Ok((n, example)) => Answer {
                        example: shown(example),
                        ..Answer::new(
                            outcome,
                            Some(n),
                            Basis::Sample {
                                percent,
                                lower_bound: true,
                            },
                        )
                    },
                    Err(_) => too_big(outcome, limits),
                }
            }
            other => settled(other, q, outcome),
        },
    }
}

fn too_big(outcome: Outcome, limits: &Limits) -> Answer {
    Answer::not_judged(
        outcome,
        format!(
            "the table is too big to judge within {} per query (impact_timeout)",
            crate::plan::human_duration(limits.per_query)
        ),
    )
}

/// The clause that reads `percent` of a table's pages.
fn sampled(percent: &str) -> String {
    format!(" TABLESAMPLE SYSTEM ({percent})")
}

/// The planner's row estimate of a table (-1 when it has never been analyzed).
async fn reltuples(db: &mut Db, table: &str, limits: &Limits) -> Option<i64> {
    let sql = format!(
        "SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = to_regclass({})",
        dollar_quote(table)
    );
    one_count(db, &sql, &catalog(limits)).await.ok().flatten()
}

/// A sample percentage that reads about [`SAMPLE_ROWS`] rows (between 0.01% and 10%).
async fn sample_percent(db: &mut Db, table: &str, limits: &Limits) -> String {
    let rows = reltuples(db, table, limits).await.unwrap_or(-1);
    let percent = if rows > 0 {
        (SAMPLE_ROWS / rows as f64 * 100.0).clamp(0.01, 10.0)
    } else {
        1.0
    };
    let text = format!("{percent:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// When the exact count took too long (PostgreSQL): rows and NULLs from the statistics, the rest from a sample.
async fn estimate(db: &mut Db, q: &Question, limits: &Limits) -> Answer {
    let outcome = outcome_for(q);
    let table = q.ask.table();
    let stats = match &q.ask {
        Ask::Rows { .. } => reltuples(db, table, limits).await.filter(|n| *n >= 0),
        Ask::Values { column, .. } => null_share(db, table, column, limits, false).await,
        Ask::Nulls { column, .. } => null_share(db, table, column, limits, true).await,
        _ => None,
    };
    if let Some(n) = stats {
        return Answer::new(outcome, Some(n), Basis::Statistics);
    }
    let percent = sample_percent(db, table, limits).await;
    let Some(sql) = count_sql(&q.ask, &sampled(&percent)) else {
        return too_big(outcome, limits);
    };
    match one_count(db, &sql, limits).await {
        Ok(n) => {
            let share: f64 = percent.parse().unwrap_or(1.0);
            let scaled = (n.unwrap_or(0) as f64 * 100.0 / share).round() as i64;
            Answer::new(
                outcome,
                Some(scaled),
                Basis::Sample {
                    percent,
                    lower_bound: false,
                },
            )
        }
        Err(_) => too_big(outcome, limits),
    }
}

/// Rows with (or, `nulls`, without) a value in `column`, from reltuples and pg_stats.null_frac.
async fn null_share(
    db: &mut Db,
    table: &str,
    column: &str,
    limits: &Limits,
    nulls: bool,
) -> Option<i64> {
    let share = if nulls {
        "s.null_frac"
    } else {
        "(1 - s.null_frac)"
    };
    let sql = format!(
        "SELECT CAST(c.reltuples * {share} AS BIGINT) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = {} \
         WHERE c.oid = to_regclass({}) AND c.reltuples >= 0",
        dollar_quote(&unquote(column)),
        dollar_quote(table)
    );
    one_count(db, &sql, &catalog(limits)).await.ok().flatten()
}

/// A foreign key that names no referenced columns references the primary key: read its columns.
async fn primary_key(db: &mut Db, ask: &Ask, limits: &Limits) -> Result<Ask, String> {
    let Ask::Orphans {
        table,
        columns,
        to_table,
        ..
    } = ask
    else {
        return Err("not a foreign key".into());
    };
    let sql = match db.backend {
        Backend::Postgres => format!(
            "SELECT quote_ident(a.attname) FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = to_regclass({}) AND i.indisprimary \
             ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)",
            dollar_quote(to_table)
        ),
        Backend::Sqlite => format!(
            "SELECT '\"' || replace(name, '\"', '\"\"') || '\"' FROM pragma_table_info({}) WHERE pk > 0 ORDER BY pk",
            crate::lint::live::names::sql_string(&unquote(to_table))
        ),
    };
    let rows = query(db, &sql, &catalog(limits))
        .await
        .map_err(|e| describe_db_error(&e).0)?;
    let to_columns: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect();
    if to_columns.is_empty() {
        return Err(format!(
            "{} has no primary key on the live database",
            unquote(to_table)
        ));
    }
    Ok(Ask::Orphans {
        table: table.clone(),
        columns: columns.clone(),
        to_table: to_table.clone(),
        to_columns,
    })
}

/// `VALIDATE CONSTRAINT`: the constraint's definition from the catalog, asked as if it were being added.
async fn validate(db: &mut Db, q: &Question, constraint: &str, limits: &Limits) -> Answer {
    let outcome = Outcome::WillFail;
    if db.backend != Backend::Postgres {
        return Answer::not_judged(outcome, "VALIDATE CONSTRAINT is PostgreSQL's".into());
    }
    let table = q.ask.table();
    let sql = format!(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass({}) AND conname = {}",
        dollar_quote(table),
        dollar_quote(constraint)
    );
    let def: Option<String> = match query(db, &sql, &catalog(limits)).await {
        Ok(rows) => rows.first().and_then(|r| r.try_get(0).ok()),
        Err(e) => return Answer::not_judged(outcome, describe_db_error(&e).0),
    };
    let Some(def) = def else {
        return Answer::not_judged(
            outcome,
            format!("no constraint {constraint} on {} yet", unquote(table)),
        );
    };
    let def = def.trim_end().trim_end_matches("NOT VALID").trim_end();
    let stmt = format!("ALTER TABLE {table} ADD {def}");
    let found = squawk_syntax::SourceFile::parse(&stmt)
        .tree()
        .stmts()
        .flat_map(|s| super::asks::of_statement(&s))
        .next();
    match found {
        Some(inner) => {
            let inner = Question {
                object: q.object.clone(),
                ..inner
            };
            Box::pin(answer(db, &inner, limits)).await
        }
        None => Answer::not_judged(
            outcome,
            format!("deckhand cannot count what {constraint} checks"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_clause_follows_the_alias() {
        let ask = Ask::Orphans {
            table: "\"orders\"".into(),
            columns: vec!["\"customer_id\"".into()],
            to_table: "\"customers\"".into(),
            to_columns: vec!["\"id\"".into()],
        };
        let sql = count_sql(&ask, &sampled("1.5")).unwrap();
        assert!(
            sql.contains(
                "FROM \"orders\" AS c TABLESAMPLE SYSTEM (1.5) WHERE c.\"customer_id\" IS NOT NULL"
            ),
            "{sql}"
        );
        let rows = count_sql(
            &Ask::Rows {
                table: "\"t\"".into(),
            },
            &sampled("10"),
        )
        .unwrap();
        assert_eq!(
            rows,
            "SELECT CAST(count(*) AS BIGINT) FROM \"t\" TABLESAMPLE SYSTEM (10)"
        );
    }
}
