//! C2SP `tlog-tiles` addressing: which tile a path names and which stored
//! subtrees (or entries) it holds.
//!
//! The `n`-th tile at level `l` holds, for `i` in `0..256`, the tree hash of
//! leaves `(n·256 + i)·256^l .. (n·256 + i + 1)·256^l`: the stored subtree at
//! height `8l`, index `n·256 + i`. A partial tile (`.p/<W>`) holds its first
//! `W` hashes. Tile indices are written in 3-digit groups, all but the last
//! prefixed `x` (`1234067` → `x001/x234/067`).

use std::fmt::Write as _;

use std::collections::HashMap;

use super::merkle::{Hash, node_hash};
use super::stored::Subtree;

/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// What a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at this tile level (0 to 63).
    Hashes(u8),
    /// Entry bundle: the log entries behind the level-0 tile of the same index.
    Entries,
}

/// A tile: its kind, its index within the level and, for a partial tile, its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Hashes (at a level) or entries.
    pub kind: TileKind,
    /// Index within its level.
    pub index: u64,
    /// Width of a partial tile (1 to 255); `None` for a full tile.
    pub partial: Option<u8>,
}

impl Tile {
    /// Parses a path below `tile/`: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, in canonical form only.
    pub fn parse(path: &str) -> Option<Self> {
        let (head, rest) = path.split_once('/')?;
        let kind = match head {
            "entries" => TileKind::Entries,
            level => TileKind::Hashes(canonical_decimal(level).filter(|l| *l <= 63)? as u8),
        };
        let (index_path, partial) = match rest.split_once(".p/") {
            Some((index_path, width)) => {
                let width = canonical_decimal(width).filter(|w| (1..TILE_WIDTH).contains(w))?;
                (index_path, Some(width as u8))
            }
            None => (rest, None),
        };
        let segments: Vec<&str> = index_path.split('/').collect();
        let (last, groups) = segments.split_last()?;
        let mut index: u64 = 0;
        for group in groups {
            index = index
                .checked_mul(1000)?
                .checked_add(three_digits(group.strip_prefix('x')?)?)?;
        }
        index = index.checked_mul(1000)?.checked_add(three_digits(last)?)?;
        let tile = Self { kind, index, partial };
        (tile.path() == path).then_some(tile)
    }

    /// The tile's path below `tile/`, in canonical form.
    pub fn path(&self) -> String {
        let mut path = match self.kind {
            TileKind::Hashes(level) => format!("{level}/"),
            TileKind::Entries => "entries/".to_owned(),
        };
        let digits = self.index.to_string();
        let padded = format!("{}{digits}", "0".repeat((3 - digits.len() % 3) % 3));
        let groups: Vec<&str> = padded
            .as_bytes()
            .chunks(3)
            .map(|chunk| std::str::from_utf8(chunk).unwrap_or("000"))
            .collect();
        for (position, group) in groups.iter().enumerate() {
            if position + 1 < groups.len() {
                let _ = write!(path, "x{group}/");
            } else {
                path.push_str(group);
            }
        }
        if let Some(width) = self.partial {
            let _ = write!(path, ".p/{width}");
        }
        path
    }

    /// How many hashes (or entries) the tile holds.
    pub fn width(&self) -> u64 {
        self.partial.map_or(TILE_WIDTH, u64::from)
    }

    /// Whether a tree of `size` leaves has this tile: its hashes (or entries) all exist.
    pub fn exists_in(&self, size: u64) -> bool {
        let level = match self.kind {
            TileKind::Hashes(level) => u32::from(level),
            TileKind::Entries => 0,
        };
        let Some(shift) = level.checked_mul(8).filter(|shift| *shift < 64) else {
            return false;
        };
        let available = size >> shift;
        self.index
            .checked_mul(TILE_WIDTH)
            .and_then(|first| first.checked_add(self.width()))
            .is_some_and(|end| end <= available)
    }

    /// The stored subtrees whose hashes a hash tile holds, in order.
    pub fn subtrees(&self, level: u8) -> impl Iterator<Item = Subtree> + '_ {
        let first = self.index * TILE_WIDTH;
        (first..first + self.width()).map(move |index| Subtree {
            level: u32::from(level) * 8,
            index,
        })
    }

    /// The log entries an entry bundle holds.
    pub fn entries(&self) -> std::ops::Range<u64> {
        let first = self.index * TILE_WIDTH;
        first..first + self.width()
    }
}

/// Where a tree of `size` leaves keeps the stored subtree `subtree` in tiles: the hash
/// tile of its tile level, and the run of that tile's hashes (of height `8·level`) it is
/// the tree hash of. A subtree's height need not be a multiple of 8: a reader combines
/// the run (of 2^(height mod 8) hashes, all in one tile), as Go's `TileHashReader` does.
fn location(subtree: Subtree, size: u64) -> Option<(Tile, std::ops::Range<u64>)> {
    let level = u8::try_from(subtree.level / 8).ok().filter(|level| *level <= 63)?;
    let extra = subtree.level % 8;
    let first = subtree.index.checked_shl(extra)?;
    let run = first..first.checked_add(1 << extra)?;
    let available = size.checked_shr(u32::from(level) * 8)?;
    let index = first / TILE_WIDTH;
    let width = available
        .min((index + 1) * TILE_WIDTH)
        .checked_sub(index * TILE_WIDTH)?;
    (run.end <= available).then_some(())?;
    // A full tile has no width in its path; a partial one's fits a byte (1 to 255).
    let partial = match width {
        TILE_WIDTH => None,
        width => Some(u8::try_from(width).ok()?),
    };
    let tile = Tile {
        kind: TileKind::Hashes(level),
        index,
        partial,
    };
    Some((tile, run))
}

