//! The PostgreSQL backend: the same tables as SQLite, created at start under an advisory lock
//! (several gateways may start at once), one transaction per change with the revision bumped
//! in it. Plain TCP (`NoTls`): use it on loopback or a private network.

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::StoreError;

const MIGRATION_LOCK: i64 = 0x6761_7465_7761_7931; // "gateway1"

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gateway_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_applications (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_scope_mappings (
    authorization_server TEXT NOT NULL, scope TEXT NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (authorization_server, scope));
CREATE TABLE IF NOT EXISTS gateway_claims_rules (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
INSERT INTO gateway_meta (key, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;
INSERT INTO gateway_meta (key, value) VALUES ('revision', '0') ON CONFLICT DO NOTHING;
";

/// An encoded change (documents already serialised and sealed).
#[derive(Debug)]
pub(super) enum Op {
    PutApp(String, String),
    DeleteApp(String),
    PutMapping(String, String, String),
    DeleteMapping(String, String),
    PutClaimsRule(String, String),
    DeleteClaimsRule(String),
}

pub(super) struct Pg {
    url: String,
    client: Mutex<Client>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg")
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// The URL without its password.
pub(super) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn db(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Db(format!("postgres: {e}"))
}

async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| db(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "postgres store connection closed");
        }
    });
    Ok(client)
}

async fn bump(tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE gateway_meta SET value = (value::BIGINT + 1)::TEXT WHERE key = 'revision'",
        &[],
    )
    .await
    .map_err(|e| db(&e))?;
    Ok(())
}

async fn run(tx: &tokio_postgres::Transaction<'_>, op: &Op) -> Result<(), tokio_postgres::Error> {
    match op {
        Op::PutApp(name, doc) => tx
            .execute(
                "INSERT INTO gateway_applications (name, doc) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc",
                &[name, doc],
            )
            .await
            .map(drop),
        Op::DeleteApp(name) => tx
            .execute("DELETE FROM gateway_applications WHERE name = $1", &[name])
            .await
            .map(drop),
        Op::PutMapping(a, s, doc) => tx
            .execute(
                "INSERT INTO gateway_scope_mappings (authorization_server, scope, doc) \
                 VALUES ($1, $2, $3) ON CONFLICT (authorization_server, scope) \
                 DO UPDATE SET doc = EXCLUDED.doc",
                &[a, s, doc],
            )
            .await
            .map(drop),
        Op::DeleteMapping(a, s) => tx
            .execute(
                "DELETE FROM gateway_scope_mappings WHERE authorization_server = $1 AND scope = $2",
                &[a, s],
            )
            .await
            .map(drop),
        Op::PutClaimsRule(name, doc) => tx
            .execute(
                "INSERT INTO gateway_claims_rules (name, doc) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc",
                &[name, doc],
            )
            .await
            .map(drop),
        Op::DeleteClaimsRule(name) => tx
            .execute("DELETE FROM gateway_claims_rules WHERE name = $1", &[name])
            .await
            .map(drop),
    }
}

/// What [`Pg::load`] reads: application, mapping and claims-rule documents, and the revision.
pub(super) type Loaded = (Vec<String>, Vec<String>, Vec<String>, i64);

impl Pg {
    pub(super) async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut client = connect(url).await?;
        let tx = client.transaction().await.map_err(|e| db(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| db(&e))?;
        tx.batch_execute(SCHEMA).await.map_err(|e| db(&e))?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(Self {
            url: url.to_owned(),
            client: Mutex::new(client),
        })
    }

    // The client, reconnected if the connection was lost.
    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Client>, StoreError> {
        let mut c = self.client.lock().await;
        if c.is_closed() {
            *c = connect(&self.url).await?;
        }
        Ok(c)
    }

    pub(super) async fn revision(&self) -> Result<i64, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_one(
                "SELECT value::BIGINT FROM gateway_meta WHERE key = 'revision'",
                &[],
            )
            .await
            .map_err(|e| db(&e))?;
        Ok(row.get(0))
    }

    pub(super) async fn load(&self) -> Result<Loaded, StoreError> {
        let mut c = self.client().await?;
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| db(&e))?;
        let rev: i64 = tx
            .query_one(
                "SELECT value::BIGINT FROM gateway_meta WHERE key = 'revision'",
                &[],
            )
            .await
            .map_err(|e| db(&e))?
            .get(0);
        let apps = tx
            .query("SELECT doc FROM gateway_applications ORDER BY name", &[])
            .await
            .map_err(|e| db(&e))?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let maps = tx
            .query(
                "SELECT doc FROM gateway_scope_mappings ORDER BY authorization_server, scope",
                &[],
            )
            .await
            .map_err(|e| db(&e))?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let rules = tx
            .query("SELECT doc FROM gateway_claims_rules ORDER BY name", &[])
            .await
            .map_err(|e| db(&e))?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        tx.commit().await.map_err(|e| db(&e))?;
        Ok((apps, maps, rules, rev))
    }

    pub(super) async fn seed(&self, ops: &[Op]) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(|e| db(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| db(&e))?;
        let seeded = tx
            .query_opt("SELECT value FROM gateway_meta WHERE key = 'seeded'", &[])
            .await
            .map_err(|e| db(&e))?;
        if seeded.is_some() {
            return Ok(false);
        }
        for op in ops {
            run(&tx, op).await.map_err(|e| db(&e))?;
        }
        tx.execute(
            "INSERT INTO gateway_meta (key, value) VALUES ('seeded', '1')",
            &[],
        )
        .await
        .map_err(|e| db(&e))?;
        bump(&tx).await?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(true)
    }

    pub(super) async fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(|e| db(&e))?;
        // Serialise writers across gateways: the revision row is the lock.
        tx.execute(
            "SELECT value FROM gateway_meta WHERE key = 'revision' FOR UPDATE",
            &[],
        )
        .await
        .map_err(|e| db(&e))?;
        for op in ops {
            run(&tx, op).await.map_err(|e| db(&e))?;
        }
        bump(&tx).await?;
        tx.commit().await.map_err(|e| db(&e))?;
        Ok(())
    }

    pub(super) async fn raw_document(&self, name: &str) -> Option<String> {
        let c = self.client().await.ok()?;
        c.query_opt(
            "SELECT doc FROM gateway_applications WHERE name = $1",
            &[&name],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0))
    }
}
