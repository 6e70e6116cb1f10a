//! Where a Spark checkpoint lives, as written in the config: parsed while the file is read
//! so `validate` refuses a location `run` cannot open; the spark store opens it.

/// Where a checkpoint string points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (absolute).
    Local(std::path::PathBuf),
    /// An S3 bucket and key prefix (no leading or trailing `/`).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix of the checkpoint root.
        prefix: String,
    },
}

/// Parses a local path, `file://` URL, or `s3://` / `s3a://` URL.
pub fn parse_location(checkpoint: &str) -> Result<Location, String> {
    let s = checkpoint.trim();
    if let Some(rest) = s.strip_prefix("s3://").or_else(|| s.strip_prefix("s3a://")) {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err("no bucket name after s3://".into());
        }
        return Ok(Location::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        });
    }
    let path = match s.split_once("://") {
        Some(("file", p)) => p,
        Some((scheme, _)) => {
            return Err(format!(
                "unsupported scheme `{scheme}://` (use a path, file://, s3:// or s3a://)"
            ))
        }
        None => s,
    };
    if path.is_empty() {
        return Err("empty path".into());
    }
    std::path::absolute(path)
        .map(Location::Local)
        .map_err(|e| format!("cannot make the path absolute: {e}"))
}
