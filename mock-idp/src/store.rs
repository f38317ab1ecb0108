//! What the server remembers between requests: revoked tokens, used
//! client-assertion ids, authorization codes, refresh tokens, browser
//! sessions, authn `sessionToken`s and pending logins. Entries carry their
//! expiry (read from the server's clock by the callers) and are purged lazily.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ids;

#[derive(Debug, Default)]
pub struct Store {
    /// Revoked access-token `jti`s, with the token's `exp`.
    revoked: Mutex<HashMap<String, i64>>,
    /// `jti`s of client assertions already used, with the assertion's `exp`.
    used_assertions: Mutex<HashMap<String, i64>>,
    codes: Mutex<HashMap<String, CodeEntry>>,
    refresh: Mutex<RefreshStore>,
    sessions: Mutex<HashMap<String, Session>>,
    session_tokens: Mutex<HashMap<String, (String, i64)>>,
    /// Authn transactions waiting for the user's next step, by stateToken.
    authn_transactions: Mutex<HashMap<String, AuthnTransaction>>,
    logins: Mutex<HashMap<String, PendingLogin>>,
    /// Clients deleted through the API: the tokens issued to them are no longer active.
    deleted_clients: Mutex<std::collections::HashSet<String>>,
    /// Device authorizations (RFC 8628) waiting for a user or a poll.
    pub devices: crate::device::DeviceGrants,
    /// Pushed authorization requests (RFC 9126) by `request_uri`, each used once.
    pushed: Mutex<HashMap<String, PushedRequest>>,
    /// DPoP nonces handed out, with their expiry.
    dpop_nonces: Mutex<HashMap<String, i64>>,
}

/// An authn transaction between steps (docs/okta-behaviour.md §11).
#[derive(Debug, Clone)]
pub struct AuthnTransaction {
    pub user_id: String,
    pub status: AuthnStatus,
    pub expires_at: i64,
}

/// The authn states that wait for the user (and so carry a stateToken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthnStatus {
    PasswordExpired,
    PasswordWarn,
}

impl AuthnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordExpired => "PASSWORD_EXPIRED",
            Self::PasswordWarn => "PASSWORD_WARN",
        }
    }
}

/// How long a DPoP nonce is accepted.
const DPOP_NONCE_LIFETIME: i64 = 300;

/// An authorize request pushed to `/v1/par`, waiting for the browser.
#[derive(Debug, Clone)]
pub struct PushedRequest {
    pub issuer: String,
    pub client_id: String,
    pub params: Vec<(String, String)>,
    pub expires_at: i64,
}

/// What an authorization code stands for (bound to client, redirect URI, PKCE).
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub auth_time: i64,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// The S256 `code_challenge`, when PKCE was used.
    pub code_challenge: Option<String>,
    /// The `acr` the login satisfied, for the ID token.
    pub acr: Option<String>,
    pub expires_at: i64,
}

/// Tokens issued from one grant (a code or a refresh family), so that they
/// can be revoked together.
#[derive(Debug, Clone, Default)]
pub struct Issued {
    /// `(jti, exp)` of access and ID tokens.
    pub tokens: Vec<(String, i64)>,
    pub refresh_family: Option<String>,
}

#[derive(Debug)]
struct CodeEntry {
    code: AuthorizationCode,
    /// Set on first redemption; a second one revokes these.
    redeemed: Option<Issued>,
}

/// Why a code cannot be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// Unknown, expired or issued by another server.
    Invalid,
    /// Issued to another client (the code stays usable by its own client).
    OtherClient,
    /// Already redeemed: what the first redemption issued is now revoked.
    Reused,
}

/// A refresh token's grant.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub issuer: String,
    pub client_id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub scopes: Vec<String>,
    pub family: String,
    /// The `acr` of the login, repeated in refreshed ID tokens.
    pub acr: Option<String>,
}

#[derive(Debug)]
struct RefreshEntry {
    grant: RefreshGrant,
    last_used: i64,
    /// When this token was rotated out (replaced by a newer one).
    rotated_at: Option<i64>,
}

#[derive(Debug, Default)]
struct RefreshStore {
    tokens: HashMap<String, RefreshEntry>,
    /// Access/ID tokens minted per family.
    families: HashMap<String, Vec<(String, i64)>>,
}

/// How a refresh token was used.
#[derive(Debug, Clone)]
pub struct RefreshUse {
    pub grant: RefreshGrant,
    /// The refresh token to return: a new one when rotating, else the same.
    pub refresh_token: String,
}

