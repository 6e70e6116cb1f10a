// KTool: an independent ground-truth client and test driver for lagwatch's real-Kafka tests.
//
// Built by .ci/install-kafka (javac against the pinned Kafka's jars); run through the wrapper
// target/kafka/<version>/ktool/ktool. Usage: ktool <command> --config client.properties [flags]
// (`ktool help` lists commands and flags; .ci/kafka/README.md documents every JSON shape).
//
// Output contract:
//   - stdout carries JSON only. One-shot commands print exactly one document (one line).
//     Long-running commands (produce --txn open, consume, share-consume) print one JSON
//     document per line ("event" field); their last line is the result ("event":"done").
//   - errors go to stderr as one JSON line {"error":{"type":..,"message":..}} plus exit code:
//     1 other failure, 2 bad usage, 3 authentication/authorization failure, 4 timeout.
//   - Kafka's own client logging goes to stderr (log4j2 config from the wrapper) at WARN.
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.FinalizedVersionRange;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.clients.admin.ShareMemberDescription;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.clients.admin.StreamsGroupMemberAssignment;
import org.apache.kafka.clients.admin.StreamsGroupMemberDescription;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.AcknowledgeType;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class KTool {

    // ------------------------------------------------------------------ entry point

    static PrintStream OUT;

    static final String USAGE = String.join("\n",
        "usage: ktool <command> --config FILE [--bootstrap H:P,..] [--property k=v].. [--timeout-ms MS] [flags]",
        "ground truth:",
        "  describe-cluster",
        "  wait-ready --brokers N [--config F].. [--acls FILE] [--warmup]  (every address of every --config's bootstrap list;",
        "             then ACLs from FILE and the group/transaction coordinators, through the first --config)",
        "  apply-acls --file F                                  (lines: PRINCIPAL RESOURCE_TYPE literal|prefixed NAME OP[,OP].. [allow|deny])",
        "  list-groups [--type classic|consumer|share|streams]..",
        "  describe-groups [--group G].. [--type T]..           (all groups when no --group)",
        "  offsets --group G [--topic T].. [--require-stable]",
        "  list-offsets --topic T.. [--partition P] [--timestamp-ms X]",
        "  share-offsets --group G [--topic T]..",
        "  describe-topic --topic T [--all-configs]",
        "  describe-configs --type topic|broker|group|broker-logger --name N [--all-configs]",
        "  describe-acls [--principal P] [--resource-type T] [--name N]",
        "  version",
        "admin actions:",
        "  create-topic --topic T [--partitions N] [--rf R] [--config k=v | --topic-config k=v].. [--if-not-exists] [--no-wait]",
        "             (partitions/rf default to the broker's num.partitions/default.replication.factor)",
        "  add-partitions --topic T --total N",
        "  delete-topic --topic T.. [--if-exists]",
        "  delete-records --topic T [--partition P] --before OFFSET   (-1 = high watermark)",
        "  delete-group --group G.. [--if-exists]",
        "  alter-offsets --group G --topic T --offset P=O.. [--type consumer|share] [--metadata S]",
        "  create-acl|delete-acl --principal User:X --resource-type topic|group|cluster|transactional-id",
        "             [--name N] [--pattern literal|prefixed] --operation OP[,OP].. [--permission allow|deny] [--host H]",
        "  incremental-alter-config --type topic|broker|group|broker-logger --name N",
        "             [--set k=v].. [--delete k].. [--append k=v].. [--subtract k=v]..",
        "data:",
        "  produce --topic T --count N [--partition P] [--key K] [--value-size B] [--timestamp-ms X [--timestamp-step-ms S]]",
        "          [--compression none|gzip|snappy|lz4|zstd] [--acks all|1|0]",
        "          [--transactional-id X] [--txn commit|abort|open] [--txn-timeout-ms MS] [--no-stdin]",
        "  consume --group G --topic T.. [--protocol classic|consumer] [--max N] [--commit] [--hold]",
        "          [--from earliest|latest] [--isolation read_committed|read_uncommitted] [--client-id C]",
        "          [--group-instance-id I] [--session-timeout-ms MS] [--assignor A] [--no-stdin]",
        "          [--stall] [--max-poll-interval-ms MS (classic)]",
        "          (--hold --max N --stall: after N records stop calling poll(); the heartbeat thread keeps",
        "           the member alive but it never rejoins a rebalance until max.poll.interval.ms)",
        "          (without --max: reads until caught up with the end offsets, then stops; with --hold: keeps reading)",
        "  share-consume --group G --topic T.. [--max N] [--hold] [--ack accept|release|reject]",
        "          [--from earliest|latest|none] [--client-id C] [--idle-ms MS] [--no-stdin]",
        "--hold / --txn open: run until killed, or until stdin is closed (unless --no-stdin).");

    public static void main(String[] argv) {
        OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err); // nothing but our JSON reaches the real stdout
        int rc;
        try {
            rc = run(argv);
        } catch (Usage e) {
            printError("Usage", e.getMessage());
            System.err.println(USAGE);
            rc = 2;
        } catch (Throwable t) {
            Throwable c = unwrap(t);
            printError(c.getClass().getName(), String.valueOf(c.getMessage()));
            rc = exitCodeFor(c);
        }
        OUT.flush();
        System.err.flush();
        if (!SHUTTING_DOWN.get()) {
            System.exit(rc);
        }
    }

    static int run(String[] argv) throws Exception {
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
            emit(m("usage", USAGE));
            return 0;
        }
        String cmd = argv[0];
        Args a = new Args(Arrays.copyOfRange(argv, 1, argv.length));
        switch (cmd) {
            case "version": a.done(); emit(clientVersion()); return 0;
            case "cds-train": return cdsTrain(a);
            case "format-storage": return formatStorage(argv);
            case "describe-cluster": return describeCluster(a);
            case "wait-ready": return waitReady(a);
            case "list-groups": return listGroups(a);
            case "describe-groups": return describeGroups(a);
            case "offsets": return offsets(a);
            case "list-offsets": return listOffsets(a);
            case "share-offsets": return shareOffsets(a);
            case "describe-topic": return describeTopic(a);
            case "describe-configs": return describeConfigs(a);
            case "describe-acls": return describeAcls(a);
            case "create-topic": return createTopic(a);
            case "add-partitions": return addPartitions(a);
            case "delete-topic": return deleteTopic(a);
            case "delete-records": return deleteRecords(a);
            case "delete-group": return deleteGroup(a);
            case "alter-offsets": return alterOffsets(a);
            case "create-acl": return createAcl(a, false);
            case "apply-acls": return applyAcls(a);
            case "delete-acl": return createAcl(a, true);
            case "incremental-alter-config": return alterConfig(a);
            case "produce": return produce(a);
            case "consume": return consume(a);
            case "share-consume": return shareConsume(a);
            default: throw new Usage("unknown command: " + cmd);
        }
    }

    // ------------------------------------------------------------------ ground truth

    static int describeCluster(Args a) throws Exception {
        Props p = Props.from(a);
        a.done();
        try (Admin admin = p.admin()) {
            DescribeClusterResult r = admin.describeCluster();
            List<Object> nodes = new ArrayList<>();
            List<Node> ns = new ArrayList<>(r.nodes().get(p.timeoutMs, TimeUnit.MILLISECONDS));
            ns.sort(Comparator.comparingInt(Node::id));
            for (Node n : ns) nodes.add(node(n));
            Node ctl = r.controller().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            Map<String, Object> features = new TreeMap<>();
            try {
                FeatureMetadata fm = admin.describeFeatures().featureMetadata().get(p.timeoutMs, TimeUnit.MILLISECONDS);
                for (Map.Entry<String, FinalizedVersionRange> e : fm.finalizedFeatures().entrySet()) {
                    features.put(e.getKey(), (int) e.getValue().maxVersionLevel());
                }
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof AuthorizationException)) throw e;
            }
            emit(m("cluster_id", r.clusterId().get(p.timeoutMs, TimeUnit.MILLISECONDS),
                   "controller", ctl == null ? null : ctl.id(),
                   "brokers", nodes, "features", features));
        }
        return 0;
    }

    // Every address of every --config's bootstrap list must answer DescribeCluster with at
    // least N brokers (one Admin client per address, bootstrapped with that address only).
    static int waitReady(Args a) throws Exception {
        int brokers = a.intOpt("brokers", 1);
        boolean warmup = a.flag("warmup");
        String aclFile = a.opt("acls", null);
        List<String> configs = a.all("config");
        Props base = Props.from(a);
        a.done();
        if (System.getenv("KTOOL_LOG_LEVEL") == null) {
            // connection-refused warnings are expected while the brokers start
            org.apache.logging.log4j.core.config.Configurator.setRootLevel(org.apache.logging.log4j.Level.ERROR);
        }
        long t0 = System.nanoTime();
        long deadline = t0 + base.timeoutMs * 1_000_000L;
        if (configs.isEmpty()) configs = Collections.singletonList(null);
        List<Thread> threads = new ArrayList<>();
        List<Map<String, Object>> checks = Collections.synchronizedList(new ArrayList<>());
        for (String cfg : configs) {
            Props p = Props.load(cfg, base);
            for (String addr : p.props.getProperty("bootstrap.servers", "").split(",")) {
                if (addr.isBlank()) continue;
                Thread t = new Thread(() -> checks.add(checkOne(p, cfg, addr.trim(), brokers, deadline)));
                t.start();
                threads.add(t);
            }
        }
        for (Thread t : threads) t.join();
        boolean ok = checks.stream().allMatch(c -> Boolean.TRUE.equals(c.get("ok")));
        Map<String, Object> warm = null;
        Integer acls = null;
        if (ok && aclFile != null) {
            try (Admin admin = base.admin()) {
                acls = createAclsFromFile(admin, base, aclFile).size();
            }
        }
        if (ok && warmup) warm = warmup(base, deadline);
        checks.sort(Comparator.comparing(c -> String.valueOf(c.get("config")) + c.get("address")));
        emit(m("ready", ok, "brokers", brokers, "elapsed_ms", (System.nanoTime() - t0) / 1_000_000,
               "checks", checks, "acls_created", acls, "warmup", warm));
        if (!ok) {
            printError("NotReady", "not every listener answered with " + brokers + " brokers in time");
            return 4;
        }
        return 0;
    }

    static Map<String, Object> checkOne(Props p, String cfg, String addr, int brokers, long deadline) {
        long t0 = System.nanoTime();
        String last = "no attempt";
        while (System.nanoTime() < deadline) {
            Properties props = p.adminProps();
            props.put("bootstrap.servers", addr);
            props.put("default.api.timeout.ms", "5000");
            props.put("request.timeout.ms", "3000");
            props.put("reconnect.backoff.max.ms", "200");
            props.put("retry.backoff.max.ms", "200");
            try (Admin admin = Admin.create(props)) {
                Collection<Node> nodes = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
                if (nodes.size() >= brokers) {
                    return m("config", cfg, "address", addr, "ok", true, "brokers", nodes.size(),
                             "ms", (System.nanoTime() - t0) / 1_000_000);
                }
                last = nodes.size() + " brokers registered";
            } catch (Exception e) {
                Throwable c = unwrap(e);
                last = c.getClass().getSimpleName() + ": " + c.getMessage();
                if (c instanceof AuthenticationException || c instanceof AuthorizationException) break;
            }
            sleep(200);
        }
        return m("config", cfg, "address", addr, "ok", false, "last_error", last,
                 "ms", (System.nanoTime() - t0) / 1_000_000);
    }

    // Creates the group coordinator's and the transaction coordinator's internal topics
    // (__consumer_offsets, __transaction_state) now, so that the first test does not pay for it.
    static Map<String, Object> warmup(Props p, long deadline) throws Exception {
        long t0 = System.nanoTime();
        try (Admin admin = p.admin()) {
            while (true) {
                try {
                    admin.listConsumerGroupOffsets("ktool-warmup").partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
                    break;
                } catch (ExecutionException | TimeoutException e) {
                    if (System.nanoTime() > deadline) throw e;
                    sleep(200);
                }
            }
        }
        long groupMs = (System.nanoTime() - t0) / 1_000_000;
        Properties pp = p.clientProps();
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "ktool-warmup");
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(Math.max(1000, (deadline - System.nanoTime()) / 1_000_000)));
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            prod.initTransactions();
        }
        return m("group_coordinator_ms", groupMs, "transaction_coordinator_ms", (System.nanoTime() - t0) / 1_000_000 - groupMs);
    }

    static int listGroups(Args a) throws Exception {
        Props p = Props.from(a);
        Set<org.apache.kafka.common.GroupType> types = groupTypes(a.all("type"));
        a.done();
        try (Admin admin = p.admin()) {
            List<Object> out = new ArrayList<>();
            for (GroupListing g : listAllGroups(admin, p, types)) {
                out.add(m("group", g.groupId(), "type", g.type().map(KTool::typeName).orElse(null),
                          "protocol", g.protocol(), "state", g.groupState().map(KTool::stateName).orElse(null)));
            }
            emit(m("groups", out));
        }
        return 0;
    }

    static List<GroupListing> listAllGroups(Admin admin, Props p, Set<org.apache.kafka.common.GroupType> types) throws Exception {
        ListGroupsOptions o = new ListGroupsOptions();
        if (!types.isEmpty()) o = o.withTypes(types);
        List<GroupListing> gs = new ArrayList<>(admin.listGroups(o).all().get(p.timeoutMs, TimeUnit.MILLISECONDS));
        gs.sort(Comparator.comparing(GroupListing::groupId));
        return gs;
    }

    static int describeGroups(Args a) throws Exception {
        Props p = Props.from(a);
        List<String> groups = a.all("group");
        Set<org.apache.kafka.common.GroupType> types = groupTypes(a.all("type"));
        a.done();
        try (Admin admin = p.admin()) {
            Map<String, org.apache.kafka.common.GroupType> typeOf = new HashMap<>();
            List<GroupListing> listed = listAllGroups(admin, p, types);
            for (GroupListing g : listed) typeOf.put(g.groupId(), g.type().orElse(org.apache.kafka.common.GroupType.UNKNOWN));
            if (groups.isEmpty()) {
                for (GroupListing g : listed) groups.add(g.groupId());
            }
            List<String> share = new ArrayList<>(), streams = new ArrayList<>(), consumer = new ArrayList<>();
            for (String g : groups) {
                org.apache.kafka.common.GroupType t = typeOf.getOrDefault(g, org.apache.kafka.common.GroupType.UNKNOWN);
                if (t == org.apache.kafka.common.GroupType.SHARE) share.add(g);
                else if (t == org.apache.kafka.common.GroupType.STREAMS) streams.add(g);
                else consumer.add(g); // classic, consumer, or not listed (described as Dead)
            }
            Map<String, Object> byGroup = new HashMap<>();
            List<Throwable> errors = new ArrayList<>();
            if (!consumer.isEmpty()) {
                Map<String, KafkaFuture<ConsumerGroupDescription>> fs = admin.describeConsumerGroups(consumer).describedGroups();
                for (String g : consumer) {
                    try {
                        byGroup.put(g, consumerGroup(fs.get(g).get(p.timeoutMs, TimeUnit.MILLISECONDS)));
                    } catch (Exception e) {
                        byGroup.put(g, groupError(g, e, errors));
                    }
                }
            }
            if (!share.isEmpty()) {
                Map<String, KafkaFuture<ShareGroupDescription>> fs = admin.describeShareGroups(share).describedGroups();
                for (String g : share) {
                    try {
                        byGroup.put(g, shareGroup(fs.get(g).get(p.timeoutMs, TimeUnit.MILLISECONDS)));
                    } catch (Exception e) {
                        byGroup.put(g, groupError(g, e, errors));
                    }
                }
            }
            if (!streams.isEmpty()) {
                Map<String, KafkaFuture<StreamsGroupDescription>> fs = admin.describeStreamsGroups(streams).describedGroups();
                for (String g : streams) {
                    try {
                        byGroup.put(g, streamsGroup(fs.get(g).get(p.timeoutMs, TimeUnit.MILLISECONDS)));
                    } catch (Exception e) {
                        byGroup.put(g, groupError(g, e, errors));
                    }
                }
            }
            List<Object> out = new ArrayList<>();
            for (String g : groups) out.add(byGroup.get(g));
            emit(m("groups", out));
            return errorsExit(errors);
        }
    }

    static Map<String, Object> groupError(String g, Exception e, List<Throwable> errors) {
        Throwable c = unwrap(e);
        errors.add(c);
        printError(c.getClass().getName(), "group " + g + ": " + c.getMessage());
        return m("group", g, "error", m("type", c.getClass().getName(), "message", c.getMessage()));
    }

    static int errorsExit(List<Throwable> errors) {
        if (errors.isEmpty()) return 0;
        for (Throwable t : errors) if (exitCodeFor(t) == 3) return 3;
        return exitCodeFor(errors.get(0));
    }

    static Map<String, Object> consumerGroup(ConsumerGroupDescription d) {
        List<Object> members = new ArrayList<>();
        for (MemberDescription md : d.members()) {
            members.add(m("member_id", md.consumerId(), "group_instance_id", md.groupInstanceId().orElse(null),
                          "client_id", md.clientId(), "host", md.host(), "member_epoch", md.memberEpoch().orElse(null),
                          "assignment", tps(md.assignment().topicPartitions()),
                          "target_assignment", md.targetAssignment().map(t -> (Object) tps(t.topicPartitions())).orElse(null)));
        }
        members.sort(Comparator.comparing(x -> String.valueOf(((Map<?, ?>) x).get("client_id")) + ((Map<?, ?>) x).get("member_id")));
        return m("group", d.groupId(), "type", typeName(d.type()), "state", stateName(d.groupState()),
                 "protocol", d.partitionAssignor(), "simple", d.isSimpleConsumerGroup(),
                 "coordinator", node(d.coordinator()), "group_epoch", d.groupEpoch().orElse(null),
                 "target_assignment_epoch", d.targetAssignmentEpoch().orElse(null), "members", members);
    }

    static Map<String, Object> shareGroup(ShareGroupDescription d) {
        List<Object> members = new ArrayList<>();
        for (ShareMemberDescription md : d.members()) {
            members.add(m("member_id", md.consumerId(), "group_instance_id", null, "client_id", md.clientId(),
                          "host", md.host(), "member_epoch", md.memberEpoch(),
                          "assignment", tps(md.assignment().topicPartitions()), "target_assignment", null));
        }
        members.sort(Comparator.comparing(x -> String.valueOf(((Map<?, ?>) x).get("client_id")) + ((Map<?, ?>) x).get("member_id")));
        return m("group", d.groupId(), "type", "share", "state", stateName(d.groupState()), "protocol", null,
                 "simple", false, "coordinator", node(d.coordinator()), "group_epoch", d.groupEpoch(),
                 "target_assignment_epoch", d.targetAssignmentEpoch(), "members", members);
    }

    static Map<String, Object> streamsGroup(StreamsGroupDescription d) {
        List<Object> members = new ArrayList<>();
        for (StreamsGroupMemberDescription md : d.members()) {
            members.add(m("member_id", md.memberId(), "group_instance_id", md.instanceId().orElse(null),
                          "client_id", md.clientId(), "host", md.clientHost(), "member_epoch", md.memberEpoch(),
                          "assignment", tasks(md.assignment()), "target_assignment", tasks(md.targetAssignment())));
        }
        return m("group", d.groupId(), "type", "streams", "state", stateName(d.groupState()),
                 "protocol", d.assignorName().orElse(null), "simple", false, "coordinator", node(d.coordinator()),
                 "group_epoch", d.groupEpoch(), "target_assignment_epoch", d.targetAssignmentEpoch(), "members", members);
    }

    static List<Object> tasks(StreamsGroupMemberAssignment a) {
        List<Object> out = new ArrayList<>();
        if (a == null) return out;
        for (StreamsGroupMemberAssignment.TaskIds t : a.activeTasks()) {
            out.add(m("subtopology", t.subtopologyId(), "partitions", t.partitions(), "kind", "active"));
        }
        for (StreamsGroupMemberAssignment.TaskIds t : a.standbyTasks()) {
            out.add(m("subtopology", t.subtopologyId(), "partitions", t.partitions(), "kind", "standby"));
        }
        return out;
    }

    static int offsets(Args a) throws Exception {
        Props p = Props.from(a);
        String group = a.req("group");
        Set<String> topics = new HashSet<>(a.all("topic"));
        boolean stable = a.flag("require-stable");
        a.done();
        try (Admin admin = p.admin()) {
            Map<TopicPartition, OffsetAndMetadata> offs = admin
                .listConsumerGroupOffsets(Map.of(group, new ListConsumerGroupOffsetsSpec()),
                                          new ListConsumerGroupOffsetsOptions().requireStable(stable))
                .partitionsToOffsetAndMetadata(group).get(p.timeoutMs, TimeUnit.MILLISECONDS);
            List<Object> out = new ArrayList<>();
            for (TopicPartition tp : sorted(offs.keySet())) {
                OffsetAndMetadata om = offs.get(tp);
                if (om == null || (!topics.isEmpty() && !topics.contains(tp.topic()))) continue;
                out.add(m("topic", tp.topic(), "partition", tp.partition(), "offset", om.offset(),
                          "leader_epoch", om.leaderEpoch().orElse(null), "metadata", om.metadata()));
            }
            emit(m("group", group, "offsets", out));
        }
        return 0;
    }

    static int listOffsets(Args a) throws Exception {
        Props p = Props.from(a);
        List<String> topics = a.all("topic");
        if (topics.isEmpty()) throw new Usage("--topic is required");
        Integer only = a.intOpt("partition", null);
        Long ts = a.longOpt("timestamp-ms", null);
        a.done();
        try (Admin admin = p.admin()) {
            List<TopicPartition> tps = new ArrayList<>();
            Map<String, TopicDescription> ds = admin.describeTopics(topics).allTopicNames().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            for (String t : topics) {
                for (TopicPartitionInfo pi : ds.get(t).partitions()) {
                    if (only == null || only == pi.partition()) tps.add(new TopicPartition(t, pi.partition()));
                }
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> earliest = listAt(admin, p, tps, OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> latest = listAt(admin, p, tps, OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> stable = listAt(admin, p, tps, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> maxTs = listAt(admin, p, tps, OffsetSpec.maxTimestamp(), IsolationLevel.READ_UNCOMMITTED);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> atTs = ts == null ? null
                : listAt(admin, p, tps, OffsetSpec.forTimestamp(ts), IsolationLevel.READ_UNCOMMITTED);
            List<Object> out = new ArrayList<>();
            for (TopicPartition tp : sorted(tps)) {
                Map<String, Object> row = m("topic", tp.topic(), "partition", tp.partition(),
                    "earliest", earliest.get(tp).offset(), "latest", latest.get(tp).offset(),
                    "last_stable", stable.get(tp).offset(),
                    "max_timestamp", maxTs.get(tp).timestamp(), "max_timestamp_offset", maxTs.get(tp).offset());
                if (atTs != null) {
                    row.put("offset_for_timestamp", atTs.get(tp).offset());
                    row.put("timestamp_of_offset", atTs.get(tp).timestamp());
                }
                out.add(row);
            }
            emit(m("offsets", out));
        }
        return 0;
    }

    static Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> listAt(Admin admin, Props p, List<TopicPartition> tps,
            OffsetSpec spec, IsolationLevel iso) throws Exception {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        for (TopicPartition tp : tps) req.put(tp, spec);
        return admin.listOffsets(req, new ListOffsetsOptions(iso)).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
    }

    static int shareOffsets(Args a) throws Exception {
        Props p = Props.from(a);
        String group = a.req("group");
        Set<String> topics = new HashSet<>(a.all("topic"));
        a.done();
        try (Admin admin = p.admin()) {
            Map<TopicPartition, SharePartitionOffsetInfo> offs = admin
                .listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec()))
                .partitionsToOffsetInfo(group).get(p.timeoutMs, TimeUnit.MILLISECONDS);
            List<Object> out = new ArrayList<>();
            for (TopicPartition tp : sorted(offs.keySet())) {
                SharePartitionOffsetInfo o = offs.get(tp);
                if (o == null || (!topics.isEmpty() && !topics.contains(tp.topic()))) continue;
                out.add(m("topic", tp.topic(), "partition", tp.partition(), "start_offset", o.startOffset(),
                          "leader_epoch", o.leaderEpoch().orElse(null), "lag", o.lag().orElse(null)));
            }
            emit(m("group", group, "offsets", out));
        }
        return 0;
    }

    static int describeTopic(Args a) throws Exception {
        Props p = Props.from(a);
        String topic = a.req("topic");
        boolean all = a.flag("all-configs");
        a.done();
        try (Admin admin = p.admin()) {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(p.timeoutMs, TimeUnit.MILLISECONDS).get(topic);
            List<Object> parts = new ArrayList<>();
            for (TopicPartitionInfo pi : d.partitions()) {
                parts.add(m("partition", pi.partition(), "leader", pi.leader() == null || pi.leader().isEmpty() ? null : pi.leader().id(),
                            "replicas", ids(pi.replicas()), "isr", ids(pi.isr()), "elr", ids(pi.elr()),
                            "last_known_elr", ids(pi.lastKnownElr())));
            }
            Map<String, Object> configs = configsOf(admin, p, new ConfigResource(ConfigResource.Type.TOPIC, topic), all);
            emit(m("topic", d.name(), "topic_id", d.topicId().toString(), "internal", d.isInternal(),
                   "partitions", parts, "configs", configs));
        }
        return 0;
    }

    static Map<String, Object> configsOf(Admin admin, Props p, ConfigResource r, boolean all) throws Exception {
        Config c = admin.describeConfigs(List.of(r)).all().get(p.timeoutMs, TimeUnit.MILLISECONDS).get(r);
        Map<String, Object> out = new TreeMap<>();
        for (ConfigEntry e : c.entries()) {
            if (all || e.source() != ConfigEntry.ConfigSource.DEFAULT_CONFIG) out.put(e.name(), e.isSensitive() ? null : e.value());
        }
        return out;
    }

    static int describeConfigs(Args a) throws Exception {
        Props p = Props.from(a);
        ConfigResource r = new ConfigResource(resourceType(a.req("type")), a.opt("name", ""));
        boolean all = a.flag("all-configs");
        a.done();
        try (Admin admin = p.admin()) {
            emit(m("resource_type", a.get("type"), "name", r.name(), "configs", configsOf(admin, p, r, all)));
        }
        return 0;
    }

    // ------------------------------------------------------------------ admin actions

    static int createTopic(Args a) throws Exception {
        Props p = Props.from(a);
        String topic = a.has("name") ? a.req("name") : a.req("topic");
        Integer partitions = a.intOpt("partitions", null);
        Integer rf = a.intOpt("rf", null);
        // --config k=v (as kafka-topics.sh has it) or --topic-config k=v; a --config without '='
        // is the client properties file
        List<String> tc = a.all("topic-config");
        for (String c : a.all("config")) if (c.contains("=")) tc.add(c);
        Map<String, String> configs = kvs(tc);
        boolean ifNotExists = a.flag("if-not-exists");
        boolean noWait = a.flag("no-wait");
        a.done();
        try (Admin admin = p.admin()) {
            boolean created = true;
            NewTopic nt = new NewTopic(topic, Optional.ofNullable(partitions), Optional.ofNullable(rf).map(Integer::shortValue));
            CreateTopicsResult r = admin.createTopics(List.of(nt.configs(configs)));
            try {
                r.all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                if (!(ifNotExists && e.getCause() instanceof TopicExistsException)) throw e;
                created = false;
            }
            TopicDescription d = noWait ? null : waitForLeaders(admin, p, topic, partitions == null ? 1 : partitions);
            emit(m("topic", topic, "created", created, "partitions", d == null ? partitions : d.partitions().size(),
                   "replication_factor", d == null ? rf : d.partitions().get(0).replicas().size(),
                   "topic_id", d == null ? null : d.topicId().toString(), "configs", configs));
        }
        return 0;
    }

    // Until every partition has a leader that answers ListOffsets: the topic is usable.
    static TopicDescription waitForLeaders(Admin admin, Props p, String topic, int minPartitions) throws Exception {
        long deadline = System.nanoTime() + p.timeoutMs * 1_000_000L;
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(p.timeoutMs, TimeUnit.MILLISECONDS).get(topic);
                boolean ok = d.partitions().size() >= minPartitions;
                List<TopicPartition> tps = new ArrayList<>();
                for (TopicPartitionInfo pi : d.partitions()) {
                    ok &= pi.leader() != null && !pi.leader().isEmpty();
                    tps.add(new TopicPartition(topic, pi.partition()));
                }
                if (ok) {
                    listAt(admin, p, tps, OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED);
                    return d;
                }
            } catch (ExecutionException e) {
                last = e;
            }
            sleep(100);
        }
        throw new TimeoutException("topic " + topic + " not ready in " + p.timeoutMs + " ms" + (last == null ? "" : ": " + unwrap(last)));
    }

    static int addPartitions(Args a) throws Exception {
        Props p = Props.from(a);
        String topic = a.req("topic");
        int total = a.reqInt("total");
        a.done();
        try (Admin admin = p.admin()) {
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(total))).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            TopicDescription d = waitForLeaders(admin, p, topic, total);
            emit(m("topic", topic, "partitions", d.partitions().size()));
        }
        return 0;
    }

    static int deleteTopic(Args a) throws Exception {
        Props p = Props.from(a);
        List<String> topics = a.all("topic");
        topics.addAll(a.all("name"));
        if (topics.isEmpty()) throw new Usage("--topic is required");
        boolean ifExists = a.flag("if-exists");
        a.done();
        try (Admin admin = p.admin()) {
            List<String> deleted = new ArrayList<>();
            Map<String, KafkaFuture<Void>> fs = admin.deleteTopics(topics).topicNameValues();
            for (String t : topics) {
                try {
                    fs.get(t).get(p.timeoutMs, TimeUnit.MILLISECONDS);
                    deleted.add(t);
                } catch (ExecutionException e) {
                    if (!(ifExists && e.getCause() instanceof UnknownTopicOrPartitionException)) throw e;
                }
            }
            emit(m("deleted", deleted));
        }
        return 0;
    }

    static int deleteRecords(Args a) throws Exception {
        Props p = Props.from(a);
        String topic = a.req("topic");
        Integer only = a.intOpt("partition", null);
        long before = a.reqLong("before");
        a.done();
        try (Admin admin = p.admin()) {
            Map<TopicPartition, RecordsToDelete> req = new LinkedHashMap<>();
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(p.timeoutMs, TimeUnit.MILLISECONDS).get(topic);
            for (TopicPartitionInfo pi : d.partitions()) {
                if (only == null || only == pi.partition()) {
                    req.put(new TopicPartition(topic, pi.partition()), RecordsToDelete.beforeOffset(before));
                }
            }
            Map<TopicPartition, KafkaFuture<DeletedRecords>> fs = admin.deleteRecords(req).lowWatermarks();
            List<Object> out = new ArrayList<>();
            for (TopicPartition tp : sorted(fs.keySet())) {
                out.add(m("partition", tp.partition(), "low_watermark", fs.get(tp).get(p.timeoutMs, TimeUnit.MILLISECONDS).lowWatermark()));
            }
            emit(m("topic", topic, "results", out));
        }
        return 0;
    }

    static int deleteGroup(Args a) throws Exception {
        Props p = Props.from(a);
        List<String> groups = a.all("group");
        if (groups.isEmpty()) throw new Usage("--group is required");
        boolean ifExists = a.flag("if-exists");
        a.done();
        try (Admin admin = p.admin()) {
            Map<String, org.apache.kafka.common.GroupType> typeOf = new HashMap<>();
            for (GroupListing g : listAllGroups(admin, p, Set.of())) typeOf.put(g.groupId(), g.type().orElse(null));
            List<String> deleted = new ArrayList<>();
            for (String g : groups) {
                org.apache.kafka.common.GroupType t = typeOf.get(g);
                KafkaFuture<Void> f;
                if (t == org.apache.kafka.common.GroupType.SHARE) f = admin.deleteShareGroups(List.of(g)).all();
                else if (t == org.apache.kafka.common.GroupType.STREAMS) f = admin.deleteStreamsGroups(List.of(g)).all();
                else f = admin.deleteConsumerGroups(List.of(g)).all();
                try {
                    f.get(p.timeoutMs, TimeUnit.MILLISECONDS);
                    deleted.add(g);
                } catch (ExecutionException e) {
                    if (!(ifExists && e.getCause() instanceof GroupIdNotFoundException)) throw e;
                }
            }
            emit(m("deleted", deleted));
        }
        return 0;
    }

    static int alterOffsets(Args a) throws Exception {
        Props p = Props.from(a);
        String group = a.req("group");
        String topic = a.req("topic");
        List<String> specs = new ArrayList<>();
        for (String s : a.all("offset")) specs.addAll(Arrays.asList(s.split(",")));
        for (String s : a.all("offsets")) specs.addAll(Arrays.asList(s.split(",")));
        if (specs.isEmpty()) throw new Usage("--offset PARTITION=OFFSET is required");
        String type = a.opt("type", "consumer");
        String metadata = a.opt("metadata", "");
        a.done();
        Map<TopicPartition, Long> want = new LinkedHashMap<>();
        for (String s : specs) {
            String[] kv = s.split("=", 2);
            if (kv.length != 2) throw new Usage("bad --offset " + s + " (want PARTITION=OFFSET)");
            want.put(new TopicPartition(topic, Integer.parseInt(kv[0].trim())), Long.parseLong(kv[1].trim()));
        }
        try (Admin admin = p.admin()) {
            if (type.equals("share")) {
                admin.alterShareGroupOffsets(group, want).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            } else if (type.equals("consumer") || type.equals("classic")) {
                Map<TopicPartition, OffsetAndMetadata> req = new LinkedHashMap<>();
                want.forEach((tp, o) -> req.put(tp, new OffsetAndMetadata(o, metadata)));
                admin.alterConsumerGroupOffsets(group, req).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            } else {
                throw new Usage("--type must be consumer or share");
            }
            List<Object> out = new ArrayList<>();
            for (TopicPartition tp : sorted(want.keySet())) out.add(m("topic", tp.topic(), "partition", tp.partition(), "offset", want.get(tp)));
            emit(m("group", group, "type", type, "offsets", out));
        }
        return 0;
    }

    static int createAcl(Args a, boolean delete) throws Exception {
        Props p = Props.from(a);
        String principal = a.req("principal");
        ResourceType rt = aclResourceType(a.req("resource-type"));
        String name = a.opt("name", rt == ResourceType.CLUSTER ? "kafka-cluster" : null);
        if (name == null) throw new Usage("--name is required");
        PatternType pattern = PatternType.fromString(a.opt("pattern", "literal").toUpperCase());
        if (pattern != PatternType.LITERAL && pattern != PatternType.PREFIXED) throw new Usage("--pattern must be literal or prefixed");
        List<AclOperation> ops = new ArrayList<>();
        for (String o : a.all("operation")) for (String x : o.split(",")) ops.add(aclOperation(x));
        if (ops.isEmpty()) throw new Usage("--operation is required");
        AclPermissionType perm = AclPermissionType.fromString(a.opt("permission", "allow").toUpperCase());
        String host = a.opt("host", "*");
        a.done();
        try (Admin admin = p.admin()) {
            List<Object> out = new ArrayList<>();
            if (delete) {
                List<AclBindingFilter> filters = new ArrayList<>();
                for (AclOperation op : ops) {
                    filters.add(new AclBindingFilter(new ResourcePatternFilter(rt, name, pattern),
                                                     new AccessControlEntryFilter(principal, host, op, perm)));
                }
                Collection<AclBinding> gone = admin.deleteAcls(filters).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
                for (AclBinding b : gone) out.add(acl(b));
                emit(m("deleted", out));
            } else {
                List<AclBinding> bs = new ArrayList<>();
                for (AclOperation op : ops) {
                    bs.add(new AclBinding(new ResourcePattern(rt, name, pattern), new AccessControlEntry(principal, host, op, perm)));
                }
                admin.createAcls(bs).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
                for (AclBinding b : bs) out.add(acl(b));
                emit(m("created", out));
            }
        }
        return 0;
    }

    // ACLs from a file, one per line: PRINCIPAL RESOURCE_TYPE PATTERN NAME OPERATION[,OPERATION..] [allow|deny]
    // e.g. "User:lagwatch group literal * describe,read". '#' starts a comment.
    static int applyAcls(Args a) throws Exception {
        Props p = Props.from(a);
        String file = a.req("file");
        a.done();
        try (Admin admin = p.admin()) {
            List<Object> out = new ArrayList<>();
            for (AclBinding b : createAclsFromFile(admin, p, file)) out.add(acl(b));
            emit(m("created", out));
        }
        return 0;
    }

    static List<AclBinding> createAclsFromFile(Admin admin, Props p, String file) throws Exception {
        List<AclBinding> bs = new ArrayList<>();
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(file), StandardCharsets.UTF_8)) {
            line = line.replaceAll("#.*", "").trim();
            if (line.isEmpty()) continue;
            String[] f = line.split("\\s+");
            if (f.length < 5 || f.length > 6) throw new Usage(file + ": bad ACL line: " + line);
            PatternType pattern = PatternType.fromString(f[2].toUpperCase());
            AclPermissionType perm = AclPermissionType.fromString(f.length == 6 ? f[5].toUpperCase() : "ALLOW");
            for (String op : f[4].split(",")) {
                bs.add(new AclBinding(new ResourcePattern(aclResourceType(f[1]), f[3], pattern),
                                      new AccessControlEntry(f[0], "*", aclOperation(op), perm)));
            }
        }
        admin.createAcls(bs).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
        return bs;
    }

    static int describeAcls(Args a) throws Exception {
        Props p = Props.from(a);
        String principal = a.opt("principal", null);
        ResourceType rt = a.has("resource-type") ? aclResourceType(a.req("resource-type")) : ResourceType.ANY;
        String name = a.opt("name", null);
        a.done();
        try (Admin admin = p.admin()) {
            AclBindingFilter f = new AclBindingFilter(new ResourcePatternFilter(rt, name, PatternType.ANY),
                new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
            List<Map<String, Object>> out = new ArrayList<>();
            for (AclBinding b : admin.describeAcls(f).values().get(p.timeoutMs, TimeUnit.MILLISECONDS)) out.add(acl(b));
            out.sort(Comparator.comparing(Object::toString));
            emit(m("acls", out));
        }
        return 0;
    }

    static Map<String, Object> acl(AclBinding b) {
        return m("principal", b.entry().principal(), "host", b.entry().host(),
                 "operation", b.entry().operation().name().toLowerCase(), "permission", b.entry().permissionType().name().toLowerCase(),
                 "resource_type", b.pattern().resourceType().name().toLowerCase(), "name", b.pattern().name(),
                 "pattern", b.pattern().patternType().name().toLowerCase());
    }

    static int alterConfig(Args a) throws Exception {
        Props p = Props.from(a);
        String type = a.req("type");
        ConfigResource r = new ConfigResource(resourceType(type), a.opt("name", ""));
        List<AlterConfigOp> ops = new ArrayList<>();
        Map<String, Object> summary = new LinkedHashMap<>();
        for (String[] op : new String[][] {{"set", "SET"}, {"append", "APPEND"}, {"subtract", "SUBTRACT"}}) {
            Map<String, String> kv = kvs(a.all(op[0]));
            for (Map.Entry<String, String> e : kv.entrySet()) {
                ops.add(new AlterConfigOp(new ConfigEntry(e.getKey(), e.getValue()), AlterConfigOp.OpType.valueOf(op[1])));
            }
            if (!kv.isEmpty()) summary.put(op[0], kv);
        }
        List<String> dels = a.all("delete");
        for (String k : dels) ops.add(new AlterConfigOp(new ConfigEntry(k, null), AlterConfigOp.OpType.DELETE));
        if (!dels.isEmpty()) summary.put("delete", dels);
        if (ops.isEmpty()) throw new Usage("nothing to change: give --set/--delete/--append/--subtract");
        a.done();
        try (Admin admin = p.admin()) {
            admin.incrementalAlterConfigs(Map.of(r, ops)).all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            Map<String, Object> out = m("resource_type", type, "name", r.name());
            out.putAll(summary);
            emit(out);
        }
        return 0;
    }

    // ------------------------------------------------------------------ data: produce

    static int produce(Args a) throws Exception {
        Props p = Props.from(a);
        String topic = a.req("topic");
        long count = a.longOpt("count", 1L);
        Integer partition = a.intOpt("partition", null);
        String key = a.opt("key", null);
        int valueSize = a.intOpt("value-size", 0);
        Long ts = a.longOpt("timestamp-ms", null);
        // Record i gets timestamp-ms + i * step: tests of time lag tell records apart by time.
        long tsStep = a.longOpt("timestamp-step-ms", 0L);
        String compression = a.opt("compression", "none");
        String acks = a.opt("acks", "all");
        String txn = a.opt("txn", null);
        String txnId = a.opt("transactional-id", null);
        int txnTimeout = a.intOpt("txn-timeout-ms", 60000);
        boolean noStdin = a.flag("no-stdin");
        a.done();
        if (txn != null && !Set.of("commit", "abort", "open").contains(txn)) throw new Usage("--txn must be commit, abort or open");
        if (txnId != null && txn == null) txn = "commit";
        if (txn != null && txnId == null) txnId = "ktool-" + UUID.randomUUID();

        Properties pp = p.clientProps();
        pp.put(ProducerConfig.ACKS_CONFIG, acks);
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        pp.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "ktool-producer-" + ProcessHandle.current().pid());
        if (!acks.equals("all")) pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        if (txn != null) {
            pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
            pp.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, String.valueOf(txnTimeout));
        }
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(p.timeoutMs));
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, String.valueOf(Math.max(p.timeoutMs, 10000)));
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(Math.min(p.timeoutMs, 10000)));

        KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer());
        try {
            if (txn != null) {
                prod.initTransactions();
                prod.beginTransaction();
            }
            List<PartitionInfo> parts = new ArrayList<>(prod.partitionsFor(topic));
            parts.sort(Comparator.comparingInt(PartitionInfo::partition));
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (long i = 0; i < count; i++) {
                Integer part = partition != null ? partition : (key != null ? null : parts.get((int) (i % parts.size())).partition());
                byte[] k = (key != null ? key : "key-" + i).getBytes(StandardCharsets.UTF_8);
                Long t = ts == null ? null : ts + i * tsStep;
                fs.add(prod.send(new ProducerRecord<>(topic, part, t, k, value(i, valueSize))));
            }
            prod.flush();
            Map<Integer, long[]> per = new TreeMap<>(); // partition -> {count, first, last}
            for (Future<RecordMetadata> f : fs) {
                RecordMetadata md = f.get(p.timeoutMs, TimeUnit.MILLISECONDS);
                long[] s = per.computeIfAbsent(md.partition(), x -> new long[] {0, Long.MAX_VALUE, -1});
                s[0]++;
                s[1] = Math.min(s[1], md.offset());
                s[2] = Math.max(s[2], md.offset());
            }
            List<Object> out = new ArrayList<>();
            per.forEach((pt, s) -> out.add(m("partition", pt, "count", s[0], "first_offset", s[1], "last_offset", s[2])));
            Map<String, Object> doc = m("topic", topic, "count", count, "transactional_id", txnId, "txn", txn, "partitions", out);
            if ("commit".equals(txn)) prod.commitTransaction();
            if ("abort".equals(txn)) prod.abortTransaction();
            if (!"open".equals(txn)) {
                prod.close(Duration.ofMillis(p.timeoutMs));
                doc.put("event", "done");
                emit(doc);
                return 0;
            }
            doc.put("event", "open");
            emit(doc);
            // Transaction left open: wait for "commit"/"abort" on stdin, EOF (leave it open and
            // exit at once, as if killed), or a signal (the same).
            if (noStdin) {
                new CountDownLatch(1).await();
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                line = line.trim();
                if (line.equals("commit")) {
                    prod.commitTransaction();
                    prod.close(Duration.ofMillis(p.timeoutMs));
                    emit(m("event", "done", "txn", "committed", "transactional_id", txnId));
                    return 0;
                } else if (line.equals("abort")) {
                    prod.abortTransaction();
                    prod.close(Duration.ofMillis(p.timeoutMs));
                    emit(m("event", "done", "txn", "aborted", "transactional_id", txnId));
                    return 0;
                }
            }
            OUT.flush();
            Runtime.getRuntime().halt(0);
            return 0;
        } catch (Exception e) {
            prod.close(Duration.ZERO);
            throw e;
        }
    }

    static byte[] value(long i, int size) {
        byte[] base = ("value-" + i).getBytes(StandardCharsets.UTF_8);
        if (size <= base.length) return base;
        byte[] v = Arrays.copyOf(base, size);
        Arrays.fill(v, base.length, size, (byte) 'x');
        return v;
    }

    // ------------------------------------------------------------------ data: consume

    static final AtomicBoolean SHUTTING_DOWN = new AtomicBoolean(false);

    // Stop requests for the long-running commands: stdin EOF (unless noStdin) or SIGTERM/SIGINT.
    // `onStop` wakes the polling thread; the hook waits (up to 15 s) for `done` so the client
    // can leave its group cleanly before the JVM exits.
    static void installStop(AtomicBoolean stop, Runnable onStop, CountDownLatch done, boolean noStdin) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            SHUTTING_DOWN.set(true);
            stop.set(true);
            onStop.run();
            try {
                done.await(15, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // exiting anyway
            }
        }));
        if (!noStdin) {
            Thread t = new Thread(() -> {
                try {
                    byte[] buf = new byte[256];
                    while (System.in.read(buf) >= 0) {
                        // ignore input; wait for EOF
                    }
                } catch (IOException ignored) {
                    // treat as EOF
                }
                stop.set(true);
                onStop.run();
            }, "ktool-stdin");
            t.setDaemon(true);
            t.start();
        }
    }

    static final class Progress {
        final Map<TopicPartition, long[]> per = new TreeMap<>(Comparator.comparing(TopicPartition::toString)); // count, first, last
        long total;

        void add(TopicPartition tp, long offset) {
            long[] s = per.computeIfAbsent(tp, x -> new long[] {0, Long.MAX_VALUE, -1});
            s[0]++;
            s[1] = Math.min(s[1], offset);
            s[2] = Math.max(s[2], offset);
            total++;
        }

        List<Object> json() {
            List<Object> out = new ArrayList<>();
            for (TopicPartition tp : sorted(per.keySet())) {
                long[] s = per.get(tp);
                out.add(m("topic", tp.topic(), "partition", tp.partition(), "count", s[0], "first_offset", s[1], "last_offset", s[2]));
            }
            return out;
        }
    }

    static int consume(Args a) throws Exception {
        Props p = Props.from(a);
        String group = a.req("group");
        List<String> topics = splitAll(a.all("topic"));
        if (topics.isEmpty()) throw new Usage("--topic is required");
        String protocol = a.opt("protocol", "classic");
        Long max = a.longOpt("max", null);
        boolean commit = a.flag("commit");
        boolean hold = a.flag("hold");
        boolean noStdin = a.flag("no-stdin");
        String from = a.opt("from", "earliest");
        String isolation = a.opt("isolation", "read_uncommitted");
        String clientId = a.opt("client-id", "ktool-consumer-" + ProcessHandle.current().pid());
        String instanceId = a.opt("group-instance-id", null);
        Integer sessionTimeout = a.intOpt("session-timeout-ms", null);
        String assignor = a.opt("assignor", null);
        boolean stall = a.flag("stall");
        Integer maxPollInterval = a.intOpt("max-poll-interval-ms", null);
        a.done();
        if (!protocol.equals("classic") && !protocol.equals("consumer")) throw new Usage("--protocol must be classic or consumer");
        if (stall && (!hold || max == null)) throw new Usage("--stall needs --hold and --max");

        Properties cp = p.clientProps();
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, from);
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        cp.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        cp.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(p.timeoutMs));
        if (instanceId != null) cp.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instanceId);
        if (max != null) cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(Math.max(1, Math.min(max, 500))));
        if (protocol.equals("classic")) {
            if (sessionTimeout != null) cp.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, String.valueOf(sessionTimeout));
            // the classic protocol's rebalance timeout: how long a rebalance waits for a stalled member
            if (maxPollInterval != null) cp.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, String.valueOf(maxPollInterval));
        } else {
            if (maxPollInterval != null) throw new Usage("--max-poll-interval-ms is a classic-protocol setting here");
            if (sessionTimeout != null) throw new Usage("--session-timeout-ms is a classic-protocol setting (consumer groups: group config consumer.session.timeout.ms)");
            if (assignor != null) cp.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, assignor);
        }

        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        AtomicBoolean stop = new AtomicBoolean(false);
        CountDownLatch done = new CountDownLatch(1);
        if (hold) installStop(stop, c::wakeup, done, noStdin);
        Progress prog = new Progress();
        Map<TopicPartition, OffsetAndMetadata> committed = new TreeMap<>(Comparator.comparing(TopicPartition::toString));
        AtomicBoolean joined = new AtomicBoolean(false);
        AtomicBoolean pausedForever = new AtomicBoolean(false);
        try {
            c.subscribe(topics, new ConsumerRebalanceListener() {
                @Override public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                    if (joined.get() && !ps.isEmpty()) emit(m("event", "revoked", "partitions", tps(ps)));
                }
                @Override public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                    if (pausedForever.get()) c.pause(ps);
                    if (joined.compareAndSet(false, true)) {
                        emit(m("event", "joined", "group", group, "client_id", clientId, "protocol", protocol,
                               "member_id", memberId(c), "assignment", tps(c.assignment())));
                    } else {
                        emit(m("event", "assigned", "partitions", tps(ps), "assignment", tps(c.assignment())));
                    }
                }
            });
            long deadline = System.nanoTime() + p.timeoutMs * 1_000_000L;
            boolean complete = false;
            boolean wasCaughtUp = false;
            while (!stop.get()) {
                ConsumerRecords<byte[], byte[]> recs;
                try {
                    recs = c.poll(Duration.ofMillis(200));
                } catch (WakeupException e) {
                    continue;
                }
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    if (max != null && prog.total >= max) break;
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    prog.add(tp, r.offset());
                    next.put(tp, new OffsetAndMetadata(r.offset() + 1, r.leaderEpoch(), ""));
                }
                if (!next.isEmpty() && commit) {
                    c.commitSync(next);
                    committed.putAll(next);
                }
                boolean reachedMax = max != null && prog.total >= max;
                // without --max: read up to the end offsets (the LSO with read_committed) of
                // every assigned partition, as they are when checked
                boolean caughtUp = max == null && joined.get() && caughtUp(c);
                if (hold && caughtUp && !wasCaughtUp) {
                    emit(m("event", "caught_up", "consumed", prog.total, "partitions", prog.json(), "committed", offsetsJson(committed)));
                }
                wasCaughtUp = caughtUp;
                if (!hold) {
                    if (reachedMax || caughtUp) {
                        complete = true;
                        break;
                    }
                    if (System.nanoTime() > deadline) break;
                } else if (reachedMax && !pausedForever.get()) {
                    // keep the membership but read nothing more
                    pausedForever.set(true);
                    c.pause(c.assignment());
                    // a poll may have fetched more than the rest of --max: rewind to what we counted
                    for (Map.Entry<TopicPartition, long[]> e : prog.per.entrySet()) {
                        if (c.assignment().contains(e.getKey())) c.seek(e.getKey(), e.getValue()[2] + 1);
                    }
                    emit(m("event", "consumed", "consumed", prog.total, "partitions", prog.json(), "committed", offsetsJson(committed)));
                    complete = true;
                    // A member that stops polling: the heartbeat thread keeps it in the group, but
                    // only poll() rejoins, so a rebalance waits for it (PreparingRebalance).
                    while (stall && !stop.get()) Thread.sleep(100);
                } else if (!joined.get() && System.nanoTime() > deadline) {
                    throw new TimeoutException("did not join group " + group + " within " + p.timeoutMs + " ms");
                }
            }
            if (hold && max == null) complete = true;
            Map<String, Object> doc = m("event", "done", "group", group, "client_id", clientId, "consumed", prog.total,
                                        "complete", complete, "partitions", prog.json(), "committed", offsetsJson(committed));
            c.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofMillis(Math.min(p.timeoutMs, 10000))));
            emit(doc);
            if (!complete) {
                printError("Timeout", (joined.get() ? "consumed only " + prog.total + " of " + max : "never joined group " + group)
                           + " within " + p.timeoutMs + " ms");
                return 4;
            }
            return 0;
        } finally {
            done.countDown();
        }
    }

    static boolean caughtUp(KafkaConsumer<?, ?> c) {
        Set<TopicPartition> asg = c.assignment();
        if (asg.isEmpty()) return true;
        Map<TopicPartition, Long> ends = c.endOffsets(asg);
        for (TopicPartition tp : asg) {
            Long end = ends.get(tp);
            if (end != null && c.position(tp) < end) return false;
        }
        return true;
    }

    static String memberId(KafkaConsumer<?, ?> c) {
        try {
            return c.groupMetadata().memberId();
        } catch (RuntimeException e) {
            return null;
        }
    }

    static List<Object> offsetsJson(Map<TopicPartition, OffsetAndMetadata> offs) {
        List<Object> out = new ArrayList<>();
        for (TopicPartition tp : sorted(offs.keySet())) out.add(m("topic", tp.topic(), "partition", tp.partition(), "offset", offs.get(tp).offset()));
        return out;
    }

    // ------------------------------------------------------------------ data: share-consume

    static int shareConsume(Args a) throws Exception {
        Props p = Props.from(a);
        String group = a.req("group");
        List<String> topics = splitAll(a.all("topic"));
        if (topics.isEmpty()) throw new Usage("--topic is required");
        Long max = a.longOpt("max", null);
        boolean hold = a.flag("hold");
        boolean noStdin = a.flag("no-stdin");
        String from = a.opt("from", "earliest");
        AcknowledgeType ack = AcknowledgeType.valueOf(a.opt("ack", "accept").toUpperCase());
        String clientId = a.opt("client-id", "ktool-share-" + ProcessHandle.current().pid());
        long idleMs = a.longOpt("idle-ms", 3000L);
        a.done();

        try (Admin admin = p.admin()) {
            if (!from.equals("none")) {
                // share groups start at the log end unless the group config says otherwise
                ConfigResource r = new ConfigResource(ConfigResource.Type.GROUP, group);
                admin.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(
                    new ConfigEntry("share.auto.offset.reset", from), AlterConfigOp.OpType.SET))))
                    .all().get(p.timeoutMs, TimeUnit.MILLISECONDS);
            }
            Properties cp = p.clientProps();
            cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            cp.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
            cp.put("share.acknowledgement.mode", "explicit");
            if (max != null) cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(Math.max(1, Math.min(max, 500))));
            KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            AtomicBoolean stop = new AtomicBoolean(false);
            CountDownLatch done = new CountDownLatch(1);
            if (hold) installStop(stop, c::wakeup, done, noStdin);
            Progress prog = new Progress();
            Map<String, Long> acks = new TreeMap<>();
            boolean joined = false;
            boolean complete = false;
            long deadline = System.nanoTime() + p.timeoutMs * 1_000_000L;
            long lastRecord = System.nanoTime();
            long nextCheck = 0;
            try {
                c.subscribe(topics);
                boolean paused = false;
                while (!stop.get()) {
                    if (paused) {
                        // --max reached with --hold: stay a member without fetching (a fetch would
                        // acquire records that we would only have to release again)
                        sleep(200);
                        continue;
                    }
                    ConsumerRecords<byte[], byte[]> recs;
                    try {
                        recs = c.poll(Duration.ofMillis(200));
                    } catch (WakeupException e) {
                        continue;
                    }
                    int n = 0;
                    for (ConsumerRecord<byte[], byte[]> r : recs) {
                        if (max == null || prog.total < max) {
                            c.acknowledge(r, ack);
                            prog.add(new TopicPartition(r.topic(), r.partition()), r.offset());
                            acks.merge(ack.name().toLowerCase(), 1L, Long::sum);
                            n++;
                        } else {
                            c.acknowledge(r, AcknowledgeType.RELEASE);
                            acks.merge("release_extra", 1L, Long::sum);
                        }
                    }
                    if (!recs.isEmpty()) c.commitSync(Duration.ofMillis(p.timeoutMs));
                    if (n > 0) lastRecord = System.nanoTime();
                    if (!joined && (n > 0 || System.nanoTime() > nextCheck)) {
                        nextCheck = System.nanoTime() + 500_000_000L;
                        ShareMemberDescription me = shareMember(admin, group, clientId);
                        if (me != null && (n > 0 || !me.assignment().topicPartitions().isEmpty())) {
                            joined = true;
                            lastRecord = Math.max(lastRecord, System.nanoTime());
                            emit(m("event", "joined", "group", group, "client_id", clientId, "member_id", me.consumerId(),
                                   "assignment", tps(me.assignment().topicPartitions())));
                        }
                    }
                    boolean reachedMax = max != null && prog.total >= max;
                    boolean idle = max == null && joined && (System.nanoTime() - lastRecord) / 1_000_000 >= idleMs;
                    if (!hold) {
                        if (reachedMax || idle) {
                            complete = true;
                            break;
                        }
                        if (System.nanoTime() > deadline) break;
                    } else if (reachedMax) {
                        paused = true;
                        complete = true;
                        emit(m("event", "consumed", "consumed", prog.total, "partitions", prog.json(), "acknowledged", acks));
                    }
                }
                if (hold && max == null) complete = true;
                Map<String, Object> doc = m("event", "done", "group", group, "client_id", clientId, "consumed", prog.total,
                                            "complete", complete, "acknowledged", acks, "partitions", prog.json());
                c.close(Duration.ofMillis(Math.min(p.timeoutMs, 10000)));
                emit(doc);
                if (!complete) {
                    printError("Timeout", (joined ? "consumed only " + prog.total + " of " + max : "never joined share group " + group)
                               + " within " + p.timeoutMs + " ms");
                    return 4;
                }
                return 0;
            } finally {
                done.countDown();
            }
        }
    }

    static ShareMemberDescription shareMember(Admin admin, String group, String clientId) {
        try {
            ShareGroupDescription d = admin.describeShareGroups(List.of(group)).describedGroups().get(group).get(5, TimeUnit.SECONDS);
            for (ShareMemberDescription md : d.members()) if (clientId.equals(md.clientId())) return md;
        } catch (Exception e) {
            // not yet
        }
        return null;
    }

    // ------------------------------------------------------------------ helpers

    // Used by install-kafka to record a class-data-sharing archive (-XX:ArchiveClassesAtExit):
    // loads the classes of every client kind by talking to a port where nothing listens.
    static int cdsTrain(Args a) throws Exception {
        String addr = a.opt("bootstrap", "127.0.0.1:9");
        a.done();
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(org.apache.logging.log4j.Level.OFF);
        Properties pr = new Properties();
        pr.put("bootstrap.servers", addr);
        pr.put("request.timeout.ms", "1000");
        pr.put("default.api.timeout.ms", "1500");
        pr.put("max.block.ms", "1000");
        pr.put("reconnect.backoff.max.ms", "100");
        Props p = new Props(pr, 1500);
        try (Admin admin = p.admin()) {
            admin.describeCluster().nodes().get(2, TimeUnit.SECONDS);
        } catch (Exception expected) {
            // nothing listens there
        }
        Properties pp = p.clientProps();
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            prod.send(new ProducerRecord<>("t", 0, null, value(0, 10))).get(2, TimeUnit.SECONDS);
        } catch (Exception expected) {
            // nothing listens there
        }
        for (String protocol : new String[] {"classic", "consumer"}) {
            Properties cp = p.clientProps();
            cp.put(ConsumerConfig.GROUP_ID_CONFIG, "g");
            cp.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                c.subscribe(List.of("t"));
                c.poll(Duration.ofMillis(300));
            } catch (Exception expected) {
                // nothing listens there
            }
        }
        Properties sp = p.clientProps();
        sp.put(ConsumerConfig.GROUP_ID_CONFIG, "g");
        try (KafkaShareConsumer<byte[], byte[]> c = new KafkaShareConsumer<>(sp, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of("t"));
            c.poll(Duration.ofMillis(300));
        } catch (Exception expected) {
            // nothing listens there
        }
        emit(m("trained", true));
        return 0;
    }

    // For .ci/kafka-cluster: kafka-storage format for several nodes in one JVM (saves a JVM
    // start per node). format-storage --server-config F.. then kafka-storage format's own
    // arguments (--cluster-id, --feature, --add-scram, ...) for every node.
    // Needs kafka_2.13 on the class path (it is in the libs directory).
    static int formatStorage(String[] argv) throws Exception {
        List<String> servers = new ArrayList<>();
        List<String> common = new ArrayList<>();
        for (int i = 1; i < argv.length; i++) {
            if (argv[i].equals("--server-config") && i + 1 < argv.length) servers.add(argv[++i]);
            else common.add(argv[i]);
        }
        if (servers.isEmpty()) throw new Usage("--server-config FILE is required");
        Class<?> tool = Class.forName("kafka.tools.StorageTool");
        java.lang.reflect.Method execute = tool.getMethod("execute", String[].class, PrintStream.class);
        List<Object> out = new ArrayList<>();
        for (String server : servers) {
            List<String> args = new ArrayList<>(List.of("format", "--config", server));
            args.addAll(common);
            java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
            PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
            try {
                int rc = (Integer) execute.invoke(null, args.toArray(new String[0]), ps);
                if (rc != 0) throw new RuntimeException("kafka-storage format exited " + rc + ": " + buf);
            } catch (java.lang.reflect.InvocationTargetException e) {
                System.err.print(buf.toString(StandardCharsets.UTF_8));
                throw new RuntimeException("kafka-storage format " + server + ": " + e.getCause(), e.getCause());
            }
            System.err.print(buf.toString(StandardCharsets.UTF_8));
            out.add(server);
        }
        emit(m("formatted", out));
        return 0;
    }

    static Map<String, Object> clientVersion() throws IOException {
        Properties v = new Properties();
        try (java.io.InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in != null) v.load(in);
        }
        return m("kafka_version", v.getProperty("version"), "commit", v.getProperty("commitId"));
    }

    static final class Usage extends Exception {
        Usage(String msg) {
            super(msg);
        }
    }

    // Client settings: --config FILE (Java client properties), then --bootstrap, then --property k=v.
    static final class Props {
        final Properties props;
        final long timeoutMs;

        Props(Properties props, long timeoutMs) {
            this.props = props;
            this.timeoutMs = timeoutMs;
        }

        static Props from(Args a) throws Usage, IOException {
            List<String> cfgs = a.all("config");
            cfgs.removeIf(c -> c.contains("=")); // create-topic's --config k=v
            Properties pr = new Properties();
            if (!cfgs.isEmpty()) loadInto(pr, cfgs.get(0));
            if (a.has("bootstrap")) pr.put("bootstrap.servers", a.req("bootstrap"));
            pr.putAll(kvs(a.all("property")));
            if (!pr.containsKey("bootstrap.servers")) throw new Usage("no bootstrap.servers: give --config FILE or --bootstrap H:P");
            return new Props(pr, a.longOpt("timeout-ms", 30000L));
        }

        // another config file, with the same --timeout-ms (and --property overrides) as `base`
        static Props load(String file, Props base) throws IOException {
            if (file == null) return base;
            Properties pr = new Properties();
            loadInto(pr, file);
            return new Props(pr, base.timeoutMs);
        }

        static void loadInto(Properties pr, String file) throws IOException {
            try (FileInputStream in = new FileInputStream(file)) {
                pr.load(in);
            }
        }

        Properties clientProps() {
            Properties c = new Properties();
            c.putAll(props);
            return c;
        }

        Properties adminProps() {
            Properties c = clientProps();
            c.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(timeoutMs));
            c.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(Math.min(timeoutMs, 15000)));
            c.putIfAbsent(AdminClientConfig.CLIENT_ID_CONFIG, "ktool-admin-" + ProcessHandle.current().pid());
            return c;
        }

        Admin admin() {
            return Admin.create(adminProps());
        }
    }

    // --key value options (repeatable); a fixed set of boolean flags takes no value.
    static final class Args {
        static final Set<String> FLAGS = Set.of("commit", "hold", "if-not-exists", "if-exists", "no-wait", "no-stdin",
                                                "all-configs", "require-stable", "warmup", "stall");
        final Map<String, List<String>> opts = new LinkedHashMap<>();
        final Set<String> used = new HashSet<>();

        Args(String[] argv) throws Usage {
            for (int i = 0; i < argv.length; i++) {
                String s = argv[i];
                if (!s.startsWith("--")) throw new Usage("unexpected argument: " + s);
                String k = s.substring(2);
                String v;
                int eq = k.indexOf('=');
                if (eq > 0 && !FLAGS.contains(k)) {
                    v = k.substring(eq + 1);
                    k = k.substring(0, eq);
                } else if (FLAGS.contains(k)) {
                    v = "true";
                } else {
                    if (i + 1 >= argv.length) throw new Usage("--" + k + " needs a value");
                    v = argv[++i];
                }
                opts.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
            }
        }

        boolean has(String k) {
            used.add(k);
            return opts.containsKey(k);
        }

        String get(String k) {
            List<String> v = opts.get(k);
            return v == null ? null : v.get(v.size() - 1);
        }

        String req(String k) throws Usage {
            used.add(k);
            String v = get(k);
            if (v == null) throw new Usage("--" + k + " is required");
            return v;
        }

        String opt(String k, String dflt) {
            used.add(k);
            String v = get(k);
            return v == null ? dflt : v;
        }

        int reqInt(String k) throws Usage {
            req(k);
            return intOpt(k, null);
        }

        long reqLong(String k) throws Usage {
            req(k);
            return longOpt(k, null);
        }

        Integer intOpt(String k, Integer dflt) throws Usage {
            String v = opt(k, null);
            if (v == null) return dflt;
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new Usage("--" + k + " wants an integer, got " + v);
            }
        }

        Long longOpt(String k, Long dflt) throws Usage {
            String v = opt(k, null);
            if (v == null) return dflt;
            try {
                return Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new Usage("--" + k + " wants an integer, got " + v);
            }
        }

        boolean flag(String k) {
            used.add(k);
            return opts.containsKey(k);
        }

        List<String> all(String k) {
            used.add(k);
            return new ArrayList<>(opts.getOrDefault(k, List.of()));
        }

        void done() throws Usage {
            for (String k : opts.keySet()) {
                if (!used.contains(k)) throw new Usage("unknown option for this command: --" + k);
            }
        }
    }

    static List<String> splitAll(List<String> vs) {
        List<String> out = new ArrayList<>();
        for (String v : vs) for (String x : v.split(",")) if (!x.isBlank()) out.add(x.trim());
        return out;
    }

    static Map<String, String> kvs(List<String> items) throws Usage {
        Map<String, String> out = new LinkedHashMap<>();
        for (String s : items) {
            int eq = s.indexOf('=');
            if (eq <= 0) throw new Usage("expected key=value, got " + s);
            out.put(s.substring(0, eq), s.substring(eq + 1));
        }
        return out;
    }

    static Set<org.apache.kafka.common.GroupType> groupTypes(List<String> names) throws Usage {
        Set<org.apache.kafka.common.GroupType> out = new HashSet<>();
        for (String n : splitAll(names)) {
            org.apache.kafka.common.GroupType t = org.apache.kafka.common.GroupType.parse(n);
            if (t == org.apache.kafka.common.GroupType.UNKNOWN) throw new Usage("unknown group type " + n);
            out.add(t);
        }
        return out;
    }

    static String typeName(org.apache.kafka.common.GroupType t) {
        return t == null ? null : t.toString().toLowerCase();
    }

    static String stateName(org.apache.kafka.common.GroupState s) {
        return s == null ? null : s.toString();
    }

    static ConfigResource.Type resourceType(String s) throws Usage {
        switch (s.toLowerCase().replace('_', '-')) {
            case "topic": return ConfigResource.Type.TOPIC;
            case "broker": return ConfigResource.Type.BROKER;
            case "group": return ConfigResource.Type.GROUP;
            case "broker-logger": return ConfigResource.Type.BROKER_LOGGER;
            case "client-metrics": return ConfigResource.Type.CLIENT_METRICS;
            default: throw new Usage("--type must be topic, broker, group, broker-logger or client-metrics");
        }
    }

    static ResourceType aclResourceType(String s) throws Usage {
        switch (s.toLowerCase().replace('_', '-')) {
            case "topic": return ResourceType.TOPIC;
            case "group": return ResourceType.GROUP;
            case "cluster": return ResourceType.CLUSTER;
            case "transactional-id": return ResourceType.TRANSACTIONAL_ID;
            case "delegation-token": return ResourceType.DELEGATION_TOKEN;
            case "user": return ResourceType.USER;
            default: throw new Usage("--resource-type must be topic, group, cluster or transactional-id");
        }
    }

    static AclOperation aclOperation(String s) throws Usage {
        AclOperation op = AclOperation.fromString(s.trim().toUpperCase().replace('-', '_'));
        if (op == AclOperation.UNKNOWN || op == AclOperation.ANY) throw new Usage("unknown ACL operation " + s);
        return op;
    }

    static List<TopicPartition> sorted(Collection<TopicPartition> tps) {
        List<TopicPartition> l = new ArrayList<>(tps);
        l.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        return l;
    }

    static List<Object> tps(Collection<TopicPartition> tps) {
        List<Object> out = new ArrayList<>();
        for (TopicPartition tp : sorted(tps)) out.add(m("topic", tp.topic(), "partition", tp.partition()));
        return out;
    }

    static List<Integer> ids(List<Node> ns) {
        List<Integer> out = new ArrayList<>();
        if (ns != null) for (Node n : ns) out.add(n.id());
        return out;
    }

    static Map<String, Object> node(Node n) {
        if (n == null || n.isEmpty()) return null;
        return m("id", n.id(), "host", n.host(), "port", n.port(), "rack", n.rack());
    }

    static Map<String, Object> m(Object... kv) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) out.put((String) kv[i], kv[i + 1]);
        return out;
    }

    static synchronized void emit(Object doc) {
        OUT.println(Json.of(doc));
        OUT.flush();
    }

    static void printError(String type, String message) {
        System.err.println(Json.of(m("error", m("type", type, "message", message))));
        System.err.flush();
    }

    static Throwable unwrap(Throwable t) {
        while (t.getCause() != null && (t instanceof ExecutionException || t.getClass() == RuntimeException.class
                || t.getClass() == org.apache.kafka.common.KafkaException.class)) {
            t = t.getCause();
        }
        return t;
    }

    static int exitCodeFor(Throwable t) {
        if (t instanceof AuthorizationException || t instanceof AuthenticationException || t instanceof SaslAuthenticationException) return 3;
        if (t instanceof TimeoutException || t instanceof org.apache.kafka.common.errors.TimeoutException) return 4;
        if (t instanceof Usage) return 2;
        return 1;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // Minimal JSON writer: Map, Collection, String, Number, Boolean, Optional, null, else toString.
    static final class Json {
        static String of(Object o) {
            StringBuilder sb = new StringBuilder();
            write(sb, o);
            return sb.toString();
        }

        static void write(StringBuilder sb, Object o) {
            if (o instanceof Optional) o = ((Optional<?>) o).orElse(null);
            if (o == null) {
                sb.append("null");
            } else if (o instanceof Map) {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
                    if (!first) sb.append(',');
                    first = false;
                    str(sb, String.valueOf(e.getKey()));
                    sb.append(':');
                    write(sb, e.getValue());
                }
                sb.append('}');
            } else if (o instanceof Collection) {
                sb.append('[');
                boolean first = true;
                for (Object x : (Collection<?>) o) {
                    if (!first) sb.append(',');
                    first = false;
                    write(sb, x);
                }
                sb.append(']');
            } else if (o instanceof Boolean || o instanceof Integer || o instanceof Long || o instanceof Short) {
                sb.append(o);
            } else if (o instanceof Number) {
                double d = ((Number) o).doubleValue();
                sb.append(Double.isFinite(d) ? o.toString() : "null");
            } else {
                str(sb, o.toString());
            }
        }

        static void str(StringBuilder sb, String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                switch (ch) {
                    case '"': sb.append("\\\""); break;
                    case '\\': sb.append("\\\\"); break;
                    case '\n': sb.append("\\n"); break;
                    case '\r': sb.append("\\r"); break;
                    case '\t': sb.append("\\t"); break;
                    default:
                        if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
                        else sb.append(ch);
                }
            }
            sb.append('"');
        }
    }
}
