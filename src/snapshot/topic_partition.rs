//! The key of every per-partition map: a shared topic name and a partition number.

use std::cmp::Ordering;
use std::sync::Arc;

/// A topic partition; topic names are shared between the many maps that hold them.
///
/// Ordered and compared by name, then partition. Two keys sharing one name (as a poll's
/// keys of one topic do) compare their partitions only: the maps and sorts of a poll at
/// 100,000 partitions spent a tenth of their time comparing equal names byte by byte.
#[derive(Debug, Clone)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition id.
    pub partition: i32,
}

impl PartialEq for TopicPartition {
    fn eq(&self, other: &Self) -> bool {
        self.partition == other.partition
            && (Arc::ptr_eq(&self.topic, &other.topic) || self.topic == other.topic)
    }
}

impl Eq for TopicPartition {}

impl std::hash::Hash for TopicPartition {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // By value, as equality is: keys equal by name hash alike whether they share it.
        self.topic.hash(state);
        self.partition.hash(state);
    }
}

impl PartialOrd for TopicPartition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TopicPartition {
    fn cmp(&self, other: &Self) -> Ordering {
        let topic = if Arc::ptr_eq(&self.topic, &other.topic) {
            Ordering::Equal
        } else {
            self.topic.cmp(&other.topic)
        };
        topic.then(self.partition.cmp(&other.partition))
    }
}

impl TopicPartition {
    /// A topic partition from parts.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_and_separate_names_order_alike() {
        let a = Arc::<str>::from("orders");
        let a2 = Arc::<str>::from("orders");
        let b = Arc::<str>::from("payments");
        let tp = |t: &Arc<str>, p| TopicPartition::new(t.clone(), p);
        // (why, left, right, expected order)
        let cases = [
            (
                "one shared name: the partitions decide",
                tp(&a, 1),
                tp(&a, 2),
                Ordering::Less,
            ),
            (
                "one shared name, same partition",
                tp(&a, 3),
                tp(&a, 3),
                Ordering::Equal,
            ),
            (
                "equal names apart: the same as shared",
                tp(&a, 3),
                tp(&a2, 3),
                Ordering::Equal,
            ),
            (
                "equal names apart, partitions decide",
                tp(&a2, 4),
                tp(&a, 3),
                Ordering::Greater,
            ),
            (
                "names first, then partitions",
                tp(&a, 9),
                tp(&b, 0),
                Ordering::Less,
            ),
            (
                "names first, the other way",
                tp(&b, 0),
                tp(&a, 9),
                Ordering::Greater,
            ),
        ];
        for (why, l, r, want) in cases {
            assert_eq!(l.cmp(&r), want, "{why}");
            assert_eq!(l == r, want == Ordering::Equal, "{why}: eq agrees with cmp");
            let by_value = (&*l.topic, l.partition).cmp(&(&*r.topic, r.partition));
            assert_eq!(by_value, want, "{why}: the order of the values");
        }
    }
}