/// Why a refresh token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshProblem {
    /// Unknown, revoked, idle-expired or from another server.
    Invalid,
    OtherClient,
    /// A rotated-out token presented after the leeway: the family is revoked.
    Reused,
}

/// Refresh-token policy of the client using it.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    pub rotate: bool,
    pub leeway: i64,
    /// Idle window in seconds.
    pub window: i64,
}

/// A browser session (the `sid` cookie).
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// An authorize request waiting for the user to log in.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    /// The custom server id, or None for the org server.
    pub server: Option<String>,
    /// The authorize request's parameters, replayed after login.
    pub params: Vec<(String, String)>,
    /// The anti-CSRF token the login form and cookie must both carry.
    pub csrf: String,
    /// A device's user code to confirm after login (the verification page), instead
    /// of an authorize request.
    pub activate: Option<String>,
    /// `params` came from a pushed authorization request (RFC 9126).
    pub pushed: bool,
    pub expires_at: i64,
}

impl Store {
    /// Records a revoked token until its own expiry.
    pub fn revoke(&self, jti: &str, exp: i64, now: i64) {
        let mut revoked = lock(&self.revoked);
        revoked.retain(|_, exp| *exp > now);
        revoked.insert(jti.to_owned(), exp);
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        lock(&self.revoked).contains_key(jti)
    }

    /// Records that `client_id` was deleted (or, `deleted == false`, exists again).
    pub fn set_client_deleted(&self, client_id: &str, deleted: bool) {
        let mut clients = lock(&self.deleted_clients);
        if deleted {
            clients.insert(client_id.to_owned());
        } else {
            clients.remove(client_id);
        }
    }

    pub fn is_client_deleted(&self, client_id: &str) -> bool {
        lock(&self.deleted_clients).contains(client_id)
    }

    /// Records an assertion `jti`; false if it was already used and is still live.
    pub fn use_assertion(&self, key: &str, exp: i64, now: i64) -> bool {
        let mut used = lock(&self.used_assertions);
        used.retain(|_, exp| *exp > now);
        if used.contains_key(key) {
            return false;
        }
        used.insert(key.to_owned(), exp);
        true
    }
}

impl Store {
    /// Revokes access/ID tokens by `(jti, exp)`.
    pub fn revoke_all(&self, tokens: &[(String, i64)], now: i64) {
        let mut revoked = lock(&self.revoked);
        revoked.retain(|_, exp| *exp > now);
        for (jti, exp) in tokens {
            revoked.insert(jti.clone(), *exp);
        }
    }

    // ---- authorization codes ----

    /// Stores a code and returns its value (256 random bits).
    pub fn issue_code(&self, code: AuthorizationCode, now: i64) -> String {
        let value = ids::random_token();
        let mut codes = lock(&self.codes);
        // Redeemed codes are kept for an hour past expiry so that a late
        // replay still revokes what the first redemption issued.
        codes.retain(|_, entry| entry.code.expires_at + 3600 > now);
        codes.insert(
            value.clone(),
            CodeEntry {
                code,
                redeemed: None,
            },
        );
        value
    }

    /// Redeems a code once. A second redemption fails and revokes what the
    /// first one issued.
    pub fn redeem_code(
        &self,
        value: &str,
        issuer: &str,
        client_id: &str,
        now: i64,
    ) -> Result<AuthorizationCode, CodeProblem> {
        let mut codes = lock(&self.codes);
        let entry = codes.get_mut(value).ok_or(CodeProblem::Invalid)?;
        if entry.code.issuer != issuer {
            return Err(CodeProblem::Invalid);
        }
        if entry.code.client_id != client_id {
            return Err(CodeProblem::OtherClient);
        }
        if let Some(issued) = entry.redeemed.replace(Issued::default()) {
            drop(codes);
            self.revoke_all(&issued.tokens, now);
            if let Some(family) = &issued.refresh_family {
                self.revoke_family(family, now);
            }
            return Err(CodeProblem::Reused);
        }
        if entry.code.expires_at <= now {
            return Err(CodeProblem::Invalid);
        }
        entry.redeemed = Some(Issued::default());
        Ok(entry.code.clone())
    }

    /// Records what a redeemed code issued (for revocation on replay).
    pub fn record_code_issue(&self, value: &str, issued: Issued) {
        if let Some(entry) = lock(&self.codes).get_mut(value) {
            entry.redeemed = Some(issued);
        }
    }

    // ---- refresh tokens ----

