//! The user and group registry: seeded from the configuration, changed at run
//! time through the management API (`/api/v1/users`, `/api/v1/groups`), read by
//! every flow. Users are replaced whole (`Arc<User>`), so a flow holding one
//! sees a consistent user while an admin call changes the next.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::UserConfig;
use crate::secret::Secret;

/// Okta's user statuses (the lifecycle the management API moves users through).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staged => "STAGED",
            Self::Provisioned => "PROVISIONED",
            Self::Active => "ACTIVE",
            Self::Recovery => "RECOVERY",
            Self::PasswordExpired => "PASSWORD_EXPIRED",
            Self::LockedOut => "LOCKED_OUT",
            Self::Suspended => "SUSPENDED",
            Self::Deprovisioned => "DEPROVISIONED",
        }
    }
}

/// A user: who can log in (when `ACTIVE`), with what, and in which groups.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub login: String,
    /// None for a user created without credentials (until one is set).
    pub password: Option<Secret>,
    /// Group names, as the `groups` claim carries them.
    pub groups: Vec<String>,
    /// Okta profile attributes other than `login`.
    pub profile: Map<String, Value>,
    pub status: UserStatus,
    pub created: i64,
    pub activated: Option<i64>,
    pub status_changed: Option<i64>,
    pub last_login: Option<i64>,
    pub last_updated: i64,
    pub password_changed: Option<i64>,
    /// Wrong passwords since the last good one (the lockout counter).
    pub failed_logins: u32,
    /// When the password expires (authn warns before, with
    /// `warnBeforePasswordExpired`, and treats it as expired from then on).
    pub password_expires_at: Option<i64>,
}

/// Okta's default password policy, as the mock enforces it on new passwords.
pub const PASSWORD_REQUIREMENTS: &str = "Password requirements: at least 8 characters, a lowercase letter, an uppercase letter, a number, no parts of your username.";

/// Whether a new password meets the default password policy for this login.
pub fn meets_password_policy(password: &str, login: &str) -> bool {
    let local = login.split('@').next().unwrap_or(login).to_lowercase();
    password.chars().count() >= 8
        && password.chars().any(char::is_lowercase)
        && password.chars().any(char::is_uppercase)
        && password.chars().any(|c| c.is_ascii_digit())
        && (local.len() < 3 || !password.to_lowercase().contains(&local))
}

/// Why a user's own password change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChangeError {
    /// The old password does not match, or the user may not change it now.
    OldPasswordIncorrect,
    /// The new password fails the password policy.
    Policy,
}

impl User {
    pub(crate) fn from_config(config: &UserConfig, now: i64) -> Self {
        let id = config
            .id
            .clone()
            .unwrap_or_else(|| crate::state::derived_id("00u", &config.login.to_lowercase()));
        let profile = config
            .profile
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
            .collect();
        Self {
            id,
            login: config.login.clone(),
            password: Some(config.password.clone()),
            groups: config.groups.clone(),
            profile,
            status: if config.password_expired {
                UserStatus::PasswordExpired
            } else {
                UserStatus::Active
            },
            created: now,
            activated: Some(now),
            status_changed: Some(now),
            last_login: None,
            last_updated: now,
            password_changed: Some(now),
            failed_logins: 0,
            password_expires_at: config
                .password_expires_in_days
                .map(|days| now + i64::from(days) * 86_400),
        }
    }

    /// Whether the password has expired: by an admin (`PASSWORD_EXPIRED`) or by time.
    pub fn password_expired(&self, now: i64) -> bool {
        self.status == UserStatus::PasswordExpired
            || self.password_expires_at.is_some_and(|at| at <= now)
    }

