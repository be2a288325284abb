//! A sorted set of byte strings kept in a sled tree as blocks of up to [`MAX_MEMBERS`]
//! members, for the user attribute index.
//!
//! sled splits a leaf at 16 keys and keeps state for every page in memory whatever the page
//! holds, so a million users' index entries as keys of their own cost half a gigabyte of
//! resident memory. As blocks they are about 25 times fewer keys.
//!
//! The blocks partition the key space: a block is stored under the least member it may hold
//! (the first block under the empty key) and records the key of the next block, so a block
//! knows the range it covers. Only writes split blocks, and a split rewrites the block it
//! splits. sled's transactions cannot search a range, so a writer finds its blocks before the
//! transaction (its [`Hints`]) and the transaction checks that each block still covers what it
//! changes; when one no longer does (another writer split it first), the transaction gives up
//! and is run again with fresh hints. Readers outside a transaction go block by block and skip
//! what they have already passed, so a split while they read neither hides nor repeats a
//! member.

use super::StoreError;
use sled::IVec;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

/// A block splits when an insert would take it past this many members.
pub(super) const MAX_MEMBERS: usize = 32;
/// A rebuild fills blocks to here, leaving room for inserts before the first split.
const BUILD_MEMBERS: usize = 24;
/// A block is stored as: a flag (1: an upper bound follows), the bound and each member, each
/// of those length-prefixed with two bytes.
const HAS_UPPER: u8 = 1;

/// A block: the key of the next block (none for the last), then its members in order.
#[derive(Debug, Default, PartialEq)]
struct Block {
    upper: Option<Vec<u8>>,
    members: Vec<Vec<u8>>,
}

impl Block {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            3 + self.members.iter().map(|m| m.len() + 2).sum::<usize>()
                + self.upper.as_ref().map_or(0, Vec::len),
        );
        match &self.upper {
            Some(upper) => {
                out.push(HAS_UPPER);
                put(&mut out, upper);
            }
            None => out.push(0),
        }
        for member in &self.members {
            put(&mut out, member);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let mut rest = bytes.get(1..).ok_or_else(corrupt)?;
        let upper = match bytes.first() {
            Some(&HAS_UPPER) => Some(take(&mut rest)?),
            Some(0) => None,
            _ => return Err(corrupt()),
        };
        let mut members = Vec::new();
        while !rest.is_empty() {
            members.push(take(&mut rest)?);
        }
        Ok(Self { upper, members })
    }

    /// Whether `member` belongs in this block, stored under `key`.
    fn covers(&self, key: &[u8], member: &[u8]) -> bool {
        key <= member && self.upper.as_deref().is_none_or(|upper| member < upper)
    }
}

fn corrupt() -> StoreError {
    StoreError::Corrupt("a block of the user index".into())
}

/// Appends `bytes` with its length. Members are index entries, far below 64 KiB (their keys
/// are cut to 200 bytes).
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

/// Takes one length-prefixed value off the front of `rest`.
fn take(rest: &mut &[u8]) -> Result<Vec<u8>, StoreError> {
    let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(corrupt)?;
    let len = usize::from(u16::from_be_bytes(*len));
    let (value, tail) = tail.split_at_checked(len).ok_or_else(corrupt)?;
    *rest = tail;
    Ok(value.to_vec())
}

/// Which way a range is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Order {
    Ascending,
    Descending,
}

/// The set, over its sled tree.
#[derive(Clone)]
pub(super) struct PackedSet {
    tree: sled::Tree,
}

impl PackedSet {
    pub(super) fn new(tree: sled::Tree) -> Self {
        Self { tree }
    }

    /// The tree, to take part in a transaction with [`apply`].
    pub(super) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// The key of the block that covers `member` as the tree is now.
    fn block_of(&self, member: &[u8]) -> Result<IVec, StoreError> {
        Ok(match self.tree.range(..=member).next_back() {
            Some(item) => item?.0,
            None => IVec::default(),
        })
    }

    pub(super) fn contains(&self, member: &[u8]) -> Result<bool, StoreError> {
        // A split between finding the block and reading it moves the member on: look again.
        for _ in 0..64 {
            let key = self.block_of(member)?;
            let block = match self.tree.get(&key)? {
                Some(bytes) => Block::decode(&bytes)?,
                None if key.is_empty() => return Ok(false),
                None => continue,
            };
            if block.covers(&key, member) {
                return Ok(block
                    .members
                    .binary_search_by(|m| m[..].cmp(member))
                    .is_ok());
            }
        }
        Err(StoreError::Backend(
            "the user index kept changing under a read".into(),
        ))
    }

