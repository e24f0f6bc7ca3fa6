//! WAL checkpoints of a SQLite file, on a thread of their own.
//!
//! In WAL mode a commit appends to the `-wal` file, and SQLite copies those pages
//! back into the database file from time to time (a checkpoint). By default the
//! connection whose commit takes the WAL past 1,000 pages does it, inside that
//! commit: it copies the pages and syncs both files before the commit returns. For
//! Warden that connection is the audit writer's, so one call in a few hundred waited
//! for a checkpoint: the single caller's p99 was ten times its p50 (BENCHMARKS.md).
//!
//! Warden's own connections turn that off (`PRAGMA wal_autocheckpoint = 0`, in
//! `sqlite::session`) and this thread checkpoints instead, every [`EVERY`], in
//! `PASSIVE` mode: it copies what no reader still needs, without waiting for or
//! blocking readers and writers, and does nothing (no sync) when nothing was
//! written. So the WAL holds about a tenth of a second of writes, where the default
//! lets it reach about 1,000 pages. Checkpoints still slow the commits that run
//! beside their syncs, so they are kept small: every 100 ms measured a p99 half that
//! of every second (BENCHMARKS.md). Other processes that open the file (the `warden`
//! commands) keep SQLite's default.
//!
//! A checkpoint alone does not shorten the WAL: the next writer starts it over from
//! its beginning only if every frame was copied back, and a `PASSIVE` checkpoint
//! cannot copy the frames committed while it ran. Under a steady stream of calls
//! there always are some, so the file grew without end (about 22 KB per call, 2 GB
//! in forty seconds of one caller). So once the WAL holds [`RESTART_FRAMES`], this
//! thread takes this process's writer lock (the store's writers queue behind it, the
//! inline audit write falls back to the batching writer) and checkpoints once more in
//! `RESTART` mode: the few frames committed since are copied, and the next commit
//! starts the WAL over. Writers wait for that second checkpoint only, about two
//! syncs, and only once per [`RESTART_FRAMES`] written. A reader still on old frames,
//! or another process, can keep it from finishing; it is not waited for (busy timeout
//! 0) and the next turn tries again. `journal_size_limit` ([`WAL_SIZE_LIMIT`], set on
//! every connection that writes) then cuts a WAL that had grown much further (a long
//! read kept it from starting over) back when it starts over.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Mutex, oneshot};

/// How often the WAL is checkpointed.
pub(super) const EVERY: Duration = Duration::from_millis(100);

/// How many WAL frames make this thread stop the writers for a moment so that the WAL
/// starts over: 64 MiB of 4 KiB pages, about a second of one caller's audit rows at full
/// speed, a minute at 50 calls a second.
pub(super) const RESTART_FRAMES: i64 = 16_384;

/// The size a WAL that starts over is cut back to (`PRAGMA journal_size_limit`): twice
/// [`RESTART_FRAMES`]' size, so that a steady load, which takes the WAL a little past
/// those before this thread's next turn, never has it cut (a cut commit truncates the
/// file; measured as a worse single-caller p99 at 64 MiB, BENCHMARKS.md).
pub(super) const WAL_SIZE_LIMIT: i64 = 128 << 20;

/// The checkpoint thread of one store; stops when closed or dropped.
pub(super) struct Checkpointer {
    stop: SyncSender<()>,
    /// Answered when the thread has ended and its connection is closed; taken by the
    /// first [`Checkpointer::stop`].
    ended: std::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing the SQLite file at `path` (in WAL mode), whose writers in
    /// this process take turns on `writer`. Every turn runs `first` before its
    /// checkpoint (the store moves its recent audit rows, `recent.rs`).
    pub(super) fn start(
        path: &Path,
        writer: Arc<Mutex<()>>,
        first: impl Fn() + Send + 'static,
    ) -> std::io::Result<Checkpointer> {
        Checkpointer::start_with(path, writer, EVERY, RESTART_FRAMES, first)
    }

