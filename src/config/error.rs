//! What `validate`, `run` and SIGHUP print about a bad config: every problem, each with
//! file, line, column and field.

use std::fmt;

/// One problem in a config file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub file: String,
    /// 1-based line (0 when the file could not be read at all).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Dotted path of the field, e.g. `clusters[0].groups.include[1]`.
    pub field: String,
    /// What is wrong, never containing a secret value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            String::new()
        } else {
            format!(" {}:", self.field)
        };
        write!(
            f,
            "{}:{}:{}:{} {}",
            self.file, self.line, self.column, field, self.message
        )
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
