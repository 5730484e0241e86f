//! The first writing of a new batch: its entries frozen and its bundle written in one pass over them.
//!
//! Registrations are frozen first, one by one, so that pass 1 (their patients) reads them back exactly as a
//! regeneration does. Then every entry in batch order: this thread reads its rows, a worker freezes it and builds
//! its bundle entries from what it froze, and this thread stores the frozen facts and writes the entries. An entry
//! that was frozen as a registration is read back from the batch instead, as a regeneration reads every entry. A
//! regeneration builds each entry with the same `entry_resources` from the same frozen facts and version, so the
//! two give the same bytes (tested byte for byte); the version body is decrypted once per entry, not twice, and
//! freezing no longer waits for the whole batch before the bundle starts.

use std::cell::RefCell;
use std::io::Write;

use super::batch::{stored_entry, RawEntry};
use super::bundle::{begin, end, entry_resources, may_register, Batch, Entries};
use super::freeze::{self, Names, ToStore, Unfrozen};
use super::{parallel, BatchMeta, FhirError};
use crate::crypto::Keys;
use crate::forms::Catalog;
use crate::vault::Tx;

/// An entry of the batch as this thread hands it to a worker.
enum Item {
    /// Frozen already (a registration): read back from the batch.
    Stored(RawEntry),
    /// Still to freeze.
    Fresh(Unfrozen),
}

/// Freezes `ids` (entry id and form, in batch order) into the batch `meta` recorded in `tx`, locks each as exported,
/// and writes the batch's bundle to `w`. The batch's author verifies the entries no analyst accepted by name.
pub(super) fn freeze_and_write(
    tx: &mut Tx<'_>,
    keys: &Keys,
    catalog: &Catalog,
    meta: &BatchMeta,
    ids: &[(String, String)],
    w: &mut dyn Write,
) -> Result<(), FhirError> {
    let names = Names::load(tx.sql())?;
    let exporter = meta.by.username.as_str();
    let may_register = |form: &str| may_register(catalog, form);
    let positioned = || ids.iter().enumerate().map(|(p, (id, form))| (p as i64, id.as_str(), form.as_str()));
    for (position, id, _) in positioned().filter(|(_, _, form)| may_register(form)) {
        let fresh = freeze::read(tx.sql(), id, position)?.freeze(keys, catalog, &names, exporter)?;
        freeze::store(tx, keys, meta, fresh.to_store)?;
    }
    let format = meta.bundle_format;
    let (mut sink, patients) = {
        let batch = Batch { conn: tx.sql(), keys, catalog, id: &meta.id, only: None, format };
        begin(&batch, meta, w)?
    };
    let tx = RefCell::new(tx);
    let build = |item: Item| -> Result<(Option<ToStore>, Entries), FhirError> {
        let mut out = Entries::new(format);
        let (to_store, entry) = match item {
            Item::Stored(raw) => (None, raw.open(keys, &meta.id)?),
            Item::Fresh(unfrozen) => {
                let fresh = unfrozen.freeze(keys, catalog, &names, exporter)?;
                (Some(fresh.to_store), fresh.entry)
            }
        };
        entry_resources(catalog, entry, &patients, &mut out)?;
        Ok((to_store, out))
    };
    let mut feed = |take: &mut dyn FnMut(Item) -> Result<(), FhirError>| {
        for (position, id, form) in positioned() {
            let item = {
                let tx = tx.borrow();
                if may_register(form) {
                    Item::Stored(stored_entry(tx.sql(), &meta.id, id)?)
                } else {
                    Item::Fresh(freeze::read(tx.sql(), id, position)?)
                }
            };
            take(item)?;
        }
        Ok(())
    };
    parallel::in_order(&mut feed, &build, &mut |(to_store, out)| {
        if let Some(f) = to_store {
            freeze::store(&mut tx.borrow_mut(), keys, meta, f)?;
        }
        sink.write(out)
    })?;
    end(sink, meta, None)?;
    Ok(())
}