    fn start_with(
        path: &Path,
        writer: Arc<Mutex<()>>,
        every: Duration,
        restart_frames: i64,
        first: impl Fn() + Send + 'static,
    ) -> std::io::Result<Checkpointer> {
        let connection = open(path).map_err(std::io::Error::other)?;
        let (stop, stopped) = mpsc::sync_channel::<()>(1);
        let (end, ended) = oneshot::channel();
        std::thread::Builder::new()
            .name("warden-sqlite-checkpoint".to_owned())
            .spawn(move || {
                // A stop, or the store dropped (the sender with it), ends the loop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    first();
                    turn(&connection, &writer, restart_frames);
                }
                // Everything the thread holds goes before it answers. Closing the
                // file's last connection checkpoints and removes the WAL, holding the
                // file meanwhile: done before the store's close returns.
                drop(first);
                drop(writer);
                drop(connection);
                let _ = end.send(());
            })?;
        Ok(Checkpointer {
            stop,
            ended: std::sync::Mutex::new(Some(ended)),
        })
    }

    /// Stops the thread and waits until it has ended, with its connection closed: the
    /// turn in progress, if any, finishes first (at most one move of the recent audit
    /// rows and a checkpoint).
    pub(super) async fn stop(&self) {
        let _ = self.stop.try_send(());
        let ended = self
            .ended
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some(ended) = ended {
            // An error is the thread gone without answering (it panicked): ended too.
            let _ = ended.await;
        }
    }
}

