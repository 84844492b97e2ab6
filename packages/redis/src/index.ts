export { closeRedis, createRedisClient, type Redis, type RedisClientOptions } from './client.js';
export { createEventDeduper, type EventDeduper, type EventDeduperOptions } from './dedupe.js';
export { acquireLease, type Lease, type LeaseLoss, type LeaseOptions } from './lease.js';
export {
  type ProgressOptions,
  type ProgressSubscription,
  type PublishProgressOptions,
  publishProgress,
  readProgress,
  type SubscribeProgressOptions,
  subscribeProgress,
} from './progress.js';
export { createSharedRateLimiter, type SharedRateLimiter, type SharedRateLimiterOptions } from './rate-limit.js';
