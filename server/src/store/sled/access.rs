//! [`AccessBackend`] on the sled store: three trees next to the tracking data (so backups
//! carry them). Changes are rare (administration), so each is flushed before it returns.
//!
//! | tree          | key                                   | value                   |
//! |---------------|---------------------------------------|-------------------------|
//! | `auth_users`  | user name                             | postcard `User`         |
//! | `auth_tokens` | token id                              | postcard `ApiToken`     |
//! | `auth_grants` | `e`/`m` · resource · 0x00 · user name | level code (one byte)   |

use crate::backend::AccessBackend;
use crate::domain::access::{ApiToken, Level, Resource, User};
use crate::error::{Result, TrackingError};
use crate::store::StoreError;

use super::Store;

fn store_err(e: sled::Error) -> TrackingError {
    StoreError::from(e).into()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| TrackingError::Corrupted(format!("{what}: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| TrackingError::storage("encoding a record", e))
}

/// The grant key's prefix of a resource (every user's grant on it follows).
fn resource_prefix(resource: &Resource) -> Vec<u8> {
    let (kind, name) = match resource {
        Resource::Experiment(id) => (b'e', id.as_str()),
        Resource::RegisteredModel(name) => (b'm', name.as_str()),
    };
    let mut key = Vec::with_capacity(name.len() + 2);
    key.push(kind);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key
}

fn grant_key(resource: &Resource, user: &str) -> Vec<u8> {
    let mut key = resource_prefix(resource);
    key.extend_from_slice(user.as_bytes());
    key
}

impl Store {
    fn flush_access(&self) -> Result<()> {
        self.inner.db.flush().map_err(store_err)?;
        Ok(())
    }
}

impl AccessBackend for Store {
    fn user(&self, name: &str) -> Result<Option<User>> {
        self.trees()
            .auth_users
            .get(name.as_bytes())
            .map_err(store_err)?
            .map(|v| decode(&v, "user record"))
            .transpose()
    }

    fn users(&self) -> Result<Vec<User>> {
        self.trees()
            .auth_users
            .iter()
            .map(|entry| {
                let (_, v) = entry.map_err(store_err)?;
                decode(&v, "user record")
            })
            .collect()
    }

    fn put_user(&self, user: &User) -> Result<()> {
        self.trees()
            .auth_users
            .insert(user.name.as_bytes(), encode(user)?)
            .map_err(store_err)?;
        self.flush_access()
    }

    fn delete_user(&self, name: &str) -> Result<bool> {
        let t = self.trees();
        let existed = t
            .auth_users
            .remove(name.as_bytes())
            .map_err(store_err)?
            .is_some();
        for token in self.tokens_of(name)? {
            t.auth_tokens
                .remove(token.id.as_bytes())
                .map_err(store_err)?;
        }
        // Grants end in 0x00 · name: scan them all (grants are few).
        let mut suffix = vec![0u8];
        suffix.extend_from_slice(name.as_bytes());
        for entry in t.auth_grants.iter() {
            let (k, _) = entry.map_err(store_err)?;
            if k.ends_with(&suffix) {
                t.auth_grants.remove(k).map_err(store_err)?;
            }
        }
        self.flush_access()?;
        Ok(existed)
    }

    fn token(&self, id: &str) -> Result<Option<ApiToken>> {
        self.trees()
            .auth_tokens
            .get(id.as_bytes())
            .map_err(store_err)?
            .map(|v| decode(&v, "token record"))
            .transpose()
    }

    fn tokens_of(&self, user: &str) -> Result<Vec<ApiToken>> {
        let mut out = Vec::new();
        for entry in self.trees().auth_tokens.iter() {
            let (_, v) = entry.map_err(store_err)?;
            let token: ApiToken = decode(&v, "token record")?;
            if token.user == user {
                out.push(token);
            }
        }
        Ok(out)
    }

    fn put_token(&self, token: &ApiToken) -> Result<()> {
        self.trees()
            .auth_tokens
            .insert(token.id.as_bytes(), encode(token)?)
            .map_err(store_err)?;
        self.flush_access()
    }

    fn delete_token(&self, id: &str) -> Result<bool> {
        let existed = self
            .trees()
            .auth_tokens
            .remove(id.as_bytes())
            .map_err(store_err)?
            .is_some();
        self.flush_access()?;
        Ok(existed)
    }

    fn grant(&self, resource: &Resource, user: &str) -> Result<Option<Level>> {
        let Some(v) = self
            .trees()
            .auth_grants
            .get(grant_key(resource, user))
            .map_err(store_err)?
        else {
            return Ok(None);
        };
        match v.first().copied().and_then(Level::from_code) {
            Some(level) => Ok(Some(level)),
            None => Err(TrackingError::Corrupted("grant record".into())),
        }
    }

    fn grants_on(&self, resource: &Resource) -> Result<Vec<(String, Level)>> {
        let prefix = resource_prefix(resource);
        self.trees()
            .auth_grants
            .scan_prefix(&prefix)
            .map(|entry| {
                let (k, v) = entry.map_err(store_err)?;
                let user = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                let level = v
                    .first()
                    .copied()
                    .and_then(Level::from_code)
                    .ok_or_else(|| TrackingError::Corrupted("grant record".into()))?;
                Ok((user, level))
            })
            .collect()
    }

    fn set_grant(&self, resource: &Resource, user: &str, level: Option<Level>) -> Result<()> {
        let key = grant_key(resource, user);
        let t = &self.trees().auth_grants;
        match level {
            Some(level) => t.insert(key, &[level.code()]).map(|_| ()),
            None => t.remove(key).map(|_| ()),
        }
        .map_err(store_err)?;
        self.flush_access()
    }
}
