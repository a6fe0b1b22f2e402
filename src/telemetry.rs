//! Logging: human-readable in development, one JSON object a line with `OVLT_LOG_FORMAT=json`.
//! `RUST_LOG` overrides the default filter. Logs go to stderr, so the output of CLI commands
//! (stdout) stays machine-readable.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn";

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colours only for a person at a terminal, not in a file, a pipe or a container's log.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // try_init: a second call (tests, embedding) keeps the first subscriber instead of panicking.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
}

/// A counter of the `metrics` facade whose handle is registered once, on first use, and kept:
/// for hot paths, where `metrics::counter!` would look the handle up on every call. The
/// recorder must be installed before the first use (the app installs it before serving).
macro_rules! cached_counter {
    ($name:literal $(, $label:literal => $value:literal)* $(,)?) => {{
        static COUNTER: std::sync::LazyLock<metrics::Counter> =
            std::sync::LazyLock::new(|| metrics::counter!($name $(, $label => $value)*));
        &*COUNTER
    }};
}
pub(crate) use cached_counter;
