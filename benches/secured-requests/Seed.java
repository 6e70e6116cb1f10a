// Seeds the secured-requests benchmark (benches/secured-requests/run) in one JVM:
// TOPICS topics "secbench-t<i>" of PARTITIONS partitions (rf 3), RECORDS records in every
// partition, and GROUPS consumer groups "secbench-g<g>", group g committed on topic g % TOPICS
// at offset (g + p) % RECORDS for partition p (Admin.alterConsumerGroupOffsets, which leaves
// a classic group in state Empty). Prints the number of lag series lagwatch should export.
//
// Usage: java -cp 'LIBS/*' Seed.java BOOTSTRAP TOPICS PARTITIONS GROUPS RECORDS
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Seed {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        int topics = Integer.parseInt(args[1]);
        int partitions = Integer.parseInt(args[2]);
        int groups = Integer.parseInt(args[3]);
        int records = Integer.parseInt(args[4]);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", "secbench-seed");
        try (Admin admin = Admin.create(p)) {
            List<NewTopic> nts = new ArrayList<>();
            for (int t = 0; t < topics; t++) nts.add(new NewTopic("secbench-t" + t, partitions, (short) 3));
            admin.createTopics(nts).all().get(120, TimeUnit.SECONDS);
            // wait until every partition has a leader
            List<String> names = new ArrayList<>();
            for (int t = 0; t < topics; t++) names.add("secbench-t" + t);
            for (int i = 0; ; i++) {
                boolean ok = true;
                for (TopicDescription d : admin.describeTopics(names).allTopicNames().get(60, TimeUnit.SECONDS).values())
                    for (var pi : d.partitions()) if (pi.leader() == null) ok = false;
                if (ok) break;
                if (i > 120) throw new IllegalStateException("partitions without a leader");
                Thread.sleep(500);
            }
            Properties pp = new Properties();
            pp.putAll(p);
            pp.put("acks", "all");
            pp.put("linger.ms", "20");
            // the fresh topics' leaders can still move for a while on a busy box: wait, do not fail
            pp.put("delivery.timeout.ms", "600000");
            try (Producer<byte[], byte[]> prod = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
                List<Future<RecordMetadata>> fs = new ArrayList<>();
                for (int t = 0; t < topics; t++)
                    for (int part = 0; part < partitions; part++)
                        for (int r = 0; r < records; r++)
                            fs.add(prod.send(new ProducerRecord<>("secbench-t" + t, part, null, new byte[] {1})));
                for (Future<RecordMetadata> f : fs) f.get(600, TimeUnit.SECONDS);
            }
            // commits, 50 groups in flight at a time
            List<KafkaFuture<Void>> inflight = new ArrayList<>();
            for (int g = 0; g < groups; g++) {
                Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
                for (int part = 0; part < partitions; part++)
                    m.put(new TopicPartition("secbench-t" + (g % topics), part), new OffsetAndMetadata((g + part) % records));
                inflight.add(admin.alterConsumerGroupOffsets("secbench-g" + g, m).all());
                if (inflight.size() == 50 || g == groups - 1) {
                    for (KafkaFuture<Void> f : inflight) f.get(120, TimeUnit.SECONDS);
                    inflight.clear();
                }
            }
        }
        System.out.println((long) groups * partitions);
    }
}
