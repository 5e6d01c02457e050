// Redis keys of the rollout machinery. Weights, the leader lease and its fencing counter share one hash
// tag, so the weight-write script can read the newest fencing token atomically on Redis Cluster too.

export interface RolloutKeys {
  weights(service: string): string;
  readonly weightsChannel: string;
  readonly leader: string;
  readonly fence: string;
}

export function rolloutKeys(prefix: string): RolloutKeys {
  const tag = `${prefix}{rollout}`;
  return {
    weights: (service) => `${tag}:weights:${service}`,
    weightsChannel: `${prefix}weights`,
    leader: `${tag}:leader`,
    fence: `${tag}:fence`,
  };
}
