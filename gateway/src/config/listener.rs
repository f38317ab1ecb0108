//! The listeners' connection limits: `max_connections`, `max_connections_per_client`,
//! `[admin] max_connections`, and the descriptor budget they must fit in.

use super::{ConfigError, err};

/// The largest `max_connections`.
pub const MAX_CONNECTIONS: u64 = 1_000_000;

/// `max_connections_per_client` when unset: enough for a browser's or a busy service's pool,
/// a small share of the default `max_connections`, so one address (an IPv6 /64) cannot hold
/// the listener.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 128;

/// `[admin] max_connections` when unset: the admin API has few clients.
pub const DEFAULT_ADMIN_MAX_CONNECTIONS: usize = 32;

/// Descriptors kept for everything but client and upstream connections: the listeners, the
/// store, the authorization servers' clients, logs, certificate files.
pub const RESERVED_DESCRIPTORS: usize = 64;

/// The connection caps, checked against the process's open-file limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub admin_max_connections: Option<usize>,
}

/// The soft open-file limit (`ulimit -n`), as `/proc/self/limits` states it.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            match line.split_whitespace().nth(3)? {
                "unlimited" => Some(usize::MAX),
                n => n.parse::<usize>().ok(),
            }
        })
        .unwrap_or(1024)
}

/// One key's count in `1..=max`.
fn count(raw: Option<u64>, key: &str, max: u64) -> Result<Option<usize>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(n @ 1..=MAX_CONNECTIONS) if n <= max => Ok(Some(n as usize)),
        Some(_) => Err(err(key, format!("must be between 1 and {max}"))),
    }
}

impl Caps {
    /// Validates the raw keys. Every client connection may hold an upstream connection, so the
    /// budget is `2 × max_connections + [admin] max_connections + RESERVED_DESCRIPTORS`
    /// descriptors; unset, `max_connections` takes what is left of the open-file limit.
    pub(super) fn from_raw(
        max_connections: Option<u64>,
        per_client: Option<u64>,
        admin: Option<Option<u64>>,
    ) -> Result<Self, ConfigError> {
        Self::within(max_connections, per_client, admin, open_file_limit())
    }

    fn within(
        max_connections: Option<u64>,
        per_client: Option<u64>,
        admin: Option<Option<u64>>,
        limit: usize,
    ) -> Result<Self, ConfigError> {
        let admin_max_connections = match admin {
            None => None,
            Some(raw) => Some(
                count(raw, "admin.max_connections", MAX_CONNECTIONS)?
                    .unwrap_or(DEFAULT_ADMIN_MAX_CONNECTIONS),
            ),
        };
        let fixed = RESERVED_DESCRIPTORS + admin_max_connections.unwrap_or(0);
        let max_connections = match count(max_connections, "max_connections", MAX_CONNECTIONS)? {
            Some(n) => {
                let needed = n.saturating_mul(2).saturating_add(fixed);
                if needed > limit {
                    return Err(err(
                        "max_connections",
                        format!(
                            "{n} client connections (each with an upstream one), the admin \
                             API's and {RESERVED_DESCRIPTORS} reserved need {needed} file \
                             descriptors, but the open-file limit is {limit}: lower it, or \
                             raise the limit (ulimit -n, systemd's LimitNOFILE=)"
                        ),
                    ));
                }
                n
            }
            None => (limit.saturating_sub(fixed) / 2).clamp(1, MAX_CONNECTIONS as usize),
        };
        let max_connections_per_client = count(
            per_client,
            "max_connections_per_client",
            max_connections as u64,
        )?
        .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT.min(max_connections));
        Ok(Self {
            max_connections,
            max_connections_per_client,
            admin_max_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_caps_leave_room_for_upstream_and_admin_connections() {
        let c = Caps::within(None, None, Some(None), 1024).unwrap();
        assert_eq!(c.max_connections, (1024 - 64 - 32) / 2);
        assert_eq!(c.admin_max_connections, Some(32));
        assert_eq!(c.max_connections_per_client, 128);
        assert!(Caps::within(Some(464), None, Some(None), 1024).is_ok());
        let e = Caps::within(Some(465), None, Some(None), 1024).unwrap_err();
        assert_eq!(e.key, "max_connections");
        assert!(
            e.message.contains("open-file limit is 1024"),
            "{}",
            e.message
        );
        let e = Caps::within(Some(100), Some(101), None, 1024).unwrap_err();
        assert_eq!(e.key, "max_connections_per_client");
        let e = Caps::within(None, None, Some(Some(0)), 1024).unwrap_err();
        assert_eq!(e.key, "admin.max_connections");
        let c = Caps::within(None, None, None, 200).unwrap();
        assert_eq!((c.max_connections, c.max_connections_per_client), (68, 68));
    }
}
