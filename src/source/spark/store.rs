//! Where a checkpoint lives: a local directory or an S3-compatible bucket, both read through
//! `object_store` so listing, modification times and errors look the same.

use crate::config::{EnvLookup, S3Config};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt};
use object_store::{PutPayload, RetryConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// An offset or commit file larger than this is not something Spark wrote.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a checkpoint could not be opened, listed or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The checkpoint string is not a path or a supported URL.
    #[error("checkpoint `{checkpoint}`: {message}")]
    Location {
        /// The configured checkpoint.
        checkpoint: String,
        /// What is wrong with it.
        message: String,
    },
    /// The object store client could not be built.
    #[error("checkpoint `{checkpoint}`: cannot set up the object store: {source}")]
    Build {
        /// The configured checkpoint.
        checkpoint: String,
        /// The builder's error.
        source: object_store::Error,
    },
    /// Listing a log directory failed.
    #[error("cannot list {what}: {source}")]
    List {
        /// The directory.
        what: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// Reading a file failed.
    #[error("cannot read {what}: {source}")]
    Read {
        /// The file.
        what: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// The file was listed but gone when read: Spark purges old batches.
    #[error("{what} disappeared between list and read (Spark purged it); retried next poll")]
    Vanished {
        /// The file.
        what: String,
    },
    /// Writing a file failed.
    #[error("cannot write {what}: {source}")]
    Write {
        /// The file.
        what: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A local checkpoint path that is not a readable directory (missing, a file, a
    /// symlink loop, no permission).
    #[error("{what}: {problem}")]
    NotADirectory {
        /// The path.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The file is too large to be an offset log.
    #[error("{what} is {size} bytes: not an offset log")]
    TooLarge {
        /// The file.
        what: String,
        /// Its size.
        size: u64,
    },
}

// Parsed with the config, so `validate` refuses an unreadable location with its line.
pub use crate::config::{parse_location, Location};

/// S3 settings after config values and environment fallbacks; Debug hides the secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// Custom endpoint (MinIO, moto, ...).
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when unset anywhere).
    pub region: String,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token (env only, and only with env credentials).
    pub session_token: Option<String>,
    /// Allow plain HTTP endpoints.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hide = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &hide(&self.access_key_id))
            .field("secret_access_key", &hide(&self.secret_access_key))
            .field("session_token", &hide(&self.session_token))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Config values win; unset ones fall back to the usual AWS environment variables.
pub fn resolve_s3(cfg: Option<&S3Config>, env: EnvLookup<'_>) -> S3Settings {
    let cfg = cfg.cloned().unwrap_or_default();
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    // Key id and secret come as a pair: never mix a config key with an env secret.
    let (access_key_id, secret_access_key, session_token) =
        if cfg.access_key_id.is_some() || cfg.secret_access_key.is_some() {
            (cfg.access_key_id, cfg.secret_access_key, None)
        } else {
            (
                var("AWS_ACCESS_KEY_ID"),
                var("AWS_SECRET_ACCESS_KEY"),
                var("AWS_SESSION_TOKEN"),
            )
        };
    S3Settings {
        endpoint: cfg.endpoint.or_else(|| var("AWS_ENDPOINT_URL")),
        region: cfg
            .region
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
        access_key_id,
        secret_access_key,
        session_token,
        allow_http: cfg.allow_http,
    }
}

/// One opened checkpoint: its store, root path, and a display name for errors.
#[derive(Clone)]
pub struct Checkpoint {
    store: Arc<dyn ObjectStore>,
    root: Path,
    display: String,
    /// The directory of a local checkpoint: a local store lists a missing or broken
    /// directory as empty, which would read as "no batch yet" instead of an error.
    local: Option<std::path::PathBuf>,
}

/// The store's own Debug shows the access key id: print only the location.
impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("location", &self.display)
            .finish_non_exhaustive()
    }
}

impl Checkpoint {
    /// Opens a checkpoint without touching it (a checkpoint that does not exist yet is
    /// an error of each poll, not of startup). `timeout` bounds each request.
    pub fn open(
        checkpoint: &str,
        s3: Option<&S3Config>,
        env: EnvLookup<'_>,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let loc_err = |message: String| StoreError::Location {
            checkpoint: checkpoint.to_owned(),
            message,
        };
        let display = checkpoint.trim().trim_end_matches('/').to_owned();
        match parse_location(checkpoint).map_err(loc_err)? {
            Location::Local(dir) => {
                let root = Path::from_absolute_path(&dir).map_err(|e| loc_err(e.to_string()))?;
                Ok(Checkpoint {
                    store: Arc::new(LocalFileSystem::new()),
                    root,
                    display,
                    local: Some(dir),
                })
            }
            Location::S3 { bucket, prefix } => {
                let root = Path::parse(&prefix).map_err(|e| loc_err(e.to_string()))?;
                let st = resolve_s3(s3, env);
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(st.region)
                    .with_allow_http(st.allow_http)
                    .with_client_options(
                        ClientOptions::new()
                            .with_timeout(timeout)
                            .with_connect_timeout(timeout.min(Duration::from_secs(5)))
                            .with_allow_http(st.allow_http),
                    )
                    // A poll has its own deadline; the default retries last minutes.
                    .with_retry(RetryConfig {
                        backoff: BackoffConfig::default(),
                        max_retries: 2,
                        retry_timeout: timeout,
                    });
                if let Some(e) = st.endpoint {
                    b = b.with_endpoint(e);
                }
                if let Some(k) = st.access_key_id {
                    b = b.with_access_key_id(k);
                }
                if let Some(k) = st.secret_access_key {
                    b = b.with_secret_access_key(k);
                }
                if let Some(t) = st.session_token {
                    b = b.with_token(t);
                }
                let store = b.build().map_err(|source| StoreError::Build {
                    checkpoint: checkpoint.to_owned(),
                    source,
                })?;
                Ok(Checkpoint {
                    store: Arc::new(store),
                    root,
                    display,
                    local: None,
                })
            }
        }
    }

    /// For a local checkpoint: the root must be a directory, and `offsets/` and `commits/`
    /// directories when they exist (a query that planned nothing yet has neither).
    pub async fn check_local(&self) -> Result<(), StoreError> {
        let Some(root) = &self.local else {
            return Ok(());
        };
        let bad = |what: String, problem: String| StoreError::NotADirectory { what, problem };
        match tokio::fs::metadata(root).await {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(bad(
                    self.display.clone(),
                    "is a file, not a directory".into(),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad(self.display.clone(), "no such directory".into()))
            }
            Err(e) => return Err(bad(self.display.clone(), e.to_string())),
        }
        for dir in ["offsets", "commits"] {
            let what = || format!("{}/{dir}", self.display);
            match tokio::fs::metadata(root.join(dir)).await {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(bad(what(), "is a file, not a directory".into())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(bad(what(), e.to_string())),
            }
        }
        Ok(())
    }

    /// `<checkpoint>/<dir>/<name>` for messages.
    pub fn describe(&self, dir: &str, name: &str) -> String {
        format!("{}/{dir}/{name}", self.display)
    }

    /// The batch files of `dir` (`offsets`, `commits`, `sources/0`) by batch id; other files
    /// skipped.
    pub async fn list(&self, dir: &str) -> Result<BTreeMap<u64, ObjectMeta>, StoreError> {
        // One path segment per part: a joined "sources/0" would be escaped as one name.
        let prefix = dir
            .split('/')
            .fold(self.root.clone(), |path, part| path.join(part));
        let listed = self
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|source| StoreError::List {
                what: format!("{}/{dir}/", self.display),
                source,
            })?;
        Ok(listed
            .objects
            .into_iter()
            .filter_map(|m| {
                let id = m.location.filename().and_then(super::parse::batch_id)?;
                Some((id, m))
            })
            .collect())
    }

    /// Reads one listed file.
    pub async fn read(&self, dir: &str, meta: &ObjectMeta) -> Result<Vec<u8>, StoreError> {
        let what = self.describe(dir, meta.location.filename().unwrap_or_default());
        if meta.size > MAX_FILE_BYTES {
            return Err(StoreError::TooLarge {
                what,
                size: meta.size,
            });
        }
        let fetched = match self.store.get(&meta.location).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        match fetched {
            Ok(b) => Ok(b.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::Vanished { what }),
            Err(source) => Err(StoreError::Read { what, source }),
        }
    }

    /// Writes `<root>/<rel>`; for tests and tools that build checkpoints through the same store.
    pub async fn put(&self, rel: &str, data: Vec<u8>) -> Result<(), StoreError> {
        let mut p = self.root.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.join(part);
        }
        self.store
            .put(&p, PutPayload::from(data))
            .await
            .map(|_| ())
            .map_err(|source| StoreError::Write {
                what: format!("{}/{rel}", self.display),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let s3 = |b: &str, p: &str| {
            Ok(Location::S3 {
                bucket: b.into(),
                prefix: p.into(),
            })
        };
        // (input, expected); each row says why.
        let rows: Vec<(&str, Result<Location, ()>)> = vec![
            ("s3://bkt/ckpt/q1", s3("bkt", "ckpt/q1")),   // plain s3
            ("s3a://bkt/ckpt/q1/", s3("bkt", "ckpt/q1")), // Hadoop's s3a, trailing slash
            ("s3://bkt", s3("bkt", "")),                  // checkpoint at the bucket root
            ("s3:///x", Err(())),                         // no bucket
            ("gs://bkt/x", Err(())),                      // unsupported store
            ("file:///tmp/ck", Ok(Location::Local("/tmp/ck".into()))), // file URL
            ("/tmp/ck", Ok(Location::Local("/tmp/ck".into()))), // plain absolute path
            ("", Err(())),                                // nothing configured
        ];
        for (input, want) in rows {
            assert_eq!(parse_location(input).map_err(|_| ()), want, "{input}");
        }
        // Relative paths resolve against the working directory.
        assert!(matches!(parse_location("ck"), Ok(Location::Local(p)) if p.is_absolute()));
    }

    #[test]
    fn s3_settings_fall_back_to_env_and_hide_secrets() {
        let env = |k: &str| {
            match k {
                "AWS_ACCESS_KEY_ID" => Some("envkey"),
                "AWS_SECRET_ACCESS_KEY" => Some("envsecret"),
                "AWS_SESSION_TOKEN" => Some("envtoken"),
                "AWS_REGION" => Some("eu-west-1"),
                "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9000"),
                _ => None,
            }
            .map(str::to_owned)
        };
        // Nothing in config: everything from env.
        let s = resolve_s3(None, &env);
        assert_eq!(s.access_key_id.as_deref(), Some("envkey"));
        assert_eq!(s.secret_access_key.as_deref(), Some("envsecret"));
        assert_eq!(s.session_token.as_deref(), Some("envtoken"));
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        // Config credentials win as a pair; the env token does not leak into them.
        let cfg = S3Config {
            endpoint: Some("http://minio:9000".into()),
            region: None,
            access_key_id: Some("cfgkey".into()),
            secret_access_key: Some("cfgsecret".into()),
            allow_http: true,
        };
        let s = resolve_s3(Some(&cfg), &env);
        assert_eq!(s.access_key_id.as_deref(), Some("cfgkey"));
        assert_eq!(s.secret_access_key.as_deref(), Some("cfgsecret"));
        assert_eq!(s.session_token, None);
        assert_eq!(s.endpoint.as_deref(), Some("http://minio:9000"));
        assert!(s.allow_http);
        // No region anywhere: us-east-1, what S3-compatible servers expect by default.
        assert_eq!(resolve_s3(None, &|_| None).region, "us-east-1");
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("cfgsecret") && !dbg.contains("cfgkey"),
            "{dbg}"
        );
    }
}