    /// Starts a new refresh-token family; returns the token.
    pub fn issue_refresh_token(&self, mut grant: RefreshGrant, now: i64) -> String {
        grant.family = ids::random_token();
        let value = ids::random_token();
        let mut refresh = lock(&self.refresh);
        refresh.families.entry(grant.family.clone()).or_default();
        refresh.tokens.insert(
            value.clone(),
            RefreshEntry {
                grant,
                last_used: now,
                rotated_at: None,
            },
        );
        value
    }

    /// A refresh token's grant, without using it.
    pub fn peek_refresh_token(&self, value: &str) -> Option<RefreshGrant> {
        lock(&self.refresh)
            .tokens
            .get(value)
            .map(|e| e.grant.clone())
    }

    /// The family of a refresh token (to record what it issued).
    pub fn refresh_family(&self, value: &str) -> Option<String> {
        lock(&self.refresh)
            .tokens
            .get(value)
            .map(|e| e.grant.family.clone())
    }

    /// Uses a refresh token: checks client, idle window and rotation state;
    /// rotates it when the policy says so. A rotated-out token presented
    /// after the leeway revokes its whole family.
    pub fn use_refresh_token(
        &self,
        value: &str,
        issuer: &str,
        client_id: &str,
        policy: RefreshPolicy,
        now: i64,
    ) -> Result<RefreshUse, RefreshProblem> {
        let mut refresh = lock(&self.refresh);
        let entry = refresh
            .tokens
            .get_mut(value)
            .ok_or(RefreshProblem::Invalid)?;
        if entry.grant.issuer != issuer {
            return Err(RefreshProblem::Invalid);
        }
        if entry.grant.client_id != client_id {
            return Err(RefreshProblem::OtherClient);
        }
        if entry.last_used + policy.window <= now {
            refresh.tokens.remove(value);
            return Err(RefreshProblem::Invalid);
        }
        if let Some(rotated_at) = entry.rotated_at
            && rotated_at + policy.leeway < now
        {
            let family = entry.grant.family.clone();
            drop(refresh);
            self.revoke_family(&family, now);
            return Err(RefreshProblem::Reused);
        }
        entry.last_used = now;
        let grant = entry.grant.clone();
        if !policy.rotate {
            return Ok(RefreshUse {
                grant,
                refresh_token: value.to_owned(),
            });
        }
        entry.rotated_at.get_or_insert(now);
        let next = ids::random_token();
        refresh.tokens.insert(
            next.clone(),
            RefreshEntry {
                grant: grant.clone(),
                last_used: now,
                rotated_at: None,
            },
        );
        Ok(RefreshUse {
            grant,
            refresh_token: next,
        })
    }

    /// Records an access/ID token minted for a refresh family.
    pub fn record_family_token(&self, family: &str, jti: &str, exp: i64) {
        lock(&self.refresh)
            .families
            .entry(family.to_owned())
            .or_default()
            .push((jti.to_owned(), exp));
    }

    /// Revokes every refresh token of a family and the tokens minted for it.
    pub fn revoke_family(&self, family: &str, now: i64) {
        let mut refresh = lock(&self.refresh);
        refresh.tokens.retain(|_, e| e.grant.family != family);
        let tokens = refresh.families.remove(family).unwrap_or_default();
        drop(refresh);
        self.revoke_all(&tokens, now);
    }

    /// An active refresh token's grant and its (idle) expiry, for
    /// introspection and revocation.
    pub fn refresh_token_info(
        &self,
        value: &str,
        leeway_of: impl Fn(&str) -> i64,
        window: i64,
        now: i64,
    ) -> Option<(RefreshGrant, i64)> {
        let refresh = lock(&self.refresh);
        let entry = refresh.tokens.get(value)?;
        let exp = entry.last_used + window;
        if exp <= now {
            return None;
        }
        if let Some(rotated_at) = entry.rotated_at
            && rotated_at + leeway_of(&entry.grant.client_id) < now
        {
            return None;
        }
        Some((entry.grant.clone(), exp))
    }

    // ---- browser sessions ----

