//! A read-through cache of users in front of the repository.

use instrument_runtime::cache_lookup;
use quick_cache::sync::Cache;

use crate::db::User;

pub(crate) struct UserCache {
    users: Cache<i64, User>,
}

impl UserCache {
    pub(crate) fn new(capacity: usize) -> Self {
        UserCache {
            users: Cache::new(capacity),
        }
    }

    /// A hit or a miss in `cache_hits_total` / `cache_misses_total`.
    #[cache_lookup(backend = "quick_cache")]
    pub(crate) fn get(&self, id: i64) -> Option<User> {
        self.users.get(&id)
    }

    pub(crate) fn insert(&self, user: User) {
        self.users.insert(user.id, user);
    }

    pub(crate) fn remove(&self, id: i64) {
        self.users.remove(&id);
    }
}
