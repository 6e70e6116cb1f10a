use super::producer_state_lost;
use rdkafka::error::{KafkaError as K, RDKafkaErrorCode as C};

#[test]
fn only_a_lost_producer_identity_asks_for_a_new_producer() {
    // (error, new producer, why)
    let cases = [
        (
            K::MessageProduction(C::ProducerFenced),
            true,
            "tansu after an outage",
        ),
        (
            K::MessageProduction(C::InvalidProducerEpoch),
            true,
            "an older epoch",
        ),
        (
            K::MessageProduction(C::UnknownProducerId),
            true,
            "the id expired on the broker",
        ),
        (
            K::MessageProduction(C::MessageTimedOut),
            false,
            "the cluster is away: retry as is",
        ),
        (
            K::MessageProduction(C::NotEnoughReplicas),
            false,
            "a broker is down: retry as is",
        ),
        (K::Canceled, false, "shutting down"),
    ];
    for (e, want, why) in cases {
        assert_eq!(producer_state_lost(&e), want, "{why}");
    }
}
