// The metric names of exporters other than Herald's that deploy/ runs, which the dashboards and
// rules may query. Herald's names are checked against a live scrape; these cannot be (the exporter
// is a Go binary in an image), so each is listed with where its name comes from, read in the
// exporter's source for the image version deploy/docker-compose.yml pins. A name not listed here
// and not in Herald's scrape still fails the check.

/** An external exporter: its image in deploy/docker-compose.yml and the names it exports. */
export interface ExternalExporter {
  /** The compose service that runs it. */
  readonly service: string;
  /** The image, with the version tag the names below were read for. */
  readonly image: string;
  /** Where the names were read: repository, tag and file. */
  readonly source: string;
  /** Name → its labels and what it is, as the source defines it. */
  readonly metrics: Readonly<Record<string, string>>;
}

export const KAFKA_EXPORTER: ExternalExporter = {
  service: 'kafka-exporter',
  image: 'danielqsj/kafka-exporter:v1.9.0',
  source: 'github.com/danielqsj/kafka_exporter, tag v1.9.0, kafka_exporter.go (namespace "kafka", the prometheus.NewDesc calls)',
  metrics: {
    kafka_brokers: 'no labels: brokers in the cluster metadata',
    kafka_broker_info: '{id, address}: 1 per broker in the metadata',
    kafka_topic_partitions: '{topic}: partitions of the topic',
    kafka_topic_partition_current_offset: '{topic, partition}: newest offset',
    kafka_topic_partition_oldest_offset: '{topic, partition}: oldest offset',
    kafka_topic_partition_leader: '{topic, partition}: leader broker id; not exported when the partition has no leader',
    kafka_topic_partition_replicas: '{topic, partition}: replicas',
    kafka_topic_partition_in_sync_replica: '{topic, partition}: in-sync replicas',
    kafka_topic_partition_leader_is_preferred: '{topic, partition}: 1 if the leader is the preferred replica',
    kafka_topic_partition_under_replicated_partition: '{topic, partition}: 1 if in-sync replicas < replicas',
    kafka_consumergroup_current_offset: '{consumergroup, topic, partition}: committed offset',
    kafka_consumergroup_current_offset_sum: '{consumergroup, topic}: committed offsets summed',
    kafka_consumergroup_lag: '{consumergroup, topic, partition}: approximate lag',
    kafka_consumergroup_lag_sum: '{consumergroup, topic}: approximate lag summed',
    kafka_consumergroup_members: '{consumergroup}: members',
  },
};

/** Every external exporter deploy/ runs. */
export const EXTERNAL_EXPORTERS: readonly ExternalExporter[] = [KAFKA_EXPORTER];

/** The names the external exporters export. */
export const EXTERNAL_NAMES: ReadonlySet<string> = new Set(EXTERNAL_EXPORTERS.flatMap((e) => Object.keys(e.metrics)));
