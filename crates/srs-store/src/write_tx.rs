//! One write on either engine, as plain code: `begin_write` opens it,
//! statements run through [`WriteTx`], `commit` ends it. On SQLite a write
//! is a savepoint inside the writer's group transaction and `commit`
//! returns once the group committed; on MariaDB it is a transaction of
//! its own. A write dropped before `commit` (an early return, a `?`)
//! leaves nothing behind on either engine.

use crate::counter_slots::SlotLease;
use crate::sqlite_writer::Turn;
use crate::{Pool, Store};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::mysql::{MySql, MySqlRow};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Arguments, Database, Encode, FromRow, Type};

/// A value bound to a statement's `?`. Each is nullable: `None` binds NULL.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<&'a str>),
    Time(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(Some(v))
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}

impl From<DateTime<Utc>> for Arg<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(Some(v))
    }
}

impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Time(v)
    }
}

impl From<NaiveDate> for Arg<'_> {
    fn from(v: NaiveDate) -> Self {
        Arg::Date(Some(v))
    }
}

/// The arguments of one statement for engine `DB`.
fn arguments<'q, DB>(args: &[Arg<'q>]) -> Result<DB::Arguments<'q>, sqlx::Error>
where
    DB: Database,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
    Option<NaiveDate>: Encode<'q, DB> + Type<DB>,
{
    let mut out = DB::Arguments::default();
    for arg in args {
        match *arg {
            Arg::Int(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Date(v) => out.add(v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// What a statement changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    /// Rows it inserted, changed or deleted.
    pub rows: u64,
    /// The id of the row an INSERT added.
    pub inserted_id: i64,
}

/// Which generation counter a write moves (see `generation.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Student data: every cached list page and record.
    Data,
    /// Credentials: cached sessions and tokens.
    Auth,
    /// Departments: cached names and ids.
    Departments,
}

/// An open write.
pub(crate) enum WriteTx<'s> {
    /// The writer's turn, with the write's savepoint open.
    Sqlite(Turn<'s>),
    /// A transaction on a pooled connection, and the counter slot it
    /// bumps.
    MySql(sqlx::Transaction<'static, MySql>, SlotLease),
}

impl Store {
    /// Opens a write (see the module's description).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx<'_>, sqlx::Error> {
        crate::fresh::forget_request_read();
        match &self.pool {
            Pool::Sqlite(pools) => {
                let mut turn = pools.writer.turn().await?;
                turn.open_savepoint().await?;
                Ok(WriteTx::Sqlite(turn))
            }
            Pool::MySql(pool, _) => Ok(WriteTx::MySql(pool.begin().await?, self.slots.take())),
        }
    }

    /// Runs one statement as a write of its own (on MariaDB without a
    /// transaction around it: one round trip).
    pub(crate) async fn write_one(&self, sql: &str, args: &[Arg<'_>]) -> Result<Done, sqlx::Error> {
        match &self.pool {
            Pool::Sqlite(_) => {
                let mut tx = self.begin_write().await?;
                let done = tx.execute(sql, args).await?;
                tx.commit().await?;
                Ok(done)
            }
            Pool::MySql(pool, _) => {
                let r = sqlx::query_with(sql, arguments::<MySql>(args)?)
                    .execute(pool)
                    .await;
                crate::fresh::forget_request_read();
                let r = r?;
                Ok(Done {
                    rows: r.rows_affected(),
                    inserted_id: i64::try_from(r.last_insert_id()).unwrap_or(i64::MAX),
                })
            }
        }
    }
}

impl WriteTx<'_> {
    /// Runs a statement that returns no rows.
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Done, sqlx::Error> {
        match self {
            WriteTx::Sqlite(turn) => {
                let r = sqlx::query_with(sql, arguments::<Sqlite>(args)?)
                    .execute(turn.conn())
                    .await?;
                Ok(Done {
                    rows: r.rows_affected(),
                    inserted_id: r.last_insert_rowid(),
                })
            }
            WriteTx::MySql(tx, _) => {
                let r = sqlx::query_with(sql, arguments::<MySql>(args)?)
                    .execute(&mut **tx)
                    .await?;
                Ok(Done {
                    rows: r.rows_affected(),
                    inserted_id: i64::try_from(r.last_insert_id()).unwrap_or(i64::MAX),
                })
            }
        }
    }

    /// Reads at most one row.
    pub(crate) async fn fetch_optional<R>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<R>, sqlx::Error>
    where
        R: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, MySqlRow>,
    {
        match self {
            WriteTx::Sqlite(turn) => {
                sqlx::query_as_with(sql, arguments::<Sqlite>(args)?)
                    .fetch_optional(turn.conn())
                    .await
            }
            WriteTx::MySql(tx, _) => {
                sqlx::query_as_with(sql, arguments::<MySql>(args)?)
                    .fetch_optional(&mut **tx)
                    .await
            }
        }
    }

    /// Reads exactly one row.
    pub(crate) async fn fetch_one<R>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<R, sqlx::Error>
    where
        R: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, MySqlRow>,
    {
        self.fetch_optional(sql, args)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Reads every row.
    pub(crate) async fn fetch_all<R>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<R>, sqlx::Error>
    where
        R: Send + Unpin + for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, MySqlRow>,
    {
        match self {
            WriteTx::Sqlite(turn) => {
                sqlx::query_as_with(sql, arguments::<Sqlite>(args)?)
                    .fetch_all(turn.conn())
                    .await
            }
            WriteTx::MySql(tx, _) => {
                sqlx::query_as_with(sql, arguments::<MySql>(args)?)
                    .fetch_all(&mut **tx)
                    .await
            }
        }
    }

    /// Moves `counter` on, so that every instance's cached reads of what
    /// it counts are read again once this write commits.
    pub(crate) async fn bump(&mut self, counter: Counter) -> Result<(), sqlx::Error> {
        match counter {
            Counter::Data => {
                // On MariaDB the write's own slot (see counter_slots.rs);
                // SQLite writes one at a time: any slot does.
                let slot = match self {
                    WriteTx::Sqlite(_) => 0,
                    WriteTx::MySql(_, lease) => lease.slot(),
                };
                let done = self
                    .execute(
                        "UPDATE change_counters SET n = n + 1 WHERE slot = ?",
                        &[slot.into()],
                    )
                    .await?;
                if done.rows != 1 {
                    // A missing slot would leave every cache believing
                    // nothing changed: refuse the write instead.
                    return Err(sqlx::Error::Protocol(format!(
                        "change_counters has no slot {slot}: the schema is not up to date (run the migrations)"
                    )));
                }
            }
            Counter::Auth => {
                self.execute("UPDATE auth_changes SET n = n + 1 WHERE id = 1", &[])
                    .await?;
            }
            Counter::Departments => {
                self.execute("UPDATE department_changes SET n = n + 1 WHERE id = 1", &[])
                    .await?;
            }
        }
        Ok(())
    }

    /// Makes the write durable; on SQLite returns once its group committed.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        let committed = match self {
            WriteTx::Sqlite(mut turn) => {
                turn.release_savepoint().await?;
                turn.finish().await
            }
            WriteTx::MySql(tx, _) => tx.commit().await,
        };
        // A read made during the write predates its commit.
        crate::fresh::forget_request_read();
        committed
    }
}
