//! Java's tree bins, for the child sets (`children`): a bucket of 9 or more names in a table of 64 or more
//! buckets becomes a red-black tree (`HashMap.TreeNode`), ordered by hash and then by `String.compareTo`. Its
//! listing order is still a list through the bucket, but the tree decides where a new name goes in it (right
//! after its parent in the tree, not at the end), and the tree's root is always moved to the front. Removal and
//! table doubling follow `TreeNode.removeTreeNode` and `TreeNode.split`, turning a bucket back into a plain list
//! when it gets small. The tree's shape decides the order, so the balancing is Java's, step for step.
//!
//! The tree links are kept only for the names in tree bins, which ordinary names never reach (it takes hashes
//! that agree in their low bits).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::children::{ring_insert_after, ring_move_to_front, ring_unlink, Links, Ring, NONE};
use super::store::NodeId;

/// `HashMap.UNTREEIFY_THRESHOLD`: a tree split down to this many names becomes a list again.
pub(super) const UNTREEIFY_THRESHOLD: usize = 6;

#[derive(Debug, Clone, Copy)]
struct TreeLinks {
    parent: NodeId,
    left: NodeId,
    right: NodeId,
    red: bool,
}

const DETACHED: TreeLinks = TreeLinks {
    parent: NONE,
    left: NONE,
    right: NONE,
    red: false,
};

/// A child's side under its parent in a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

/// The tree links of the names in a set's tree bins.
#[derive(Debug, Default)]
pub(super) struct TreeBins {
    nodes: BTreeMap<NodeId, TreeLinks>,
}

/// Which side of `p` the name of `x` goes: Java's `dir`, by hash (as a signed int) and then by name.
fn goes_left(links: &impl Ring, x: NodeId, p: NodeId) -> bool {
    let (h, ph) = (links.hash(x) as i32, links.hash(p) as i32);
    match ph.cmp(&h) {
        Ordering::Greater => true,
        Ordering::Less => false,
        // Names in one set differ, so `compareTo` decides (Java's tie-break is never reached).
        Ordering::Equal => links.compare_names(x, p) != Ordering::Greater,
    }
}

