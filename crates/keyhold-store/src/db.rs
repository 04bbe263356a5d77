//! The writer's connection: statements built like sqlx queries (`query(sql).bind(v)…`) and run
//! synchronously on the writer thread's own SQLite connection (see [`crate::writer`]).
//!
//! Every statement of a batch runs on the thread that owns the connection, so a batch costs one
//! hand-off between the async runtime and the database however many statements it has; through
//! sqlx each statement was a round trip to its worker thread. Statements are prepared once and
//! cached by their text. The SQL keeps the `$n` placeholders the read queries use, bound by
//! number, so the same text runs on PostgreSQL.

use std::borrow::Cow;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{ffi, ErrorCode};

use keyhold_core::store::StoreError;

use crate::error::backend;

/// The writer's connection, inside a transaction while a batch is applied.
pub(crate) struct Conn {
    inner: rusqlite::Connection,
}

/// A value bound to a placeholder. The tables are `STRICT`: text binds as TEXT, bytes as BLOB.
#[derive(Debug, Clone)]
pub(crate) enum Value<'q> {
    Int(i64),
    Text(Cow<'q, str>),
    Blob(Cow<'q, [u8]>),
    Null,
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl<'q> From<&'q str> for Value<'q> {
    fn from(v: &'q str) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Text(Cow::Owned(v))
    }
}

impl<'q> From<&'q [u8]> for Value<'q> {
    fn from(v: &'q [u8]) -> Self {
        Value::Blob(Cow::Borrowed(v))
    }
}

impl From<Vec<u8>> for Value<'_> {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(Cow::Owned(v))
    }
}

impl<'q, T: Into<Value<'q>>> From<Option<T>> for Value<'q> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Null => ValueRef::Null,
        }))
    }
}

/// A statement and its bound values.
#[must_use = "a statement does nothing until it is executed"]
pub(crate) struct Stmt<'q> {
    sql: Cow<'q, str>,
    values: Vec<Value<'q>>,
    /// The placeholders are `$1`, `$2`, … each once and in that order (see [`Stmt::in_order`]).
    in_order: bool,
}

/// Starts a statement.
pub(crate) fn query<'q>(sql: impl Into<Cow<'q, str>>) -> Stmt<'q> {
    Stmt {
        sql: sql.into(),
        values: Vec::new(),
        in_order: false,
    }
}

/// What a statement changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    rows: u64,
}

impl Done {
    /// How many rows the statement inserted, updated or deleted.
    pub(crate) fn rows_affected(self) -> u64 {
        self.rows
    }
}

/// One row of a result, its columns copied out of the statement.
#[derive(Debug)]
pub(crate) struct Row(Vec<rusqlite::types::Value>);

/// A column type a [`Row`] can be read as.
pub(crate) trait FromColumn: Sized {
    /// The value, or `None` if the column holds another type.
    fn from_column(v: &rusqlite::types::Value) -> Option<Self>;
}

