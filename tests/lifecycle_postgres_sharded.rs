//! Customers spread over two PostgreSQL clusters: a routing store that
//! sends every operation on a customer to the cluster its id hashes to.
//! Every statement the store runs is per customer (a serial is its
//! customer's own, so nothing is unique across customers), so the
//! router needs nothing else: it passes the store contract suite over two
//! real servers, and each customer's record and trail live in one cluster
//! only.

#![cfg(all(feature = "postgres", feature = "testing"))]
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod store_support;
mod support;

use std::future::Future;
use std::time::Duration;

use otpguard::lifecycle::postgres::PostgresStore;
use otpguard::lifecycle::store::{Commit, CommitOutcome, Loaded, TokenRecord, TokenStore};
use otpguard::lifecycle::CustomerId;
use otpguard::testing::store_contract::{self, AuditEntry, Contract, ContractStore, Executor};
use otpguard::StoreError;
use sha2::{Digest, Sha256};
use store_support::executors::Tasks;
use support::pg_lifecycle::{keys, pool_on};
use support::postgres_server::PostgresServer;

/// Two stores, one per cluster; a customer's cluster is fixed by its id.
struct Routing {
    shards: [PostgresStore; 2],
}

impl Routing {
    /// The shard of `customer`: the low bit of the SHA-256 of its id (a
    /// hash the bank can compute anywhere, stable across versions). A bank
    /// with more clusters takes more bits, or a directory table.
    fn shard(&self, customer: &CustomerId) -> &PostgresStore {
        let digest = Sha256::digest(customer.as_str().as_bytes());
        &self.shards[usize::from(digest[0] & 1)]
    }
}

impl TokenStore for Routing {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.shard(customer).load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        self.shard(commit.customer).commit(commit)
    }

    fn load_with_head(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        self.shard(customer).load_with_head(customer)
    }
}

impl ContractStore for Routing {
    fn audit_of(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
        self.shard(customer).audit_of(customer)
    }
}

async fn router(servers: &[PostgresServer; 2]) -> Routing {
    let [a, b] = servers;
    let open = |pg| async move {
        let store = PostgresStore::new(
            pool_on(pg, "postgres", 8, Duration::from_secs(5)).await,
            keys(),
        );
        store.migrate().await.unwrap();
        store
    };
    Routing {
        shards: [open(a).await, open(b).await],
    }
}

#[test]
fn a_router_over_two_clusters_keeps_the_store_contract() {
    let servers = [PostgresServer::start(), PostgresServer::start()];
    let executor = Tasks::new();
    let stores = || router(&servers);
    store_contract::commits(&executor, stores)
        .and_then(|()| store_contract::records_round_trip(&executor, stores))
        .and_then(|()| store_contract::serials_belong_to_their_customer(&executor, stores))
        .unwrap_or_else(|violation| panic!("{violation}"));
    let contract = Contract::new().trials(50).racers(16);
    let totals = store_contract::one_code_many_times(&contract, &executor, stores)
        .unwrap_or_else(|violation| panic!("{violation}"));
    assert_eq!((totals.accepted, totals.replayed), (50, 50 * 15));
    let totals = store_contract::wrong_codes_against_the_lockout(&contract, &executor, stores)
        .unwrap_or_else(|violation| panic!("{violation}"));
    assert_eq!(totals.locked_out, 50);

    // Both clusters serve customers, and each customer lives in one only.
    let count = |pg: &PostgresServer, sql: &str| pg.psql(sql).parse::<u64>().unwrap();
    let records = "SELECT count(*) FROM otpguard_token_records";
    let (a, b) = (count(&servers[0], records), count(&servers[1], records));
    println!("records: {a} on the first cluster, {b} on the second");
    assert!(a > 10 && b > 10, "{a} / {b}");
    let ids = |pg: &PostgresServer| {
        pg.psql("SELECT string_agg(DISTINCT customer_id, ',') FROM otpguard_audit")
            .split(',')
            .map(str::to_owned)
            .collect::<std::collections::HashSet<_>>()
    };
    let (on_a, on_b) = (ids(&servers[0]), ids(&servers[1]));
    assert!(
        on_a.is_disjoint(&on_b),
        "a customer's rows on both clusters"
    );
    executor.block_on(async {
        let routing = router(&servers).await;
        for id in on_a.iter().take(20) {
            let c = CustomerId::new(id).unwrap();
            assert!(std::ptr::eq(routing.shard(&c), &routing.shards[0]));
        }
    });
}