    /// The user's own change (management `change_password`, authn): the old
    /// password must match and the new one meet the policy; the user is then
    /// `ACTIVE` with a password that does not expire.
    pub fn change_password(
        &mut self,
        old: &str,
        new: &str,
        now: i64,
    ) -> Result<(), PasswordChangeError> {
        let old_matches = self.password.as_ref().is_some_and(|p| p.matches(old));
        if !old_matches
            || !matches!(
                self.status,
                UserStatus::Active | UserStatus::PasswordExpired
            )
        {
            return Err(PasswordChangeError::OldPasswordIncorrect);
        }
        if !meets_password_policy(new, &self.login) {
            return Err(PasswordChangeError::Policy);
        }
        self.password = Some(Secret::new(new));
        self.password_changed = Some(now);
        self.password_expires_at = None;
        if self.status != UserStatus::Active {
            self.status = UserStatus::Active;
            self.status_changed = Some(now);
        }
        Ok(())
    }

    /// `LOCKED_OUT` → `ACTIVE` with the failure count cleared (admin, control
    /// API or auto-unlock alike).
    pub fn unlock(&mut self, now: i64) {
        self.status = UserStatus::Active;
        self.status_changed = Some(now);
        self.failed_logins = 0;
    }

    pub fn profile_str(&self, name: &str) -> Option<&str> {
        self.profile.get(name).and_then(Value::as_str)
    }

    /// Only active users sign in (Okta answers others as a failed authentication).
    pub fn can_sign_in(&self) -> bool {
        self.status == UserStatus::Active
    }

    pub fn in_group(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g.eq_ignore_ascii_case(name))
    }
}

/// A group (`00g…`): members are the users whose `groups` name it.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `BUILT_IN` for Everyone, `OKTA_GROUP` otherwise.
    pub built_in: bool,
    pub created: i64,
    pub last_updated: i64,
    pub last_membership_updated: i64,
}

/// Users by id (ordered: the paging cursor), logins to ids, groups by id.
#[derive(Debug, Default)]
pub struct Directory {
    users: BTreeMap<String, Arc<User>>,
    logins: HashMap<String, String>,
    groups: BTreeMap<String, Arc<Group>>,
}

/// Why a directory change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    /// A field that must be unique already names another object.
    Taken(&'static str),
    UnknownUser,
    UnknownGroup,
    /// Okta's built-in group cannot be changed.
    BuiltIn,
}

impl Directory {
    /// The directory the configuration describes; every group a user names exists.
    pub fn seeded(users: &[UserConfig], now: i64) -> Self {
        let mut directory = Self::default();
        for user in users {
            let user = User::from_config(user, now);
            for name in &user.groups {
                directory.ensure_group(name, now);
            }
            directory
                .logins
                .insert(user.login.to_lowercase(), user.id.clone());
            directory.users.insert(user.id.clone(), Arc::new(user));
        }
        directory
    }

    fn ensure_group(&mut self, name: &str, now: i64) {
        if self.group_by_name(name).is_none() {
            let group = Group {
                id: crate::state::derived_id("00g", &name.to_lowercase()),
                name: name.to_owned(),
                description: None,
                built_in: name == "Everyone",
                created: now,
                last_updated: now,
                last_membership_updated: now,
            };
            self.groups.insert(group.id.clone(), Arc::new(group));
        }
    }

    pub fn user(&self, id: &str) -> Option<&Arc<User>> {
        self.users.get(id)
    }

    pub fn user_by_login(&self, login: &str) -> Option<&Arc<User>> {
        self.users.get(self.logins.get(&login.to_lowercase())?)
    }

    /// A user by id or, as Okta's `GET /users/{idOrLogin}`, by login.
    pub fn user_by_id_or_login(&self, key: &str) -> Option<&Arc<User>> {
        self.user(key).or_else(|| self.user_by_login(key))
    }