/// One checkpoint, and the restart when the WAL has grown to `restart_frames`. Busy
/// (another process's checkpoint is running) or failed: the next turn tries again.
fn turn(connection: &Connection, writer: &Mutex<()>, restart_frames: i64) {
    match checkpoint(connection, "PASSIVE") {
        // `log` counts the frames there were when the checkpoint began: others may have
        // been committed since.
        Ok(Checkpoint {
            busy: false, log, ..
        }) if log >= restart_frames => {
            // This process's writers wait, so that nothing is committed while the last
            // frames are copied; then the next commit starts the WAL over.
            let waited = Instant::now();
            let _writers = writer.blocking_lock();
            let held = Instant::now();
            match checkpoint(connection, "RESTART") {
                Ok(Checkpoint { busy: false, .. }) => tracing::debug!(
                    "WAL restart after {log} frames: {:?} waiting for the writers, then \
                     {:?} holding them",
                    held - waited,
                    held.elapsed()
                ),
                Ok(Checkpoint { log, copied, .. }) => tracing::debug!(
                    "WAL restart: {copied} of {log} frames copied, a reader or another \
                     process still uses the rest"
                ),
                Err(error) => tracing::debug!("WAL restart: {error}"),
            }
        }
        Ok(Checkpoint { busy: false, .. }) => {}
        Ok(Checkpoint { busy: true, .. }) => {
            tracing::debug!("WAL checkpoint: another one is running")
        }
        Err(error) => tracing::debug!("WAL checkpoint: {error}"),
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A `RESTART` checkpoint does not wait for readers or other processes either.
    connection.busy_timeout(Duration::ZERO)?;
    Ok(connection)
}

/// What `PRAGMA wal_checkpoint` answered.
struct Checkpoint {
    /// Another checkpoint kept this one from running, or (`RESTART`) a reader or another
    /// process's writer kept it from finishing.
    busy: bool,
    /// Frames in the WAL.
    log: i64,
    /// Frames of it copied into the database file.
    copied: i64,
}

/// Copies the WAL's pages into the database file: `PASSIVE` copies those that no reader
/// still needs, without waiting; `RESTART` also makes sure that the next commit starts
/// the WAL over, unless it answers busy.
fn checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<Checkpoint> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok(Checkpoint {
            busy: row.get::<_, i64>(0)? != 0,
            log: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use rusqlite::Connection;
    use sqlx::Row;
    use tokio::sync::Mutex;

    use super::Checkpointer;
    use crate::Store;

    /// The size of one WAL frame of a 4 KiB page (its header is 24 bytes).
    const FRAME: u64 = 4096 + 24;

    /// Rewrites one page-sized row per commit (a WAL frame or more each, while the
    /// database file stays small), taking turns on `writer` like the store's writers,
    /// without a pause until `stop`, counting the commits in `commits`.
    fn write_without_pause(
        path: &std::path::Path,
        writer: &Mutex<()>,
        commits: &AtomicU64,
        stop: &AtomicBool,
    ) {
        let connection = Connection::open(path).unwrap();
        connection
            .execute_batch(
                "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
                 PRAGMA wal_autocheckpoint = 0;",
            )
            .unwrap();
        while !stop.load(Ordering::Relaxed) {
            let _turn = writer.blocking_lock();
            connection
                .execute("UPDATE filler SET x = randomblob(3000)", [])
                .unwrap();
            commits.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Under commits that never stop, every `PASSIVE` checkpoint finds frames committed
    /// while it ran, so the WAL never starts over on its own: the thread makes it, and
    /// the file stays near its bound however much is written.
    #[test]
    fn the_wal_starts_over_under_commits_that_never_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE filler (x BLOB); \
                 INSERT INTO filler VALUES (NULL);",
            )
            .unwrap();
        drop(setup);
        let wal = dir.path().join("warden.db-wal");

        let restart_frames = 512;
        let writer = Arc::new(Mutex::new(()));
        let checkpointer = Checkpointer::start_with(
            &path,
            writer.clone(),
            Duration::from_millis(10),
            restart_frames,
            || {},
        )
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(AtomicU64::new(0));
        let writing = std::thread::spawn({
            let (path, writer) = (path.clone(), writer.clone());
            let (commits, stop) = (commits.clone(), stop.clone());
            move || write_without_pause(&path, &writer, &commits, &stop)
        });

        // A hundred times the bound, written without a pause.
        let bound = restart_frames as u64 * FRAME;
        let mut largest = 0;
        let deadline = Instant::now() + Duration::from_secs(120);
        while commits.load(Ordering::Relaxed) * FRAME < 100 * bound && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        stop.store(true, Ordering::Relaxed);
        writing.join().unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
        // Its connection the last, the thread removes the WAL as it ends.
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(checkpointer.stop());
        assert!(
            !wal.exists(),
            "the WAL is still there after the thread ended"
        );
        let commits = commits.load(Ordering::Relaxed);

        let written = commits * FRAME;
        assert!(
            written >= 100 * bound,
            "only {commits} commits in two minutes"
        );
        // Without a restart the WAL holds everything written; the thread wakes every
        // 10 ms, so it may overshoot the bound by what a slow turn lets through.
        assert!(
            largest < written / 4,
            "the WAL grew to {largest} bytes while {written} were written; bound {bound}"
        );
    }

    /// No commit of the store's checkpoints the WAL, and the store's thread moves
    /// what was written into the database file all the same, without any commit
    /// waiting for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_off_the_commit_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let pool = store.pool();
        let setting = async |name: &str| -> i64 {
            sqlx::query(&format!("PRAGMA {name}"))
                .fetch_one(pool)
                .await
                .unwrap()
                .try_get(0)
                .unwrap()
        };
        assert_eq!(
            setting("wal_autocheckpoint").await,
            0,
            "commits checkpoint the WAL themselves"
        );
        assert_eq!(setting("journal_size_limit").await, super::WAL_SIZE_LIMIT);

        // About 2,000 pages, twice the WAL size at which SQLite's own default
        // would have checkpointed inside a commit.
        sqlx::query("CREATE TABLE filler (x BLOB)")
            .execute(pool)
            .await
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        for _ in 0..40 {
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) \
                 INSERT INTO filler SELECT randomblob(4000) FROM n",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        let written = 2_000 * 4_000;
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() < before + written {
            assert!(
                Instant::now() < deadline,
                "the pages written did not reach the database file: {} bytes",
                std::fs::metadata(&path).unwrap().len()
            );
            tokio::time::sleep(super::EVERY).await;
        }
        store.close().await;
    }

    /// A stop waits for the turn in progress: when it returns the thread has ended,
    /// with what it held dropped and its connection closed (the last, so the WAL is
    /// gone).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_returns_once_the_thread_has_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER);")
            .unwrap();
        let held = Arc::new(());
        let in_turn = Arc::new(AtomicBool::new(false));
        let checkpointer = Checkpointer::start_with(
            &path,
            Arc::new(Mutex::new(())),
            Duration::from_millis(5),
            super::RESTART_FRAMES,
            {
                let (held, in_turn) = (held.clone(), in_turn.clone());
                move || {
                    let _held = &held;
                    in_turn.store(true, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(300));
                }
            },
        )
        .unwrap();
        while !in_turn.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let stopping = Instant::now();
        checkpointer.stop().await;
        assert_eq!(Arc::strong_count(&held), 1, "the thread still runs");
        assert!(!dir.path().join("warden.db-wal").exists());
        assert!(stopping.elapsed() >= Duration::from_millis(100));
        // A second stop has nothing to wait for.
        checkpointer.stop().await;
    }
}