/// The hash tiles a reader of a tree of `size` leaves fetches to learn `subtrees`' hashes;
/// `None` when one of them is not complete in that tree.
pub fn tiles_holding(subtrees: &[Subtree], size: u64) -> Option<Vec<Tile>> {
    let mut tiles = Vec::new();
    for subtree in subtrees {
        let (tile, _) = location(*subtree, size)?;
        if !tiles.contains(&tile) {
            tiles.push(tile);
        }
    }
    Some(tiles)
}

/// The hashes of `subtrees` computed from fetched hash tiles (`tiles_holding` names them);
/// `None` when a tile is missing or shorter than its width.
pub fn hashes_from_tiles(
    subtrees: &[Subtree],
    size: u64,
    tiles: &HashMap<Tile, Vec<u8>>,
) -> Option<HashMap<Subtree, Hash>> {
    let mut found = HashMap::with_capacity(subtrees.len());
    for subtree in subtrees {
        let (tile, run) = location(*subtree, size)?;
        let bytes = tiles
            .get(&tile)
            .filter(|bytes| bytes.len() as u64 == tile.width() * 32)?;
        let mut row: Vec<Hash> = run
            .map(|position| {
                let offset = usize::try_from((position % TILE_WIDTH) * 32).ok()?;
                bytes.get(offset..offset + 32)?.try_into().ok()
            })
            .collect::<Option<_>>()?;
        while row.len() > 1 {
            row = row.chunks(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
        }
        found.insert(*subtree, row[0]);
    }
    Some(found)
}

/// A decimal with no leading zeroes.
fn canonical_decimal(text: &str) -> Option<u64> {
    let value: u64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

fn three_digits(text: &str) -> Option<u64> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        let tile = Tile::parse("0/x001/x234/067").expect("tile");
        assert_eq!(
            tile,
            Tile {
                kind: TileKind::Hashes(0),
                index: 1_234_067,
                partial: None
            }
        );
        assert_eq!(
            Tile::parse("entries/005.p/17").map(|t| (t.kind, t.index, t.partial)),
            Some((TileKind::Entries, 5, Some(17)))
        );
        for bad in [
            "0/5",
            "00/005",
            "64/000",
            "0/x000/005",
            "0/005.p/0",
            "0/005.p/256",
            "0/005.p/017",
            "1/x01/005",
            "0/",
            "x/005",
        ] {
            assert_eq!(Tile::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_spec_lists() {
        let size = 70_000;
        let full = |level, index| Tile {
            kind: TileKind::Hashes(level),
            index,
            partial: None,
        };
        let partial = |level, index, width| Tile {
            kind: TileKind::Hashes(level),
            index,
            partial: Some(width),
        };
        assert!(full(0, 272).exists_in(size) && !full(0, 273).exists_in(size));
        assert!(partial(0, 273, 112).exists_in(size) && !partial(0, 273, 113).exists_in(size));
        assert!(full(1, 0).exists_in(size) && partial(1, 1, 17).exists_in(size));
        assert!(partial(2, 0, 1).exists_in(size) && !full(2, 0).exists_in(size));
    }

    proptest! {
        #[test]
        fn proofs_read_from_tiles_equal_the_stored_tree(n in 1u64..2000, seed in any::<u64>()) {
            use super::super::merkle::leaf_hash;
            use super::super::stored::{TreeBuilder, parts};
            let mut builder = TreeBuilder::default();
            let stored: HashMap<Subtree, Hash> = (0..n)
                .flat_map(|i| builder.push(leaf_hash(&i.to_be_bytes())))
                .collect();
            // Serve every tile of the tree of `size` from the stored hashes, as the node does.
            let size = seed % n + 1;
            let mut tiles = HashMap::new();
            for level in 0..2u8 {
                let available = size >> (8 * level);
                for index in 0..available.div_ceil(TILE_WIDTH) {
                    let width = (available - index * TILE_WIDTH).min(TILE_WIDTH);
                    let tile = Tile { kind: TileKind::Hashes(level), index, partial: (width < TILE_WIDTH).then_some(width as u8) };
                    let bytes: Vec<u8> = tile.subtrees(level).flat_map(|subtree| stored[&subtree]).collect();
                    tiles.insert(tile, bytes);
                }
            }
            let wanted: Vec<Subtree> = parts(0..size)
                .into_iter()
                .chain(parts(seed % size..size))
                .collect();
            let needed = tiles_holding(&wanted, size).expect("complete subtrees");
            let fetched: HashMap<Tile, Vec<u8>> = needed.iter().map(|tile| (*tile, tiles[tile].clone())).collect();
            let read = hashes_from_tiles(&wanted, size, &fetched).expect("hashes");
            for subtree in wanted {
                prop_assert_eq!(read[&subtree], stored[&subtree]);
            }
        }

        #[test]
        fn paths_round_trip(index in any::<u64>(), level in 0u8..64, width in proptest::option::of(1u8..=255)) {
            let tile = Tile { kind: TileKind::Hashes(level), index, partial: width };
            prop_assert_eq!(Tile::parse(&tile.path()), Some(tile));
        }
    }
}
