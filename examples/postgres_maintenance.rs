//! The bank's scheduled maintenance of the PostgreSQL store, run as the
//! schema's owner (not the application's role), for example monthly:
//! 1. the schema brought up to date;
//! 2. the audit table's months prepared three months ahead (a row dated
//!    where no partition is cannot be written, so every commit would fail);
//! 3. every customer's audit trail verified;
//! 4. every chain head exported as a MACed checkpoint, to storage the
//!    database's owner cannot rewrite (here: standard output, one per line,
//!    hex);
//! 5. the months older than the retention period detached, each after the
//!    library verified every trail in it and kept each customer's floor;
//!    each one is then a table of its own, to export (`pg_dump -t`) to the
//!    archive and drop.
//!
//! `DATABASE_URL=postgres://owner@… OTPGUARD_SEAL_KEY=<64 hex>
//! OTPGUARD_RETAIN_DAYS=400 cargo run --example postgres_maintenance --features postgres`
//!
//! It stops at the first step that fails, and says which: a broken trail
//! stops the archive (the rows are evidence), a month not yet due ends it.

use std::error::Error;

use otpguard::lifecycle::postgres::sqlx::postgres::PgPoolOptions;
use otpguard::lifecycle::postgres::{DetachError, PostgresStore};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{Clock, SystemClock};
use zeroize::Zeroizing;

const DAY: u64 = 86_400;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL")?;
    let key = Zeroizing::new(std::env::var("OTPGUARD_SEAL_KEY")?);
    let retain_days: u64 = std::env::var("OTPGUARD_RETAIN_DAYS")
        .unwrap_or_else(|_| "400".to_owned())
        .parse()?;
    // Two connections: the detach holds one while it verifies on another.
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await?;
    let store = PostgresStore::new(pool, Keyring::from_hex(KeyId(1), &key)?);

    store.migrate().await?;
    let now = SystemClock.now();
    let made = store
        .prepare_audit_partitions(now.saturating_add(92 * DAY))
        .await?;
    eprintln!("audit partitions created: {made:?}");

    let report = store.verify_audits(1_000).await?;
    eprintln!(
        "audit trails verified: {} customers, {} rows, {} broken",
        report.customers,
        report.rows,
        report.broken.len()
    );
    if !report.broken.is_empty() {
        for (customer, link) in &report.broken {
            eprintln!("  broken: {customer}: {link}");
        }
        return Err("broken audit trails: nothing archived".into());
    }

    // Verified first, so that no cut made before is endorsed.
    let mut exported = 0_u64;
    let mut after = None;
    loop {
        let page = store.checkpoints(after.as_ref(), 1_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer().clone());
        for checkpoint in &page {
            let hex: String = checkpoint
                .to_bytes()?
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            println!("{hex}");
            exported = exported.saturating_add(1);
        }
    }
    eprintln!("checkpoints exported: {exported}");

    let retained = now.saturating_sub(retain_days.saturating_mul(DAY));
    while let Some(oldest) = store.audit_partitions().await?.into_iter().next() {
        if oldest.until > retained {
            break;
        }
        match store.detach_oldest_audit_partition(&SystemClock).await {
            Ok(detached) => eprintln!(
                "detached {} ({} rows, {} customers, {} trails carried): export it with \
                 pg_dump -t {}, then drop it",
                detached.partition.name,
                detached.rows,
                detached.customers,
                detached.carried,
                detached.partition.name
            ),
            Err(DetachError::NotYet { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
