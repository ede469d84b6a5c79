//! Names seen over and over (workflows, steps, error types) stored once.
//!
//! A stream names a handful of workflows and steps millions of times; interning
//! turns each into a small integer so per-event state holds no strings.

use crate::hash::FxHashMap;

/// A name's number in its [`Interner`].
pub type Sym = u32;

#[derive(Clone, Debug, Default)]
pub struct Interner {
    ids: FxHashMap<Box<str>, Sym>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The number of `name`, adding it the first time it is seen.
    pub fn intern(&mut self, name: &str) -> Sym {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as Sym;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The number of `name` if it was interned.
    pub fn get(&self, name: &str) -> Option<Sym> {
        self.ids.get(name).copied()
    }

    /// The name behind `id`; empty for a number this interner never gave out.
    pub fn name(&self, id: Sym) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once() {
        let mut i = Interner::new();
        let a = i.intern("checkout");
        let b = i.intern("signup");
        assert_eq!(i.intern("checkout"), a);
        assert_ne!(a, b);
        assert_eq!(i.name(b), "signup");
        assert_eq!(i.get("nope"), None);
        assert_eq!(i.len(), 2);
    }
}
