//! An archive's table of contents as `pg_restore --list` prints it, and comparing its tables with a live
//! database's. Lines look like `216; 1259 16386 TABLE public orders app`: dump id, catalog and object ids, the
//! entry's kind (one or more words: `TABLE DATA`, `SEQUENCE SET`), then schema, name and owner, unquoted. A name
//! may contain spaces, so an archive table is matched against a live one on the text `schema name owner` (or, if
//! the owner changed since, on `schema name ` as its start) rather than on a split that could guess wrong.

use super::catalog::LiveTable;

/// `pg_class`'s oid: the catalog of table entries.
const PG_CLASS: &str = "1259";

/// What the archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Toc {
    pub tables: Vec<TocTable>,
    /// `TABLE DATA` entries: the tables whose rows a restore loads.
    pub data_entries: usize,
}

/// A `TABLE` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocTable {
    /// `schema name owner`, as listed.
    pub key: String,
}

impl TocTable {
    /// `schema.table`: the first word is taken as the schema and the last as the owner (exact unless those
    /// have spaces in them).
    pub fn qualified(&self) -> String {
        let (schema, rest) = self.key.split_once(' ').unwrap_or((&self.key, ""));
        let name = rest.rsplit_once(' ').map_or(rest, |(name, _owner)| name);
        format!("{schema}.{name}")
    }

    /// Whether this entry is `live`.
    pub fn is(&self, live: &LiveTable) -> bool {
        let start = format!("{} {} ", live.schema, live.name);
        self.key == format!("{start}{}", live.owner) || self.key.starts_with(&start)
    }
}

/// Reads `pg_restore --list` output; comments (`;`) and unknown lines are skipped.
pub fn parse(list: &str) -> Toc {
    let mut toc = Toc::default();
    for line in list.lines() {
        let Some((id, rest)) = line.trim_start().split_once(';') else {
            continue;
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut words = rest.trim_start().splitn(3, ' ');
        let (Some(catalog), Some(_oid), Some(entry)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if catalog == PG_CLASS
            && let Some(key) = entry.strip_prefix("TABLE ")
        {
            toc.tables.push(TocTable {
                key: key.to_string(),
            });
        } else if catalog == "0" && entry.starts_with("TABLE DATA ") {
            toc.data_entries += 1;
        }
    }
    toc
}

/// Tables of `live` the archive does not have, as `schema.table`.
pub fn missing_from(toc: &Toc, live: &[LiveTable]) -> Vec<String> {
    live.iter()
        .filter(|l| !toc.tables.iter().any(|t| t.is(l)))
        .map(LiveTable::qualified)
        .collect()
}

/// The archive's tables that `live` lacks, as `schema.table`.
pub fn absent_from(toc: &Toc, live: &[LiveTable]) -> Vec<String> {
    toc.tables
        .iter()
        .filter(|t| !live.iter().any(|l| t.is(l)))
        .map(TocTable::qualified)
        .collect()
}

/// The name in a `--verbose` line announcing a table's rows: `pg_dump: dumping contents of table "public.x"`,
/// `pg_restore: processing data for table "public.x"`.
pub fn table_in(line: &str, announcement: &str) -> Option<String> {
    let rest = line.split_once(announcement)?.1.trim_start();
    let quoted = rest.strip_prefix('"')?;
    let end = quoted.rfind('"')?;
    Some(quoted[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = ";
; Archive created at 2026-11-21 15:14:03 UTC
;     dbname: x
;
6; 2615 16400 SCHEMA - s postgres
216; 1259 16386 TABLE public orders app
215; 1259 16385 SEQUENCE public orders_id_seq app
217; 1259 16394 TABLE public p app
219; 1259 16401 TABLE s we ird postgres
3210; 0 0 TABLE ATTACH public p1 postgres
3357; 0 16386 TABLE DATA public orders app
3359; 0 16401 TABLE DATA s we ird postgres
3367; 0 0 SEQUENCE SET public orders_id_seq app
";

    fn live(schema: &str, name: &str, owner: &str) -> LiveTable {
        LiveTable {
            schema: schema.into(),
            name: name.into(),
            owner: owner.into(),
            bytes: 0,
        }
    }

    #[test]
    fn tables_and_data_entries() {
        let toc = parse(LIST);
        let names: Vec<String> = toc.tables.iter().map(TocTable::qualified).collect();
        assert_eq!(names, ["public.orders", "public.p", "s.we ird"]);
        assert_eq!(toc.data_entries, 2);
        let db = [
            live("public", "orders", "app"),
            live("s", "we ird", "someone_else"),
            live("public", "later", "app"),
        ];
        assert_eq!(missing_from(&toc, &db), ["public.later"]);
        assert_eq!(absent_from(&toc, &db), ["public.p"]);
    }

    #[test]
    fn verbose_announcements() {
        let line = "pg_dump: dumping contents of table \"s.we \"ird\"";
        assert_eq!(
            table_in(line, "dumping contents of table").as_deref(),
            Some("s.we \"ird")
        );
        assert_eq!(table_in("pg_dump: reading schemas", "contents of"), None);
    }
}
