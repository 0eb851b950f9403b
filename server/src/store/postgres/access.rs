//! [`AccessBackend`] on PostgreSQL: users, tokens and grants in three tables, each change
//! committed before it returns, so every replica sees it on the next request.

use futures::FutureExt;

use super::reads::{decode, encode};
use super::PgStore;
use crate::backend::AccessBackend;
use crate::domain::access::{ApiToken, Level, Resource, User};
use crate::error::{Result, TrackingError};

/// The `resource` column: `e:<experiment id>` or `m:<registered model name>`.
fn resource_key(resource: &Resource) -> String {
    match resource {
        Resource::Experiment(id) => format!("e:{id}"),
        Resource::RegisteredModel(name) => format!("m:{name}"),
    }
}

fn level(code: i16) -> Result<Level> {
    u8::try_from(code)
        .ok()
        .and_then(Level::from_code)
        .ok_or_else(|| TrackingError::Corrupted("grant record".into()))
}

impl AccessBackend for PgStore {
    fn user(&self, name: &str) -> Result<Option<User>> {
        let name = name.to_owned();
        self.read(move |c| {
            async move {
                c.query_opt("SELECT record FROM trackd_users WHERE name = $1", &[&name])
                    .await?
                    .map(|row| decode(row.get(0)))
                    .transpose()
            }
            .boxed()
        })
    }

    fn users(&self) -> Result<Vec<User>> {
        let mut users: Vec<User> = self.read(|c| {
            async move {
                c.query("SELECT record FROM trackd_users", &[])
                    .await?
                    .iter()
                    .map(|row| decode(row.get(0)))
                    .collect()
            }
            .boxed()
        })?;
        users.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(users)
    }

    fn put_user(&self, user: &User) -> Result<()> {
        let (name, record) = (user.name.clone(), encode(user));
        self.read(move |c| {
            async move {
                c.execute(
                    "INSERT INTO trackd_users (name, record) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET record = excluded.record",
                    &[&name, &record],
                )
                .await?;
                Ok(())
            }
            .boxed()
        })
    }

    fn delete_user(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.read(move |c| {
            async move {
                c.execute("DELETE FROM trackd_tokens WHERE user_name = $1", &[&name])
                    .await?;
                c.execute("DELETE FROM trackd_grants WHERE user_name = $1", &[&name])
                    .await?;
                let gone = c
                    .execute("DELETE FROM trackd_users WHERE name = $1", &[&name])
                    .await?;
                Ok(gone > 0)
            }
            .boxed()
        })
    }

    fn token(&self, id: &str) -> Result<Option<ApiToken>> {
        let id = id.to_owned();
        self.read(move |c| {
            async move {
                c.query_opt("SELECT record FROM trackd_tokens WHERE id = $1", &[&id])
                    .await?
                    .map(|row| decode(row.get(0)))
                    .transpose()
            }
            .boxed()
        })
    }

    fn tokens_of(&self, user: &str) -> Result<Vec<ApiToken>> {
        let user = user.to_owned();
        self.read(move |c| {
            async move {
                c.query(
                    "SELECT record FROM trackd_tokens WHERE user_name = $1 ORDER BY id",
                    &[&user],
                )
                .await?
                .iter()
                .map(|row| decode(row.get(0)))
                .collect()
            }
            .boxed()
        })
    }

    fn put_token(&self, token: &ApiToken) -> Result<()> {
        let (id, user, record) = (token.id.clone(), token.user.clone(), encode(token));
        self.read(move |c| {
            async move {
                c.execute(
                    "INSERT INTO trackd_tokens (id, user_name, record) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, \
                     record = excluded.record",
                    &[&id, &user, &record],
                )
                .await?;
                Ok(())
            }
            .boxed()
        })
    }

    fn delete_token(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.read(move |c| {
            async move {
                let gone = c
                    .execute("DELETE FROM trackd_tokens WHERE id = $1", &[&id])
                    .await?;
                Ok(gone > 0)
            }
            .boxed()
        })
    }

    fn grant(&self, resource: &Resource, user: &str) -> Result<Option<Level>> {
        let (resource, user) = (resource_key(resource), user.to_owned());
        self.read(move |c| {
            async move {
                c.query_opt(
                    "SELECT level FROM trackd_grants WHERE resource = $1 AND user_name = $2",
                    &[&resource, &user],
                )
                .await?
                .map(|row| level(row.get(0)))
                .transpose()
            }
            .boxed()
        })
    }

    fn grants_on(&self, resource: &Resource) -> Result<Vec<(String, Level)>> {
        let resource = resource_key(resource);
        let mut grants: Vec<(String, Level)> = self.read(move |c| {
            async move {
                c.query(
                    "SELECT user_name, level FROM trackd_grants WHERE resource = $1",
                    &[&resource],
                )
                .await?
                .iter()
                .map(|row| Ok((row.get::<_, String>(0), level(row.get(1))?)))
                .collect()
            }
            .boxed()
        })?;
        grants.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Ok(grants)
    }

    fn set_grant(&self, resource: &Resource, user: &str, level: Option<Level>) -> Result<()> {
        let (resource, user) = (resource_key(resource), user.to_owned());
        let code = level.map(|l| i16::from(l.code()));
        self.read(move |c| {
            async move {
                match code {
                    Some(code) => {
                        c.execute(
                            "INSERT INTO trackd_grants (resource, user_name, level) \
                             VALUES ($1, $2, $3) ON CONFLICT (resource, user_name) \
                             DO UPDATE SET level = excluded.level",
                            &[&resource, &user, &code],
                        )
                        .await?
                    }
                    None => {
                        c.execute(
                            "DELETE FROM trackd_grants WHERE resource = $1 AND user_name = $2",
                            &[&resource, &user],
                        )
                        .await?
                    }
                };
                Ok(())
            }
            .boxed()
        })
    }
}
