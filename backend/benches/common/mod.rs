//! What the benches share: a PostgreSQL database of their own (dropped
//! at the end, also when a bench fails or was killed) and a description of
//! the machine the figures come from.

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// The PostgreSQL the benches run on; the bench database's URL keeps its
/// query. By default without TLS, as deploy/messaging.env.example connects
/// to a PostgreSQL on the same host: TLS over loopback protects nothing and
/// cost a fifth of a send's CPU (README, "Benchmarks").
pub fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

/// The bench's database: dropped when this goes out of scope, whether the
/// bench finished or failed.
pub struct BenchDb {
    pub name: String,
    pub url: String,
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let name = self.name.clone();
        // Drop may run while the bench's runtime unwinds: use a thread and a
        // runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let db = Database::connect(admin_url())
                    .await
                    .map_err(|e| e.to_string())?;
                let res = db.execute_unprepared(&sql).await.map_err(|e| e.to_string());
                let _ = db.close().await;
                res.map(|_| ())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => println!("dropped database {name}"),
            Ok(Err(e)) => eprintln!("could not drop database {name}: {e}"),
            Err(_) => eprintln!("could not drop database {name}: the drop thread panicked"),
        }
    }
}

impl BenchDb {
    pub async fn create() -> anyhow::Result<Self> {
        let admin = Database::connect(admin_url()).await.with_context(|| {
            format!(
                "PostgreSQL is not reachable at {}; start it with: \
                 pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
                admin_url()
            )
        })?;
        sweep_stale(&admin).await;
        let name = format!("msgbench_{}", std::process::id());
        // The name carries our pid, so a database of that name is a leftover.
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .context("create the bench database")?;
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url()).context("TEST_POSTGRES_URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Self {
            name,
            url: url.to_string(),
        })
    }
}

/// Drops bench databases whose process is gone (a run that was killed).
async fn sweep_stale(admin: &DatabaseConnection) {
    let rows = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'msgbench\\_%'",
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("msgbench_")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

pub async fn exec(db: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    db.execute_unprepared(sql)
        .await
        .with_context(|| format!("seed statement failed:\n{sql}"))?;
    Ok(())
}

pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let memory = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::process::Command::new("nproc")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|n| n.to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    format!("nproc {nproc}, CPU {model}, memory {memory}")
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}
