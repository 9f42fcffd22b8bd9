import { defineErrorCodes } from '@herald/core';

/**
 * The error codes the Kafka adapter adds to the core's (`CoreErrors`): its errors are
 * `HeraldError`s with these codes or the core's (`broker-unavailable`, `event-too-large`...).
 */
export const { specs: KafkaErrors, codes: KafkaErrorCodes } = defineErrorCodes({
  topicUnavailable: {
    code: 'topic-unavailable',
    retriable: true,
    meaning:
      "The brokers do not know a topic (or partition) the call used (UNKNOWN_TOPIC_OR_PARTITION): it does not exist and the cluster does not create topics on first use (auto.create.topics.enable=false), or it is still being created. The message names the call's topics.",
    action: 'Retried automatically; if it persists, create the topic (ensureTopics, or your provisioning) or fix the name the event definition gives.',
  },
  topicInvalid: {
    code: 'topic-invalid',
    retriable: false,
    meaning: "The brokers refused a topic name (INVALID_TOPIC_EXCEPTION): longer than 249 characters, '.' or '..', or characters other than ASCII letters, digits, '.', '_' and '-'.",
    action: "Fix the topic in the event definition. The relay holds the refused record back (and its key's later records), trying it again with backoff.",
  },
  topicNotAuthorized: {
    code: 'topic-not-authorized',
    retriable: false,
    meaning: "The brokers refused this client access to a topic (TOPIC_AUTHORIZATION_FAILED): its principal lacks the ACL (WRITE to publish, READ and DESCRIBE to consume).",
    action: "Grant the ACL to the client's principal. The relay holds the refused record back (and its key's later records), trying it again with backoff, so it goes out once access is granted.",
  },
  groupNotAuthorized: {
    code: 'group-not-authorized',
    retriable: false,
    meaning:
      "The brokers refused this client access to a consumer group (GROUP_AUTHORIZATION_FAILED): its principal lacks the group ACL that joining it, committing its offsets or resetting them needs (READ), or that describing it needs (DESCRIBE). The message names the group.",
    action: "Grant READ (and DESCRIBE, for herald lag and inspection) on the group to the client's principal, e.g. kafka-acls --add --allow-principal User:<name> --operation Read --operation Describe --group <group>, then subscribe again.",
  },
  groupRebalancing: {
    code: 'group-rebalancing',
    retriable: true,
    meaning:
      "The group coordinator refused a member's request, most often a commit, because the group is rebalancing (REBALANCE_IN_PROGRESS) or the member's generation is over (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID: the group moved on without it, e.g. after it missed heartbeats for sessionTimeoutMs). Nothing of the request was applied.",
    action:
      "Retried automatically: the member rejoins and commits again the offsets of the partitions it still owns; records of partitions it lost are delivered again to their new owner (inboxes absorb the duplicates). Routine during deploys and scaling; if it recurs outside them, look for members stalled past group.sessionTimeoutMs (event-loop blocking, long GC pauses).",
  },
  authenticationFailed: {
    code: 'authentication-failed',
    retriable: true,
    meaning:
      "The brokers refused this client's SASL credentials (SASL_AUTHENTICATION_FAILED): a wrong or expired username, password or token, or a mechanism the brokers do not enable. It is about the client, not about the records or topics of the call, so it is retriable: the relay backs off and sends its batch whole again, instead of refusing every record of it one by one.",
    action: "Fix the credentials (the adapter's `sasl` option) or the brokers' SASL setup; publishing and joining resume once the brokers accept them.",
  },
  batchUndecodable: {
    code: 'record-batch-undecodable',
    retriable: false,
    meaning:
      "A record batch in a partition could not be decompressed: it names a codec Kafka does not define (ids 5 to 7), or its compressed data is corrupt, or it decompressed into something other than its records. The message names the topic, partition, offsets and codec. Snappy, lz4, zstd and gzip batches that are intact are read.",
    action:
      "The consumer holds the partition at the batch (nothing of it or after it is delivered or committed; the group's other partitions go on) until the partition moves or the service restarts, logging this error whenever it starts holding it. (A legacy message set, older than Kafka 0.11, fails the whole fetch instead: the member logs the error and rejoins after a backoff.) Find what wrote it (the codec, the producer); to give up on those records, stop the group and move that partition past the batch's last offset: herald replay <group> --topic <topic> --partition <n> --to <last offset + 1> (resetOffsets with a partition and an offset).",
  },
  compressionUnsupported: {
    code: 'compression-unsupported',
    retriable: false,
    meaning:
      "A kafkajs producer in this process asked for zstd compression (or a codec id Kafka does not define): the adapter's codecs read zstd but do not write it. Herald's own publishing writes uncompressed or gzip records only.",
    action: "Produce uncompressed, or with gzip, snappy or lz4.",
  },
});