    /// The members between `lo` and `hi`, in `order`.
    pub(super) fn range(
        &self,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        order: Order,
    ) -> Result<Members, StoreError> {
        let blocks: Box<dyn Iterator<Item = sled::Result<(IVec, IVec)>>> = match order {
            Order::Ascending => {
                let start = match &lo {
                    Bound::Included(l) | Bound::Excluded(l) => self.block_of(l)?,
                    Bound::Unbounded => IVec::default(),
                };
                Box::new(self.tree.range(start..))
            }
            Order::Descending => match &hi {
                Bound::Included(h) | Bound::Excluded(h) => {
                    let start = self.block_of(h)?;
                    Box::new(self.tree.range(..=start).rev())
                }
                Bound::Unbounded => Box::new(self.tree.iter().rev()),
            },
        };
        Ok(Members {
            blocks,
            lo,
            hi,
            order,
            pending: Vec::new(),
            last: None,
            done: false,
        })
    }

    /// Replaces the whole set by `members`, which come in ascending order.
    pub(super) fn rebuild(&self) -> Result<Builder<'_>, StoreError> {
        self.tree.clear()?;
        Ok(Builder {
            set: self,
            key: Vec::new(),
            block: Block::default(),
            written: 0,
        })
    }
}

/// Writes a rebuilt set block by block.
pub(super) struct Builder<'a> {
    set: &'a PackedSet,
    key: Vec<u8>,
    block: Block,
    written: usize,
}

impl Builder<'_> {
    /// Adds the next member; members come in ascending order (a repeat is dropped).
    pub(super) fn push(&mut self, member: Vec<u8>) -> Result<(), StoreError> {
        if self.block.members.last() == Some(&member) {
            return Ok(());
        }
        if self.block.members.len() == BUILD_MEMBERS {
            let full = std::mem::take(&mut self.block);
            let key = std::mem::replace(&mut self.key, member.clone());
            self.write(key, full, Some(member.clone()))?;
        }
        self.block.members.push(member);
        Ok(())
    }

    /// Writes the last block; returns how many blocks the set now has.
    pub(super) fn finish(mut self) -> Result<usize, StoreError> {
        let last = std::mem::take(&mut self.block);
        let key = std::mem::take(&mut self.key);
        self.write(key, last, None)?;
        Ok(self.written)
    }

    fn write(
        &mut self,
        key: Vec<u8>,
        mut block: Block,
        upper: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        block.upper = upper;
        self.set.tree.insert(key, block.encode())?;
        self.written += 1;
        Ok(())
    }
}

/// A range of members, read block by block.
pub(super) struct Members {
    blocks: Box<dyn Iterator<Item = sled::Result<(IVec, IVec)>>>,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    order: Order,
    /// The rest of the current block, the next member last.
    pending: Vec<Vec<u8>>,
    /// The member given last: a block split while this reads may hand it members again.
    last: Option<Vec<u8>>,
    done: bool,
}

impl Members {
    fn below_hi(&self, m: &[u8]) -> bool {
        match &self.hi {
            Bound::Included(h) => m <= h.as_slice(),
            Bound::Excluded(h) => m < h.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn above_lo(&self, m: &[u8]) -> bool {
        match &self.lo {
            Bound::Included(l) => m >= l.as_slice(),
            Bound::Excluded(l) => m > l.as_slice(),
            Bound::Unbounded => true,
        }
    }

    /// Whether `m` comes after what was given, in this order.
    fn is_new(&self, m: &[u8]) -> bool {
        self.last.as_deref().is_none_or(|last| match self.order {
            Order::Ascending => m > last,
            Order::Descending => m < last,
        })
    }

    /// Loads the next block; false when there is none in the range.
    fn load(&mut self) -> Result<bool, StoreError> {
        let Some(item) = self.blocks.next() else {
            return Ok(false);
        };
        let (key, bytes) = item?;
        // A block's key is the least member it may hold.
        if self.order == Order::Ascending && !self.below_hi(&key) && !key.is_empty() {
            return Ok(false);
        }
        let mut block = Block::decode(&bytes)?;
        if self.order == Order::Ascending {
            block.members.reverse();
        }
        self.pending = block.members;
        // Reading down, a block that starts at or below `lo` is the last one to read.
        if self.order == Order::Descending && !self.above_lo(&key) {
            self.blocks = Box::new(std::iter::empty());
        }
        Ok(true)
    }
}

impl Iterator for Members {
    type Item = Result<Vec<u8>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let Some(m) = self.pending.pop() else {
                match self.load() {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            };
            let (past_end, before_start) = match self.order {
                Order::Ascending => (!self.below_hi(&m), !self.above_lo(&m)),
                Order::Descending => (!self.above_lo(&m), !self.below_hi(&m)),
            };
            if past_end {
                break;
            }
            if before_start || !self.is_new(&m) {
                continue;
            }
            self.last = Some(m.clone());
            return Some(Ok(m));
        }
        self.done = true;
        None
    }
}

/// Where a writer last saw the blocks of the members it changes: what a transaction needs,
/// since it cannot search. Kept across runs of one transaction.
#[derive(Default)]
pub(super) struct Hints {
    blocks: RefCell<HashMap<Vec<u8>, IVec>>,
    missing: RefCell<Vec<Vec<u8>>>,
}

impl Hints {
    /// Finds the blocks of `members` (and of any member a run of the transaction found no
    /// block for). Returns whether there were such members, that is, whether a transaction
    /// that gave up should run again.
    pub(super) fn locate<'m>(
        &self,
        set: &PackedSet,
        members: impl IntoIterator<Item = &'m [u8]>,
    ) -> Result<bool, StoreError> {
        let missing = std::mem::take(&mut *self.missing.borrow_mut());
        let again = !missing.is_empty();
        let mut blocks = self.blocks.borrow_mut();
        for member in members {
            blocks.insert(member.to_vec(), set.block_of(member)?);
        }
        for member in missing {
            let block = set.block_of(&member)?;
            blocks.insert(member, block);
        }
        Ok(again)
    }
}

