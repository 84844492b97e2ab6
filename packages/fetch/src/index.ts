export { blockedRange } from './address.js';
export { parseRetryAfter } from './failures.js';
export { createFetcher, type FetcherOptions } from './fetcher.js';
export { createHostQueue, type HostQueue, type HostQueueOptions, isRetryable } from './host-queue.js';