    /// Users in id order, starting after the cursor.
    pub fn users_after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a Arc<User>> {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        self.users
            .range::<String, _>((start, Bound::Unbounded))
            .map(|(_, u)| u)
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Adds or replaces a user (same id); the login must stay unique.
    pub fn put_user(&mut self, user: User) -> Result<Arc<User>, DirectoryError> {
        let login = user.login.to_lowercase();
        if self.logins.get(&login).is_some_and(|id| *id != user.id) {
            return Err(DirectoryError::Taken("login"));
        }
        if let Some(old) = self.users.get(&user.id)
            && old.login.to_lowercase() != login
        {
            self.logins.remove(&old.login.to_lowercase());
        }
        let user = Arc::new(user);
        self.logins.insert(login, user.id.clone());
        self.users.insert(user.id.clone(), user.clone());
        Ok(user)
    }

    pub fn remove_user(&mut self, id: &str) -> Option<Arc<User>> {
        let user = self.users.remove(id)?;
        self.logins.remove(&user.login.to_lowercase());
        Some(user)
    }

    pub fn group(&self, id: &str) -> Option<&Arc<Group>> {
        self.groups.get(id)
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Arc<Group>> {
        self.groups
            .values()
            .find(|g| g.name.eq_ignore_ascii_case(name))
    }

    pub fn groups_after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a Arc<Group>> {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        self.groups
            .range::<String, _>((start, Bound::Unbounded))
            .map(|(_, g)| g)
    }

    /// Adds a group or replaces one (same id), renaming it in its members.
    pub fn put_group(&mut self, group: Group) -> Result<Arc<Group>, DirectoryError> {
        if self
            .group_by_name(&group.name)
            .is_some_and(|other| other.id != group.id)
        {
            return Err(DirectoryError::Taken("name"));
        }
        if let Some(old) = self.groups.get(&group.id).cloned() {
            if old.built_in {
                return Err(DirectoryError::BuiltIn);
            }
            if old.name != group.name {
                self.rewrite_memberships(|groups| {
                    for name in groups.iter_mut() {
                        if name.eq_ignore_ascii_case(&old.name) {
                            name.clone_from(&group.name);
                        }
                    }
                });
            }
        }
        let group = Arc::new(group);
        self.groups.insert(group.id.clone(), group.clone());
        Ok(group)
    }

    /// Deletes a group; its members leave it.
    pub fn remove_group(&mut self, id: &str) -> Result<Arc<Group>, DirectoryError> {
        let group = self.groups.get(id).ok_or(DirectoryError::UnknownGroup)?;
        if group.built_in {
            return Err(DirectoryError::BuiltIn);
        }
        let group = self.groups.remove(id).ok_or(DirectoryError::UnknownGroup)?;
        self.rewrite_memberships(|groups| groups.retain(|g| !g.eq_ignore_ascii_case(&group.name)));
        Ok(group)
    }

    /// Every user of a group, in id order.
    pub fn members<'a>(&'a self, group: &'a Group) -> impl Iterator<Item = &'a Arc<User>> {
        self.users.values().filter(|u| u.in_group(&group.name))
    }

    /// The groups of a user, in id order.
    pub fn groups_of<'a>(&'a self, user: &'a User) -> impl Iterator<Item = &'a Arc<Group>> {
        self.groups.values().filter(|g| user.in_group(&g.name))
    }

    /// Adds (`member` true) or removes a user from a group; idempotent, as Okta's PUT/DELETE.
    pub fn set_membership(
        &mut self,
        group_id: &str,
        user_id: &str,
        member: bool,
        now: i64,
    ) -> Result<(), DirectoryError> {
        let group = self
            .groups
            .get(group_id)
            .ok_or(DirectoryError::UnknownGroup)?;
        let user = self.users.get(user_id).ok_or(DirectoryError::UnknownUser)?;
        if group.built_in {
            return Err(DirectoryError::BuiltIn);
        }
        if user.in_group(&group.name) == member {
            return Ok(());
        }
        let mut changed = User::clone(user);
        if member {
            changed.groups.push(group.name.clone());
        } else {
            changed
                .groups
                .retain(|g| !g.eq_ignore_ascii_case(&group.name));
        }
        let mut group = Group::clone(group);
        group.last_membership_updated = now;
        self.users.insert(changed.id.clone(), Arc::new(changed));
        self.groups.insert(group.id.clone(), Arc::new(group));
        Ok(())
    }

    fn rewrite_memberships(&mut self, mut change: impl FnMut(&mut Vec<String>)) {
        for user in self.users.values_mut() {
            let mut groups = user.groups.clone();
            change(&mut groups);
            if groups != user.groups {
                let mut changed = User::clone(user);
                changed.groups = groups;
                *user = Arc::new(changed);
            }
        }
    }
}