/// Inserts (`true`) or removes (`false`) members inside a transaction on the set's tree.
/// When a block the hints name no longer covers a member, this gives up (`Conflict`) and notes
/// the member in `hints`: [`Hints::locate`] then says to run the transaction again.
pub(super) fn apply(
    tx: &TransactionalTree,
    hints: &Hints,
    changes: &[(Vec<u8>, bool)],
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let mut by_block: BTreeMap<IVec, Vec<&(Vec<u8>, bool)>> = BTreeMap::new();
    {
        let blocks = hints.blocks.borrow();
        let mut missing = hints.missing.borrow_mut();
        missing.clear();
        for change in changes {
            match blocks.get(&change.0) {
                Some(key) => by_block.entry(key.clone()).or_default().push(change),
                None => missing.push(change.0.clone()),
            }
        }
    }
    let mut writes = Vec::new();
    for (key, changes) in by_block {
        let mut block = match tx.get(&key)? {
            Some(bytes) => Block::decode(&bytes).map_err(ConflictableTransactionError::Abort)?,
            None if key.is_empty() => Block::default(),
            None => Block {
                upper: Some(Vec::new()),
                members: Vec::new(),
            },
        };
        if let Some((stale, _)) = changes.iter().find(|(m, _)| !block.covers(&key, m)) {
            hints.missing.borrow_mut().push(stale.clone());
        }
        for (member, insert) in changes {
            match (block.members.binary_search(member), insert) {
                (Err(at), true) => block.members.insert(at, member.clone()),
                (Ok(at), false) => {
                    block.members.remove(at);
                }
                _ => {}
            }
        }
        writes.push((key, block));
    }
    if !hints.missing.borrow().is_empty() {
        return Err(ConflictableTransactionError::Abort(StoreError::Conflict));
    }
    for (key, block) in writes {
        for (key, block) in split(key, block) {
            tx.insert(key, block.encode())?;
        }
    }
    Ok(())
}

