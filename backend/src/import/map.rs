//! The `legacy_import_map` table: old id -> new id per kind of thing. Rows
//! are written in the batch's own transaction, which is what makes the
//! import idempotent and resumable.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::legacy_import_map as map;

pub const USER: &str = "user";
pub const GROUP: &str = "group";
pub const PAIR: &str = "pair";
pub const PM: &str = "pm";
pub const GM: &str = "gm";
pub const ATT: &str = "att";

/// The map key of the 1:1 conversation of two old users (order-free).
pub fn pair_key(a: i64, b: i64) -> i64 {
    let (lo, hi) = (a.min(b), a.max(b));
    (lo << 32) | hi
}

/// New ids of the given old ids that are already imported.
pub async fn lookup(
    db: &impl ConnectionTrait,
    kind: &str,
    old_ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, i64>, DbErr> {
    let mut ids: Vec<i64> = old_ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::with_capacity(ids.len());
    // Bounded IN lists: SQLite allows 32,766 variables per statement.
    for chunk in ids.chunks(5000) {
        let rows = map::Entity::find()
            .filter(map::Column::Kind.eq(kind))
            .filter(map::Column::OldId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|r| (r.old_id, r.new_id)));
    }
    Ok(out)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    kind: &str,
    pairs: impl IntoIterator<Item = (i64, i64)>,
) -> Result<(), DbErr> {
    let rows: Vec<map::ActiveModel> = pairs
        .into_iter()
        .map(|(old_id, new_id)| map::ActiveModel {
            kind: sea_orm::ActiveValue::Set(kind.to_owned()),
            old_id: sea_orm::ActiveValue::Set(old_id),
            new_id: sea_orm::ActiveValue::Set(new_id),
        })
        .collect();
    for chunk in rows.chunks(2000) {
        map::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The highest old id imported of a kind (where a resumed run starts).
pub async fn max_old(db: &impl ConnectionTrait, kind: &str) -> Result<Option<i64>, DbErr> {
    map::Entity::find()
        .select_only()
        .expr(Func::max(Expr::col(map::Column::OldId)))
        .filter(map::Column::Kind.eq(kind))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .map(Option::flatten)
}

/// The highest new id of some kinds (e.g. the last imported message).
pub async fn max_new(db: &impl ConnectionTrait, kinds: &[&str]) -> Result<Option<i64>, DbErr> {
    map::Entity::find()
        .select_only()
        .expr(Func::max(Expr::col(map::Column::NewId)))
        .filter(map::Column::Kind.is_in(kinds.iter().copied()))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .map(Option::flatten)
}

pub async fn count(db: &impl ConnectionTrait, kinds: &[&str]) -> Result<i64, DbErr> {
    map::Entity::find()
        .select_only()
        .expr(Func::count(Expr::col(map::Column::OldId)))
        .filter(map::Column::Kind.is_in(kinds.iter().copied()))
        .into_tuple::<i64>()
        .one(db)
        .await
        .map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_keys_ignore_direction() {
        assert_eq!(pair_key(1, 2), pair_key(2, 1));
        assert_ne!(pair_key(1, 2), pair_key(1, 3));
        assert_eq!(pair_key(7, 7), (7 << 32) | 7);
    }
}
