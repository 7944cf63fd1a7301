//! Slot allocation for the workspace: an arena whose freed slots are
//! reused by later requests of no greater length (best fit, no splitting),
//! so a chain of activations at inference, or of gradients in backward,
//! needs about two slots' worth of memory instead of one per layer.

use super::Slot;

#[derive(Default)]
pub struct Arena {
    /// The high-water mark: the arena's size.
    pub top: usize,
    /// Slots handed out, with their whole capacity.
    live: Vec<Slot>,
    free: Vec<Slot>,
}

impl Arena {
    pub fn alloc(&mut self, len: usize) -> Slot {
        if len == 0 {
            return Slot { offset: 0, len: 0 };
        }
        let best = (0..self.free.len())
            .filter(|&i| self.free[i].len >= len)
            .min_by_key(|&i| self.free[i].len);
        let whole = match best {
            Some(i) => self.free.swap_remove(i),
            None => {
                self.top += len;
                Slot {
                    offset: self.top - len,
                    len,
                }
            }
        };
        self.live.push(whole);
        Slot {
            offset: whole.offset,
            len,
        }
    }

    /// Returns a slot handed out by [`Arena::alloc`] (freeing it twice, or
    /// an empty one, does nothing).
    pub fn free(&mut self, s: Slot) {
        if s.len == 0 {
            return;
        }
        if let Some(i) = self.live.iter().position(|l| l.offset == s.offset) {
            let whole = self.live.swap_remove(i);
            self.free.push(whole);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_slots_are_reused_by_smaller_requests() {
        let mut a = Arena::default();
        let s1 = a.alloc(100);
        let s2 = a.alloc(50);
        a.free(s1);
        let s3 = a.alloc(80);
        assert_eq!(s3.offset, s1.offset);
        let s4 = a.alloc(30);
        assert_eq!(s4.offset, 150);
        a.free(s3);
        a.free(s2);
        // Best fit: the 50 slot for 40, the 100 slot for 90.
        assert_eq!(a.alloc(40).offset, s2.offset);
        assert_eq!(a.alloc(90).offset, s1.offset);
        assert_eq!(a.top, 180);
    }
}
