//! A Prisma-style migration history of any length, written the way Prisma writes its SQL: tables with enums and
//! foreign keys, column renames, enum value removals (Prisma's AlterEnum pattern: its own `BEGIN … COMMIT` in the
//! middle of the file), drops of tables an earlier migration of the same history created, and `CREATE INDEX
//! CONCURRENTLY` files (alone in their file, as Prisma needs them). For tests of whole histories.
#![allow(dead_code)]

/// The migrations of a history of `n` (≥ 10) migrations, as (folder name, SQL).
pub fn history(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let name = format!("2024{:010}_step_{i}", i + 1);
            (name, step(i))
        })
        .collect()
}

/// Migration `i`: a round of ten kinds, on the tables of its round.
fn step(i: usize) -> String {
    let r = i / 10;
    match i % 10 {
        0 => format!(
            "-- CreateEnum\nCREATE TYPE \"Status{r}\" AS ENUM ('DRAFT', 'LIVE', 'GONE');\n\n\
             -- CreateTable\nCREATE TABLE \"Item{r}\" (\n    \"id\" SERIAL NOT NULL,\n    \"title\" TEXT NOT NULL,\n    \
             \"status\" \"Status{r}\" NOT NULL DEFAULT 'DRAFT',\n    \"createdAt\" TIMESTAMP(3) NOT NULL DEFAULT \
             CURRENT_TIMESTAMP,\n\n    CONSTRAINT \"Item{r}_pkey\" PRIMARY KEY (\"id\")\n);\n"
        ),
        1 => format!(
            "-- CreateTable\nCREATE TABLE \"Note{r}\" (\n    \"id\" SERIAL NOT NULL,\n    \"itemId\" INTEGER NOT NULL,\n    \
             \"body\" TEXT,\n\n    CONSTRAINT \"Note{r}_pkey\" PRIMARY KEY (\"id\")\n);\n\n\
             -- AddForeignKey\nALTER TABLE \"Note{r}\" ADD CONSTRAINT \"Note{r}_itemId_fkey\" FOREIGN KEY (\"itemId\") \
             REFERENCES \"Item{r}\"(\"id\") ON DELETE RESTRICT ON UPDATE CASCADE;\n"
        ),
        2 => format!(
            "INSERT INTO \"Item{r}\" (\"title\", \"status\") VALUES ('a', 'DRAFT'), ('b', 'LIVE');\n\
             INSERT INTO \"Note{r}\" (\"itemId\", \"body\") SELECT \"id\", 'n' FROM \"Item{r}\";\n"
        ),
        3 => format!(
            "-- AlterTable\nALTER TABLE \"Item{r}\" RENAME COLUMN \"title\" TO \"name\";\n\n\
             -- CreateIndex\nCREATE INDEX \"Item{r}_name_idx\" ON \"Item{r}\"(\"name\");\n"
        ),
        // Prisma's AlterEnum: removing a value, with a statement before and after its own transaction.
        4 => format!(
            "-- AlterTable\nALTER TABLE \"Item{r}\" ADD COLUMN \"rank\" INTEGER;\n\n\
             -- AlterEnum\nBEGIN;\nCREATE TYPE \"Status{r}_new\" AS ENUM ('DRAFT', 'LIVE');\n\
             ALTER TABLE \"Item{r}\" ALTER COLUMN \"status\" DROP DEFAULT;\n\
             ALTER TABLE \"Item{r}\" ALTER COLUMN \"status\" TYPE \"Status{r}_new\" USING (\"status\"::text::\"Status{r}_new\");\n\
             ALTER TYPE \"Status{r}\" RENAME TO \"Status{r}_old\";\n\
             ALTER TYPE \"Status{r}_new\" RENAME TO \"Status{r}\";\n\
             DROP TYPE \"Status{r}_old\";\n\
             ALTER TABLE \"Item{r}\" ALTER COLUMN \"status\" SET DEFAULT 'DRAFT';\nCOMMIT;\n\n\
             -- AlterTable\nALTER TABLE \"Note{r}\" ADD COLUMN \"pinned\" BOOLEAN NOT NULL DEFAULT false;\n"
        ),
        5 => format!("CREATE INDEX CONCURRENTLY \"Note{r}_body_idx\" ON \"Note{r}\"(\"body\");\n"),
        6 => format!(
            "-- CreateTable\nCREATE TABLE \"Scratch{r}\" (\n    \"id\" SERIAL NOT NULL,\n    \"v\" TEXT,\n\n    \
             CONSTRAINT \"Scratch{r}_pkey\" PRIMARY KEY (\"id\")\n);\n"
        ),
        // A table an earlier migration of this history created, dropped.
        7 => format!("-- DropTable\nDROP TABLE \"Scratch{r}\";\n"),
        8 => format!(
            "-- AlterTable\nALTER TABLE \"Note{r}\" DROP COLUMN \"pinned\";\n\n\
             -- RenameIndex\nALTER INDEX \"Item{r}_name_idx\" RENAME TO \"Item{r}_name_key_idx\";\n"
        ),
        _ => format!(
            "-- AlterTable\nALTER TABLE \"Item{r}\" ALTER COLUMN \"rank\" SET DATA TYPE BIGINT;\n\n\
             -- AlterTable\nALTER TABLE \"Item{r}\" RENAME TO \"Entry{r}\";\n"
        ),
    }
}