    pub fn create_session(&self, session: Session, now: i64) -> String {
        let sid = ids::random_token();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.expires_at > now);
        sessions.insert(sid.clone(), session);
        sid
    }

    pub fn session(&self, sid: &str, now: i64) -> Option<Session> {
        lock(&self.sessions)
            .get(sid)
            .filter(|s| s.expires_at > now)
            .cloned()
    }

    /// Live sessions (for inspection; the `sid` values are credentials and stay out).
    pub fn live_sessions(&self, now: i64) -> Vec<Session> {
        lock(&self.sessions)
            .values()
            .filter(|s| s.expires_at > now)
            .cloned()
            .collect()
    }

    /// Moves a live session's end to `expires_at`.
    pub fn refresh_session(&self, sid: &str, expires_at: i64, now: i64) -> Option<Session> {
        let mut sessions = lock(&self.sessions);
        let session = sessions.get_mut(sid).filter(|s| s.expires_at > now)?;
        session.expires_at = expires_at;
        Some(session.clone())
    }

    pub fn end_session(&self, sid: &str) -> Option<Session> {
        lock(&self.sessions).remove(sid)
    }

    /// Ends every browser session of a user (an admin's `DELETE
    /// /api/v1/users/{id}/sessions`, or a user who may no longer sign in).
    pub fn end_sessions_of(&self, user_id: &str) {
        lock(&self.sessions).retain(|_, s| s.user_id != user_id);
    }

    /// Universal Logout: ends every session of the user and revokes every refresh-token
    /// family issued to them (with the access and ID tokens minted in it).
    pub fn log_user_out_everywhere(&self, user_id: &str, now: i64) {
        self.end_sessions_of(user_id);
        let families: std::collections::HashSet<String> = lock(&self.refresh)
            .tokens
            .values()
            .filter(|e| e.grant.user_id == user_id)
            .map(|e| e.grant.family.clone())
            .collect();
        for family in families {
            self.revoke_family(&family, now);
        }
    }

    // ---- authn sessionTokens ----

    pub fn issue_session_token(&self, user_id: &str, expires_at: i64, now: i64) -> String {
        let token = ids::random_token();
        let mut tokens = lock(&self.session_tokens);
        tokens.retain(|_, (_, exp)| *exp > now);
        tokens.insert(token.clone(), (user_id.to_owned(), expires_at));
        token
    }

    /// Consumes a sessionToken: single use, and only before it expires.
    pub fn take_session_token(&self, token: &str, now: i64) -> Option<String> {
        let (user_id, exp) = lock(&self.session_tokens).remove(token)?;
        (exp > now).then_some(user_id)
    }

    // ---- authn transactions (stateTokens) ----

    /// Starts a transaction; returns its stateToken (`00` + 40 alphanumerics, Okta's shape).
    pub fn start_authn(&self, transaction: AuthnTransaction, now: i64) -> String {
        let token = format!("00{}", ids::random_alphanumeric(40));
        let mut transactions = lock(&self.authn_transactions);
        transactions.retain(|_, t| t.expires_at > now);
        transactions.insert(token.clone(), transaction);
        token
    }

    /// The live transaction a stateToken names.
    pub fn authn_transaction(&self, token: &str, now: i64) -> Option<AuthnTransaction> {
        lock(&self.authn_transactions)
            .get(token)
            .filter(|t| t.expires_at > now)
            .cloned()
    }

    /// Ends a transaction (completed or cancelled); whether it was live.
    pub fn end_authn(&self, token: &str, now: i64) -> bool {
        lock(&self.authn_transactions)
            .remove(token)
            .is_some_and(|t| t.expires_at > now)
    }

    // ---- pushed authorization requests ----

    /// Stores a pushed request; returns its `request_uri` (`urn:okta:…`).
    pub fn push_request(&self, request: PushedRequest, now: i64) -> String {
        let uri = format!("urn:okta:{}", ids::random_token());
        let mut pushed = lock(&self.pushed);
        pushed.retain(|_, r| r.expires_at > now);
        pushed.insert(uri.clone(), request);
        uri
    }

    /// Takes (once) the live pushed request `uri` names for this server and client.
    pub fn take_pushed_request(
        &self,
        uri: &str,
        issuer: &str,
        client_id: &str,
        now: i64,
    ) -> Option<PushedRequest> {
        let mut pushed = lock(&self.pushed);
        let found = pushed.get(uri)?;
        if found.issuer != issuer || found.client_id != client_id {
            return None;
        }
        pushed.remove(uri).filter(|r| r.expires_at > now)
    }

    // ---- DPoP nonces ----

    /// A new DPoP nonce, accepted for five minutes.
    pub fn issue_dpop_nonce(&self, now: i64) -> String {
        let nonce = ids::random_token();
        let mut nonces = lock(&self.dpop_nonces);
        nonces.retain(|_, exp| *exp > now);
        nonces.insert(nonce.clone(), now + DPOP_NONCE_LIFETIME);
        nonce
    }

    /// Spends a DPoP proof's `jti` (per key); false when it was used before.
    pub fn use_dpop_proof(&self, proof: &dpop::Proof, now: i64) -> bool {
        let key = format!("dpop\u{0}{}\u{0}{}", proof.jkt, proof.jti);
        self.use_assertion(&key, proof.iat + dpop::IAT_WINDOW, now)
    }

    pub fn is_dpop_nonce(&self, nonce: &str, now: i64) -> bool {
        lock(&self.dpop_nonces)
            .get(nonce)
            .is_some_and(|exp| *exp > now)
    }

    // ---- pending logins ----

    pub fn put_login(&self, login: PendingLogin, now: i64) -> String {
        let id = ids::random_token();
        let mut logins = lock(&self.logins);
        logins.retain(|_, l| l.expires_at > now);
        logins.insert(id.clone(), login);
        id
    }

    pub fn login(&self, id: &str, now: i64) -> Option<PendingLogin> {
        lock(&self.logins)
            .get(id)
            .filter(|l| l.expires_at > now)
            .cloned()
    }

    pub fn remove_login(&self, id: &str) {
        lock(&self.logins).remove(id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(expires_at: i64) -> AuthorizationCode {
        AuthorizationCode {
            issuer: "iss".into(),
            client_id: "client".into(),
            redirect_uri: "http://localhost/cb".into(),
            user_id: "00u1".into(),
            auth_time: 0,
            scopes: vec!["openid".into()],
            nonce: None,
            code_challenge: None,
            acr: None,
            expires_at,
        }
    }

    #[test]
    fn a_code_redeems_once_and_a_replay_revokes_what_it_issued() {
        let store = Store::default();
        let value = store.issue_code(code(300), 0);
        assert_eq!(
            store.redeem_code(&value, "iss", "other", 1).unwrap_err(),
            CodeProblem::OtherClient
        );
        assert_eq!(
            store
                .redeem_code(&value, "other-iss", "client", 1)
                .unwrap_err(),
            CodeProblem::Invalid
        );
        assert!(store.redeem_code(&value, "iss", "client", 1).is_ok());
        store.record_code_issue(
            &value,
            Issued {
                tokens: vec![("AT.1".into(), 3600)],
                refresh_family: None,
            },
        );
        assert_eq!(
            store.redeem_code(&value, "iss", "client", 2).unwrap_err(),
            CodeProblem::Reused
        );
        assert!(store.is_revoked("AT.1"));
        // A third attempt is still a replay, never a fresh redemption.
        assert_eq!(
            store.redeem_code(&value, "iss", "client", 3).unwrap_err(),
            CodeProblem::Reused
        );
    }

    #[test]
    fn an_expired_code_is_invalid() {
        let store = Store::default();
        let value = store.issue_code(code(300), 0);
        assert_eq!(
            store.redeem_code(&value, "iss", "client", 300).unwrap_err(),
            CodeProblem::Invalid
        );
    }

    #[test]
    fn rotation_keeps_the_old_token_for_the_leeway_then_revokes_the_family() {
        let store = Store::default();
        let grant = RefreshGrant {
            issuer: "iss".into(),
            client_id: "spa".into(),
            user_id: "00u1".into(),
            auth_time: 0,
            scopes: vec!["openid".into(), "offline_access".into()],
            family: String::new(),
            acr: None,
        };
        let policy = RefreshPolicy {
            rotate: true,
            leeway: 30,
            window: 3600,
        };
        let first = store.issue_refresh_token(grant, 0);
        let second = store
            .use_refresh_token(&first, "iss", "spa", policy, 10)
            .unwrap()
            .refresh_token;
        assert_ne!(first, second);
        let family = store.refresh_family(&second).unwrap();
        store.record_family_token(&family, "AT.2", 7200);
        assert!(
            store
                .use_refresh_token(&first, "iss", "spa", policy, 40)
                .is_ok()
        );
        assert_eq!(
            store
                .use_refresh_token(&first, "iss", "spa", policy, 41)
                .unwrap_err(),
            RefreshProblem::Reused
        );
        assert!(store.is_revoked("AT.2"));
        assert_eq!(
            store
                .use_refresh_token(&second, "iss", "spa", policy, 42)
                .unwrap_err(),
            RefreshProblem::Invalid
        );
    }

    #[test]
    fn session_tokens_are_single_use_and_expire() {
        let store = Store::default();
        let token = store.issue_session_token("00u1", 300, 0);
        assert_eq!(store.take_session_token(&token, 1).as_deref(), Some("00u1"));
        assert_eq!(store.take_session_token(&token, 2), None);
        let token = store.issue_session_token("00u1", 300, 0);
        assert_eq!(store.take_session_token(&token, 300), None);
    }
}