impl FromColumn for i64 {
    fn from_column(v: &rusqlite::types::Value) -> Option<Self> {
        match v {
            rusqlite::types::Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromColumn for Vec<u8> {
    fn from_column(v: &rusqlite::types::Value) -> Option<Self> {
        match v {
            rusqlite::types::Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

/// A column that is missing or not of the type asked for: the schema and the code disagree.
#[derive(Debug, thiserror::Error)]
#[error("column {index} is missing or not of the expected type")]
pub(crate) struct ColumnType {
    index: usize,
}

impl Row {
    /// Column `index` as a `T`.
    pub(crate) fn try_get<T: FromColumn>(&self, index: usize) -> Result<T, ColumnType> {
        self.0
            .get(index)
            .and_then(T::from_column)
            .ok_or(ColumnType { index })
    }

    /// The record stored as a document in the first column.
    pub(crate) fn doc(&self) -> Result<&[u8], StoreError> {
        match self.0.first() {
            Some(rusqlite::types::Value::Blob(b)) => Ok(b),
            _ => Err(backend(ColumnType { index: 0 })),
        }
    }
}

impl<'q> Stmt<'q> {
    /// Binds the next placeholder (`$1`, then `$2`, …).
    pub(crate) fn bind(mut self, v: impl Into<Value<'q>>) -> Self {
        self.values.push(v.into());
        self
    }

    /// Declares that the placeholders are `$1`, `$2`, … each once and in that order, so the
    /// values bind by position without looking up each placeholder's name (a lookup that scans
    /// every name: quadratic in a multi-row INSERT). Checked in debug builds.
    pub(crate) fn in_order(mut self) -> Self {
        self.in_order = true;
        self
    }

    /// Runs the statement.
    pub(crate) fn execute(self, conn: &Conn) -> Result<Done, rusqlite::Error> {
        let mut stmt = self.prepare(conn)?;
        let rows = stmt.raw_execute()?;
        Ok(Done {
            rows: u64::try_from(rows).unwrap_or(0),
        })
    }

    /// Runs the statement and returns its first row, if any.
    pub(crate) fn fetch_optional(self, conn: &Conn) -> Result<Option<Row>, rusqlite::Error> {
        let mut stmt = self.prepare(conn)?;
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        match rows.next()? {
            Some(row) => {
                let mut values = Vec::with_capacity(columns);
                for i in 0..columns {
                    values.push(row.get::<_, rusqlite::types::Value>(i)?);
                }
                Ok(Some(Row(values)))
            }
            None => Ok(None),
        }
    }

    /// The cached prepared statement with every value bound to its `$n`.
    fn prepare<'c>(&self, conn: &'c Conn) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
        let mut stmt = conn.inner.prepare_cached(&self.sql)?;
        if self.in_order {
            if stmt.parameter_count() != self.values.len() {
                return Err(rusqlite::Error::InvalidParameterCount(
                    self.values.len(),
                    stmt.parameter_count(),
                ));
            }
            for (i, value) in self.values.iter().enumerate() {
                debug_assert_eq!(
                    stmt.parameter_name(i + 1).map(str::to_owned),
                    Some(format!("${}", i + 1))
                );
                stmt.raw_bind_parameter(i + 1, value)?;
            }
            return Ok(stmt);
        }
        for index in 1..=stmt.parameter_count() {
            // SQLite numbers named parameters by first appearance; `$n` means the n-th value.
            let n = stmt
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    rusqlite::Error::InvalidParameterName(format!("parameter {index}"))
                })?;
            let value = self
                .values
                .get(n - 1)
                .ok_or(rusqlite::Error::InvalidParameterCount(self.values.len(), n))?;
            stmt.raw_bind_parameter(index, value)?;
        }
        Ok(stmt)
    }
}

impl Conn {
    /// Wraps an open connection.
    pub(crate) fn new(inner: rusqlite::Connection) -> Conn {
        Conn { inner }
    }

    /// Runs statements that take no values and return no rows (transaction control, pragmas).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), rusqlite::Error> {
        self.inner.execute_batch(sql)
    }

    /// Runs one statement that takes no values and returns no rows, prepared once and cached
    /// (transaction control: `BEGIN`, `COMMIT`, savepoints).
    pub(crate) fn control(&self, sql: &str) -> Result<(), rusqlite::Error> {
        self.inner.prepare_cached(sql)?.raw_execute().map(|_| ())
    }

    /// The open connection, for what the statement builder does not cover.
    pub(crate) fn raw(&self) -> &rusqlite::Connection {
        &self.inner
    }

    /// Closes the connection.
    pub(crate) fn close(self) -> Result<(), rusqlite::Error> {
        self.inner.close().map_err(|(_, e)| e)
    }
}

/// The kind of constraint a failed statement violated, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    Unique,
    ForeignKey,
}

