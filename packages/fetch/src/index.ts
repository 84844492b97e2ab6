export { createFetcher, type FetcherOptions } from './fetcher.js';
