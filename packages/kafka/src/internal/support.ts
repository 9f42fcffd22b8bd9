/**
 * What the brokers turned out to answer, learned on first use (undefined until known). The mock
 * cluster lacks several admin APIs; each is detected once, logged once, and served another way.
 */
export interface BrokerSupport {
  /** DescribeGroups: live members of a group. */
  describeGroups?: boolean;
  /** ListGroups: every group of the cluster. */
  listGroups?: boolean;
  /** DescribeConfigs on topics (through the controller): retention. */
  describeConfigs?: boolean;
  /** OffsetFetch without a topic list: every topic a group committed on. */
  fetchAllOffsets?: boolean;
}
