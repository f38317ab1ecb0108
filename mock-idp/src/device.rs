//! Device authorization (RFC 8628) as Okta runs it: a pending grant per
//! `device_code`, found by its `user_code` on the verification page, approved
//! or denied by a signed-in user (or the control API), polled for by the device.
//! Every time comes from the mock clock.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ids;

/// The grant type the token endpoint polls with.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Okta's device and user codes live 10 minutes.
pub const LIFETIME: i64 = 600;
/// Okta's polling interval, and what `slow_down` adds to it (RFC 8628 §3.5).
pub const INTERVAL: i64 = 5;

/// What the user decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Pending,
    Approved { user_id: String, auth_time: i64 },
    Denied,
}

/// One device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGrant {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub user_code: String,
    pub expires_at: i64,
    /// Seconds the device must wait between polls; grows by [`INTERVAL`] on `slow_down`.
    pub interval: i64,
    pub last_poll: Option<i64>,
    pub decision: Decision,
}

/// What a poll of the token endpoint finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// Unknown, for another client or server, or already redeemed.
    Invalid,
    Expired,
    SlowDown,
    Pending,
    Denied,
    /// Approved: the grant is used up now.
    Approved(DeviceGrant),
}

/// The pending device grants, by `device_code`.
#[derive(Debug, Default)]
pub struct DeviceGrants {
    grants: Mutex<HashMap<String, DeviceGrant>>,
}

/// A user code as typed: case, spaces and dashes do not matter (RFC 8628 §6.1).
pub fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DeviceGrants {
    /// Starts a grant; returns `(device_code, user_code)`.
    pub fn start(
        &self,
        issuer: &str,
        client_id: &str,
        scopes: Vec<String>,
        now: i64,
    ) -> (String, String) {
        let mut grants = lock(&self.grants);
        grants.retain(|_, g| g.expires_at > now);
        let user_code = loop {
            let code = ids::user_code();
            if !grants.values().any(|g| g.user_code == code) {
                break code;
            }
        };
        let device_code = ids::uuid_v4();
        grants.insert(
            device_code.clone(),
            DeviceGrant {
                issuer: issuer.to_owned(),
                client_id: client_id.to_owned(),
                scopes,
                user_code: user_code.clone(),
                expires_at: now + LIFETIME,
                interval: INTERVAL,
                last_poll: None,
                decision: Decision::Pending,
            },
        );
        (device_code, user_code)
    }

    /// The live, undecided grant a user code names.
    pub fn pending_by_user_code(&self, user_code: &str, now: i64) -> Option<DeviceGrant> {
        let code = normalize_user_code(user_code);
        lock(&self.grants)
            .values()
            .find(|g| g.user_code == code && g.expires_at > now && g.decision == Decision::Pending)
            .cloned()
    }

    /// Records the user's decision; false when the code names no live, undecided grant.
    pub fn decide(&self, user_code: &str, decision: Decision, now: i64) -> bool {
        let code = normalize_user_code(user_code);
        lock(&self.grants)
            .values_mut()
            .find(|g| g.user_code == code && g.expires_at > now && g.decision == Decision::Pending)
            .map(|g| g.decision = decision)
            .is_some()
    }

    /// One poll by the device (RFC 8628 §3.4–3.5).
    pub fn poll(&self, device_code: &str, issuer: &str, client_id: &str, now: i64) -> Poll {
        let mut grants = lock(&self.grants);
        let Some(grant) = grants.get_mut(device_code) else {
            return Poll::Invalid;
        };
        if grant.issuer != issuer || grant.client_id != client_id {
            return Poll::Invalid;
        }
        if grant.expires_at <= now {
            grants.remove(device_code);
            return Poll::Expired;
        }
        let too_soon = grant
            .last_poll
            .is_some_and(|last| now - last < grant.interval);
        grant.last_poll = Some(now);
        if too_soon {
            grant.interval += INTERVAL;
            return Poll::SlowDown;
        }
        match grant.decision {
            Decision::Pending => Poll::Pending,
            Decision::Denied => {
                grants.remove(device_code);
                Poll::Denied
            }
            Decision::Approved { .. } => grants
                .remove(device_code)
                .map_or(Poll::Invalid, Poll::Approved),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_have_oktas_shape_and_typing_variants_find_them() {
        let grants = DeviceGrants::default();
        let (_, code) = grants.start("iss", "c", vec![], 1000);
        assert_eq!(code.len(), 8);
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_uppercase() && !b"AEIOUY".contains(&b)),
            "{code}"
        );
        let typed = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
        assert!(grants.pending_by_user_code(&typed, 1000).is_some());
        assert!(
            grants
                .pending_by_user_code(&code, 1000 + LIFETIME)
                .is_none()
        );
    }

    #[test]
    fn polling_faster_than_the_interval_slows_down_and_the_interval_grows() {
        let grants = DeviceGrants::default();
        let (device, _) = grants.start("iss", "c", vec![], 0);
        assert_eq!(grants.poll(&device, "iss", "c", 0), Poll::Pending);
        assert_eq!(grants.poll(&device, "iss", "c", 4), Poll::SlowDown);
        // The interval is 10 s now, counted from the last poll.
        assert_eq!(grants.poll(&device, "iss", "c", 13), Poll::SlowDown);
        assert_eq!(grants.poll(&device, "iss", "c", 28), Poll::Pending);
        assert_eq!(grants.poll(&device, "iss", "other", 60), Poll::Invalid);
        assert_eq!(grants.poll(&device, "iss", "c", LIFETIME), Poll::Expired);
        assert_eq!(
            grants.poll(&device, "iss", "c", LIFETIME + 60),
            Poll::Invalid
        );
    }
}
