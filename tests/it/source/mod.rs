//! Where the numbers come from: Kafka (librdkafka's mock cluster, tansu, fault injection,
//! the batched offset path) and Spark checkpoints (parsing, local and on S3).

mod batched_offsets;
mod core_mock;
mod core_tansu;
mod faults_mock;
mod spark_batches;
mod spark_formats;
mod spark_mock;
mod spark_parse;
mod spark_real;
mod spark_s3;
mod spark_timelag;
mod timelag_tansu;
