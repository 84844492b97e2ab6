export { blockedRange } from './address.js';
export { createFetcher, type FetcherOptions } from './fetcher.js';
