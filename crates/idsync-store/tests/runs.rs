//! Bookkeeping of backfill runs whose pages commit out of order, against a
//! real Postgres.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idsync_pg::{PgOptions, PgServer};
use idsync_store::PgPool;
use idsync_store::runs::{self, CommittedPage, JobKind, NumberedPage, PagedProgress, RunCounts};
use serde_json::json;

async fn db() -> (PgServer, PgPool) {
    let server = PgServer::start(PgOptions::temporary()).await.unwrap();
    let pool = PgPool::connect(&server.url()).await.unwrap();
    idsync_store::migrate::migrate(&pool, &[]).await.unwrap();
    (server, pool)
}

fn page(page: i64, last: bool) -> NumberedPage<'static> {
    NumberedPage {
        page,
        last,
        prefix: 0,
        prefix_cursor: None,
    }
}

const ONE_PAGE: RunCounts = RunCounts {
    pages: 1,
    seen: 500,
    added: 500,
    updated: 0,
    deleted: 0,
    unchanged: 0,
};

/// A page whose commit went through unseen is written again: the second
/// attempt is refused and counts nothing.
#[tokio::test]
async fn a_page_is_recorded_once() {
    let (_server, pool) = db().await;
    let run = runs::start(&pool, "main", JobKind::Backfill).await.unwrap();
    assert_eq!(
        runs::paged_progress(&pool, run.id).await.unwrap(),
        PagedProgress::default()
    );
    for (attempt, recorded) in [(1, true), (2, false)] {
        let mut tx = pool.begin().await.unwrap();
        assert_eq!(
            runs::record_numbered_page(&mut tx, run.id, page(3, false), ONE_PAGE)
                .await
                .unwrap(),
            recorded,
            "attempt {attempt}"
        );
        tx.commit().await.unwrap();
    }
    let run = runs::latest(&pool, "main", JobKind::Backfill)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.counts(), ONE_PAGE);
    assert_eq!(
        runs::paged_progress(&pool, run.id).await.unwrap().committed,
        [CommittedPage {
            page: 3,
            last: false
        }]
    );
}

/// The run's cursor moves only forward, whichever page commits last.
#[tokio::test]
async fn the_cursor_never_moves_back() {
    let (_server, pool) = db().await;
    let run = runs::start(&pool, "main", JobKind::Backfill).await.unwrap();
    runs::paged_progress(&pool, run.id).await.unwrap();
    let ahead = json!(1000);
    let mut tx = pool.begin().await.unwrap();
    let two = NumberedPage {
        prefix: 2,
        prefix_cursor: Some(&ahead),
        ..page(1, false)
    };
    runs::record_numbered_page(&mut tx, run.id, two, ONE_PAGE)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    runs::record_numbered_page(&mut tx, run.id, page(0, false), ONE_PAGE)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let run = runs::latest(&pool, "main", JobKind::Backfill)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.cursor, Some(ahead));
    assert_eq!(run.pages, 2);
}