/// `block` as one or more blocks of at most [`MAX_MEMBERS`], the first under `key`.
fn split(key: IVec, block: Block) -> Vec<(IVec, Block)> {
    let count = block.members.len().div_ceil(MAX_MEMBERS).max(1);
    if count == 1 {
        return vec![(key, block)];
    }
    let size = block.members.len().div_ceil(count);
    let mut chunks: Vec<Vec<Vec<u8>>> = block.members.chunks(size).map(<[_]>::to_vec).collect();
    let mut out = Vec::with_capacity(chunks.len());
    let mut upper = block.upper;
    while let Some(members) = chunks.pop() {
        let start = if chunks.is_empty() {
            key.clone()
        } else {
            IVec::from(members[0].as_slice())
        };
        let next = Some(start.to_vec());
        out.push((start, Block { upper, members }));
        upper = next;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> PackedSet {
        let db = sled::Config::new().temporary(true).open().unwrap();
        PackedSet::new(db.open_tree("set").unwrap())
    }

    /// Applies `changes` as a store does: hints, a transaction, again while the hints were
    /// stale.
    fn change(set: &PackedSet, changes: &[(Vec<u8>, bool)]) {
        let hints = Hints::default();
        hints
            .locate(set, changes.iter().map(|(m, _)| m.as_slice()))
            .unwrap();
        loop {
            let done = set.tree().transaction(|tx| apply(tx, &hints, changes));
            match done {
                Ok(()) => return,
                Err(_) if hints.locate(set, []).unwrap() => continue,
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    fn key(n: u32) -> Vec<u8> {
        format!("k{n:05}").into_bytes()
    }

    fn all(set: &PackedSet, order: Order) -> Vec<Vec<u8>> {
        set.range(Bound::Unbounded, Bound::Unbounded, order)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_block_reads_back_as_it_was_written() {
        let block = Block {
            upper: Some(b"next".to_vec()),
            members: vec![b"a".to_vec(), Vec::new(), b"a\0b".to_vec()],
        };
        assert_eq!(Block::decode(&block.encode()).unwrap(), block);
        let last = Block::default();
        assert_eq!(Block::decode(&last.encode()).unwrap(), last);
        assert!(Block::decode(&[7]).is_err());
        assert!(Block::decode(&[0, 0, 9, 1]).is_err());
    }

    #[test]
    fn inserts_split_blocks_and_ranges_read_in_order_either_way() {
        let set = set();
        // Shuffled inserts, many splits.
        let mut order: Vec<u32> = (0..1000).map(|n| (n * 7919) % 1000).collect();
        for chunk in order.chunks(3) {
            let changes: Vec<_> = chunk.iter().map(|n| (key(*n), true)).collect();
            change(&set, &changes);
        }
        let expected: Vec<_> = (0..1000).map(key).collect();
        assert_eq!(all(&set, Order::Ascending), expected);
        let mut down = expected.clone();
        down.reverse();
        assert_eq!(all(&set, Order::Descending), down);
        assert!(set.tree().len() > 1000 / MAX_MEMBERS, "blocks split");
        assert!(set.tree().len() < 1000 / 8, "and stay packed");

        let between: Vec<_> = set
            .range(
                Bound::Excluded(key(100)),
                Bound::Included(key(200)),
                Order::Ascending,
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(between, (101..=200).map(key).collect::<Vec<_>>());
        let down: Vec<_> = set
            .range(
                Bound::Included(key(100)),
                Bound::Excluded(key(200)),
                Order::Descending,
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(down, (100..200).rev().map(key).collect::<Vec<_>>());
        assert!(set.contains(&key(999)).unwrap());
        assert!(!set.contains(b"k1").unwrap());

        // Removals, then the rest read back.
        order.retain(|n| n % 3 != 0);
        let removed: Vec<_> = (0..1000)
            .filter(|n| n % 3 == 0)
            .map(|n| (key(n), false))
            .collect();
        change(&set, &removed);
        let left: Vec<_> = (0..1000).filter(|n| n % 3 != 0).map(key).collect();
        assert_eq!(all(&set, Order::Ascending), left);
        assert!(!set.contains(&key(300)).unwrap());
    }

    #[test]
    fn a_rebuild_writes_full_blocks_that_later_writes_split() {
        let set = set();
        change(&set, &[(b"old".to_vec(), true)]);
        let mut builder = set.rebuild().unwrap();
        for n in 0..100 {
            builder.push(key(n * 2)).unwrap();
        }
        builder.push(key(198)).unwrap();
        builder.finish().unwrap();
        assert_eq!(set.tree().len(), 100usize.div_ceil(BUILD_MEMBERS));
        assert_eq!(
            all(&set, Order::Ascending),
            (0..100).map(|n| key(n * 2)).collect::<Vec<_>>()
        );
        let odd: Vec<_> = (0..100).map(|n| (key(n * 2 + 1), true)).collect();
        change(&set, &odd);
        assert_eq!(
            all(&set, Order::Ascending),
            (0..200).map(key).collect::<Vec<_>>()
        );
    }

    #[test]
    fn parallel_writers_lose_nothing_and_readers_see_each_member_once() {
        let set = set();
        let writers: Vec<_> = (0..8u32)
            .map(|t| {
                let set = set.clone();
                std::thread::spawn(move || {
                    for n in 0..150 {
                        change(&set, &[(key(n * 8 + t), true)]);
                    }
                })
            })
            .collect();
        let reader = {
            let set = set.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let seen = all(&set, Order::Ascending);
                    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        reader.join().unwrap();
        assert_eq!(
            all(&set, Order::Ascending),
            (0..1200).map(key).collect::<Vec<_>>()
        );
    }
}