/// Classifies a failure by SQLite's extended result code, never by message text.
pub(crate) fn violation(e: &rusqlite::Error) -> Option<Violation> {
    match e {
        rusqlite::Error::SqliteFailure(
            ffi::Error {
                code: ErrorCode::ConstraintViolation,
                extended_code,
            },
            _,
        ) => match *extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                Some(Violation::Unique)
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// Maps the failure of a write statement: a unique violation means `what` already exists, a
/// foreign-key violation that the key it refers to does not exist.
pub(crate) fn write_error(e: rusqlite::Error, what: &'static str) -> StoreError {
    match violation(&e) {
        Some(Violation::Unique) => StoreError::AlreadyExists(what),
        Some(Violation::ForeignKey) => StoreError::NotFound("key"),
        None => backend(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Conn {
        let c = Conn::new(rusqlite::Connection::open_in_memory().expect("in-memory database"));
        c.batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p (id TEXT PRIMARY KEY NOT NULL, n INTEGER, doc BLOB) STRICT;
             CREATE TABLE c (p TEXT NOT NULL REFERENCES p (id)) STRICT;",
        )
        .expect("schema");
        c
    }

    #[test]
    fn placeholders_bind_by_number_not_by_appearance() {
        let c = conn();
        query("INSERT INTO p (doc, n, id) VALUES ($3, $2, $1)")
            .bind("a")
            .bind(7_i64)
            .bind(b"doc".to_vec())
            .execute(&c)
            .expect("insert");
        let row = query("SELECT doc, n FROM p WHERE id = $1")
            .bind("a")
            .fetch_optional(&c)
            .expect("select")
            .expect("a row");
        assert_eq!(row.doc().expect("blob"), b"doc");
        assert_eq!(row.try_get::<i64>(1).expect("integer"), 7);
        assert!(row.try_get::<i64>(0).is_err(), "a blob is not an integer");
        assert!(row.try_get::<i64>(5).is_err(), "no such column");
    }

    #[test]
    fn rows_affected_and_missing_rows() {
        let c = conn();
        let none = query("SELECT 1 FROM p WHERE id = $1")
            .bind("x")
            .fetch_optional(&c)
            .expect("select");
        assert!(none.is_none());
        let done = query("UPDATE p SET n = $1 WHERE id = $2")
            .bind(1_i64)
            .bind("x")
            .execute(&c)
            .expect("update");
        assert_eq!(done.rows_affected(), 0);
        query("INSERT INTO p (id, n) VALUES ($1, $2)")
            .bind("x")
            .bind(None::<i64>)
            .execute(&c)
            .expect("insert with null");
        let done = query("UPDATE p SET n = $1 WHERE id = $2")
            .bind(1_i64)
            .bind(String::from("x"))
            .execute(&c)
            .expect("update");
        assert_eq!(done.rows_affected(), 1);
    }

    #[test]
    fn constraint_violations_are_classified() {
        let c = conn();
        query("INSERT INTO p (id) VALUES ($1)")
            .bind("a")
            .execute(&c)
            .expect("insert");
        let dup = query("INSERT INTO p (id) VALUES ($1)")
            .bind("a")
            .execute(&c)
            .expect_err("duplicate");
        assert_eq!(violation(&dup), Some(Violation::Unique));
        assert!(matches!(
            write_error(dup, "thing"),
            StoreError::AlreadyExists("thing")
        ));
        let orphan = query("INSERT INTO c (p) VALUES ($1)")
            .bind("nobody")
            .execute(&c)
            .expect_err("foreign key");
        assert_eq!(violation(&orphan), Some(Violation::ForeignKey));
        let strict = query("INSERT INTO p (id, n) VALUES ($1, $2)")
            .bind("b")
            .bind("not a number")
            .execute(&c)
            .expect_err("strict table");
        assert_eq!(violation(&strict), None);
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_null() {
        let c = conn();
        let e = query("INSERT INTO p (id, n) VALUES ($1, $2)")
            .bind("a")
            .execute(&c)
            .expect_err("one value for two placeholders");
        assert!(matches!(e, rusqlite::Error::InvalidParameterCount(..)));
    }
}