impl TreeBins {
    /// True when `head` (a bucket's first name) heads a tree bin.
    pub(super) fn is_tree(&self, head: NodeId) -> bool {
        head != NONE && self.nodes.contains_key(&head)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn get(&self, id: NodeId) -> TreeLinks {
        self.nodes.get(&id).copied().unwrap_or(DETACHED)
    }

    fn parent(&self, id: NodeId) -> NodeId {
        self.get(id).parent
    }

    fn left(&self, id: NodeId) -> NodeId {
        self.get(id).left
    }

    fn right(&self, id: NodeId) -> NodeId {
        self.get(id).right
    }

    fn red(&self, id: NodeId) -> bool {
        self.get(id).red
    }

    fn edit(&mut self, id: NodeId, f: impl FnOnce(&mut TreeLinks)) {
        if id != NONE {
            f(self.nodes.entry(id).or_insert(DETACHED));
        }
    }

    fn set_parent(&mut self, id: NodeId, to: NodeId) {
        self.edit(id, |t| t.parent = to);
    }

    fn set_left(&mut self, id: NodeId, to: NodeId) {
        self.edit(id, |t| t.left = to);
    }

    fn set_right(&mut self, id: NodeId, to: NodeId) {
        self.edit(id, |t| t.right = to);
    }

    fn set_red(&mut self, id: NodeId, red: bool) {
        self.edit(id, |t| t.red = red);
    }

    fn root_of(&self, mut id: NodeId) -> NodeId {
        loop {
            let p = self.parent(id);
            if p == NONE {
                return id;
            }
            id = p;
        }
    }

    /// Turns a bucket's list into a tree bin (`TreeNode.treeify`): each name in list order is put into the tree,
    /// then the root goes to the front.
    pub(super) fn treeify(&mut self, heads: &mut [NodeId], links: &mut impl Links, bucket: usize) {
        let order = bucket_order(heads, links, bucket);
        let mut root = NONE;
        for &x in &order {
            self.nodes.insert(x, DETACHED);
            if root == NONE {
                root = x;
                continue;
            }
            let mut p = root;
            loop {
                let left = goes_left(links, x, p);
                let next = if left { self.left(p) } else { self.right(p) };
                if next == NONE {
                    self.set_parent(x, p);
                    if left {
                        self.set_left(p, x);
                    } else {
                        self.set_right(p, x);
                    }
                    root = self.balance_insertion(root, x);
                    break;
                }
                p = next;
            }
        }
        ring_move_to_front(heads, links, bucket, root);
    }

    /// Takes a bucket's names out of the tree bins, leaving its list as it is (`TreeNode.untreeify`).
    pub(super) fn untreeify(&mut self, heads: &[NodeId], links: &impl Ring, bucket: usize) {
        for id in bucket_order(heads, links, bucket) {
            self.nodes.remove(&id);
        }
    }

    /// Forgets every tree bin.
    pub(super) fn clear(&mut self) {
        self.nodes.clear();
    }

    /// Adds `x` to the tree bin of `bucket` (`TreeNode.putTreeVal`): it goes right after its tree parent in the
    /// list, and the root after balancing goes to the front.
    pub(super) fn put(&mut self, heads: &mut [NodeId], links: &mut impl Links, bucket: usize, x: NodeId) {
        let root = self.root_of(heads[bucket]);
        let mut p = root;
        loop {
            let left = goes_left(links, x, p);
            let next = if left { self.left(p) } else { self.right(p) };
            if next == NONE {
                ring_insert_after(links, p, x);
                self.nodes.insert(
                    x,
                    TreeLinks {
                        parent: p,
                        ..DETACHED
                    },
                );
                if left {
                    self.set_left(p, x);
                } else {
                    self.set_right(p, x);
                }
                let root = self.balance_insertion(root, x);
                ring_move_to_front(heads, links, bucket, root);
                return;
            }
            p = next;
        }
    }

    /// Removes `p` from the tree bin of `bucket` (`TreeNode.removeTreeNode`, movable): out of the list first;
    /// a tree that was already small becomes a plain list; otherwise the red-black removal, then the root to
    /// the front.
    pub(super) fn remove(&mut self, heads: &mut [NodeId], links: &mut impl Links, bucket: usize, p: NodeId) {
        ring_unlink(heads, links, bucket, p);
        let first = heads[bucket];
        if first == NONE {
            self.nodes.remove(&p);
            return;
        }
        let mut root = self.root_of(first);
        let rl = self.left(root);
        if self.right(root) == NONE || rl == NONE || self.left(rl) == NONE {
            self.nodes.remove(&p);
            self.untreeify(heads, links, bucket);
            return;
        }
        let (pl, pr) = (self.left(p), self.right(p));
        let replacement;
        if pl != NONE && pr != NONE {
            let mut s = pr;
            while self.left(s) != NONE {
                s = self.left(s);
            }
            let (s_red, p_red) = (self.red(s), self.red(p));
            self.set_red(s, p_red);
            self.set_red(p, s_red);
            let sr = self.right(s);
            let pp = self.parent(p);
            if s == pr {
                self.set_parent(p, s);
                self.set_right(s, p);
            } else {
                let sp = self.parent(s);
                self.set_parent(p, sp);
                if sp != NONE {
                    if s == self.left(sp) {
                        self.set_left(sp, p);
                    } else {
                        self.set_right(sp, p);
                    }
                }
                self.set_right(s, pr);
                self.set_parent(pr, s);
            }
            self.set_left(p, NONE);
            self.set_right(p, sr);
            self.set_parent(sr, p);
            self.set_left(s, pl);
            self.set_parent(pl, s);
            self.set_parent(s, pp);
            if pp == NONE {
                root = s;
            } else if p == self.left(pp) {
                self.set_left(pp, s);
            } else {
                self.set_right(pp, s);
            }
            replacement = if sr != NONE { sr } else { p };
        } else if pl != NONE {
            replacement = pl;
        } else if pr != NONE {
            replacement = pr;
        } else {
            replacement = p;
        }
        if replacement != p {
            let pp = self.parent(p);
            self.set_parent(replacement, pp);
            if pp == NONE {
                root = replacement;
                self.set_red(replacement, false);
            } else if p == self.left(pp) {
                self.set_left(pp, replacement);
            } else {
                self.set_right(pp, replacement);
            }
            self.edit(p, |t| {
                t.left = NONE;
                t.right = NONE;
                t.parent = NONE;
            });
        }
        let r = if self.red(p) {
            root
        } else {
            self.balance_deletion(root, replacement)
        };
        if replacement == p {
            let pp = self.parent(p);
            self.set_parent(p, NONE);
            if pp != NONE {
                if p == self.left(pp) {
                    self.set_left(pp, NONE);
                } else if p == self.right(pp) {
                    self.set_right(pp, NONE);
                }
            }
        }
        self.nodes.remove(&p);
        ring_move_to_front(heads, links, bucket, r);
    }

    /// After a doubling put a tree bin's names into `lo` and `hi` (in order): each half of up to
    /// [`UNTREEIFY_THRESHOLD`] names becomes a list, a larger one is rebuilt as a tree unless it took every
    /// name, in which case it stays the tree it was (`TreeNode.split`).
    pub(super) fn split(&mut self, heads: &mut [NodeId], links: &mut impl Links, lo: usize, hi: usize) {
        let lc = bucket_order(heads, links, lo).len();
        let hc = bucket_order(heads, links, hi).len();
        for (bucket, count, other) in [(lo, lc, hc), (hi, hc, lc)] {
            if count == 0 {
                continue;
            }
            if count <= UNTREEIFY_THRESHOLD {
                self.untreeify(heads, links, bucket);
            } else if other > 0 {
                for id in bucket_order(heads, links, bucket) {
                    self.nodes.insert(id, DETACHED);
                }
                self.treeify(heads, links, bucket);
            }
        }
    }

    fn child(&self, id: NodeId, side: Side) -> NodeId {
        match side {
            Side::Left => self.left(id),
            Side::Right => self.right(id),
        }
    }

    fn set_child(&mut self, id: NodeId, side: Side, to: NodeId) {
        match side {
            Side::Left => self.set_left(id, to),
            Side::Right => self.set_right(id, to),
        }
    }

    /// Rotates `p` down to `side` (`rotateLeft` for [`Side::Left`], `rotateRight` for [`Side::Right`]): its child
    /// on the other side takes its place. Returns the root.
    fn rotate(&mut self, mut root: NodeId, p: NodeId, side: Side) -> NodeId {
        let up = self.child(p, side.other());
        if p == NONE || up == NONE {
            return root;
        }
        let inner = self.child(up, side);
        self.set_child(p, side.other(), inner);
        self.set_parent(inner, p);
        let pp = self.parent(p);
        self.set_parent(up, pp);
        if pp == NONE {
            root = up;
            self.set_red(up, false);
        } else if self.child(pp, side) == p {
            self.set_child(pp, side, up);
        } else {
            self.set_child(pp, side.other(), up);
        }
        self.set_child(up, side, p);
        self.set_parent(p, up);
        root
    }

    /// `balanceInsertion`: recolours and rotates up from the new red node `x`; returns the root.
    fn balance_insertion(&mut self, mut root: NodeId, mut x: NodeId) -> NodeId {
        self.set_red(x, true);
        loop {
            let mut xp = self.parent(x);
            if xp == NONE {
                self.set_red(x, false);
                return x;
            }
            if !self.red(xp) {
                return root;
            }
            let mut xpp = self.parent(xp);
            if xpp == NONE {
                return root;
            }
            // The side of the grandparent the parent hangs on; the uncle is on the other.
            let side = if xp == self.left(xpp) {
                Side::Left
            } else {
                Side::Right
            };
            let uncle = self.child(xpp, side.other());
            if self.red(uncle) {
                self.set_red(uncle, false);
                self.set_red(xp, false);
                self.set_red(xpp, true);
                x = xpp;
                continue;
            }
            if x == self.child(xp, side.other()) {
                x = xp;
                root = self.rotate(root, x, side);
                xp = self.parent(x);
                xpp = self.parent(xp);
            }
            if xp != NONE {
                self.set_red(xp, false);
                if xpp != NONE {
                    self.set_red(xpp, true);
                    root = self.rotate(root, xpp, side.other());
                }
            }
        }
    }

    /// `balanceDeletion`: restores the colours from `x`, which took a removed black node's place; returns the
    /// root.
    fn balance_deletion(&mut self, mut root: NodeId, mut x: NodeId) -> NodeId {
        loop {
            if x == NONE || x == root {
                return root;
            }
            let mut xp = self.parent(x);
            if xp == NONE {
                self.set_red(x, false);
                return x;
            }
            if self.red(x) {
                self.set_red(x, false);
                return root;
            }
            let side = if self.left(xp) == x {
                Side::Left
            } else {
                Side::Right
            };
            let mut sibling = self.child(xp, side.other());
            if self.red(sibling) {
                self.set_red(sibling, false);
                self.set_red(xp, true);
                root = self.rotate(root, xp, side);
                xp = self.parent(x);
                sibling = self.child(xp, side.other());
            }
            if sibling == NONE {
                x = xp;
                continue;
            }
            let (near, far) = (self.child(sibling, side), self.child(sibling, side.other()));
            if !self.red(far) && !self.red(near) {
                self.set_red(sibling, true);
                x = xp;
                continue;
            }
            if !self.red(far) {
                self.set_red(near, false);
                self.set_red(sibling, true);
                root = self.rotate(root, sibling, side.other());
                xp = self.parent(x);
                sibling = self.child(xp, side.other());
            }
            if sibling != NONE {
                let red = xp != NONE && self.red(xp);
                self.set_red(sibling, red);
                let far = self.child(sibling, side.other());
                self.set_red(far, false);
            }
            if xp != NONE {
                self.set_red(xp, false);
                root = self.rotate(root, xp, side);
            }
            x = root;
        }
    }
}

/// The names of a bucket in list order.
fn bucket_order(heads: &[NodeId], links: &impl Ring, bucket: usize) -> Vec<NodeId> {
    let head = heads[bucket];
    let mut out = Vec::new();
    if head == NONE {
        return out;
    }
    let mut at = head;
    loop {
        out.push(at);
        at = links.next(at);
        if at == head {
            return out;
        }
    }
}
