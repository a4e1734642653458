//! Streams, each already in order, merged into one in order (a k-way merge
//! that holds one item per stream).

use std::cmp::Ordering;

/// The items of `streams` in the order `before` gives (each stream must be in
/// that order already); of equal items, the one of the earlier stream comes
/// first. Each item comes with the index of its stream. An error of a stream
/// is passed on (the merge is then over).
pub(crate) struct Merge<T, I> {
    streams: Vec<I>,
    heads: Vec<Option<T>>,
    before: fn(&T, &T) -> Ordering,
}

impl<T, E, I: Iterator<Item = Result<T, E>>> Merge<T, I> {
    /// Reads the first item of every stream.
    pub(crate) fn new(mut streams: Vec<I>, before: fn(&T, &T) -> Ordering) -> Result<Self, E> {
        let mut heads = Vec::with_capacity(streams.len());
        for s in &mut streams {
            heads.push(s.next().transpose()?);
        }
        Ok(Merge {
            streams,
            heads,
            before,
        })
    }
}

impl<T, E, I: Iterator<Item = Result<T, E>>> Iterator for Merge<T, I> {
    type Item = Result<(usize, T), E>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut pick: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            let Some(h) = h else { continue };
            // Strictly before: on a tie the earlier stream keeps the pick.
            let earlier = |p: usize| {
                let p = self.heads[p].as_ref();
                p.is_some_and(|p| (self.before)(h, p).is_lt())
            };
            if pick.is_none_or(earlier) {
                pick = Some(i);
            }
        }
        let i = pick?;
        let head = self.heads[i].take().expect("picked");
        match self.streams[i].next().transpose() {
            Ok(next) => self.heads[i] = next,
            Err(e) => {
                self.heads.iter_mut().for_each(|h| *h = None);
                return Some(Err(e));
            }
        }
        Some(Ok((i, head)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(items: &[(u32, char)]) -> std::vec::IntoIter<Result<(u32, char), String>> {
        items.iter().map(|&i| Ok(i)).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn merges_in_order_ties_to_the_earlier_stream() {
        let by_number = |a: &(u32, char), b: &(u32, char)| a.0.cmp(&b.0);
        let streams = vec![
            stream(&[(1, 'a'), (3, 'a'), (5, 'a')]),
            stream(&[]),
            stream(&[(1, 'c'), (2, 'c'), (5, 'c'), (9, 'c')]),
        ];
        let got: Vec<(usize, (u32, char))> = Merge::new(streams, by_number)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want = [
            (0, (1, 'a')),
            (2, (1, 'c')),
            (2, (2, 'c')),
            (0, (3, 'a')),
            (0, (5, 'a')),
            (2, (5, 'c')),
            (2, (9, 'c')),
        ];
        assert_eq!(got, want);
        assert_eq!(
            Merge::new(
                Vec::<std::vec::IntoIter<Result<(u32, char), String>>>::new(),
                by_number
            )
            .unwrap()
            .count(),
            0
        );
    }

    #[test]
    fn a_stream_error_is_passed_on_and_ends_the_merge() {
        let by_number = |a: &u32, b: &u32| a.cmp(b);
        let bad = vec![Ok(1), Err("broken".to_string()), Ok(3)].into_iter();
        let good = vec![Ok(2), Ok(4)].into_iter();
        let got: Vec<Result<(usize, u32), String>> =
            Merge::new(vec![bad, good], by_number).unwrap().collect();
        assert_eq!(got, [Err("broken".to_string())]);
        let first_bad = vec![Err("at once".to_string())].into_iter();
        assert!(Merge::new(vec![first_bad], by_number).is_err());
    }
}
