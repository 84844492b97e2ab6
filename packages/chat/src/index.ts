export * from './failures.js';
export * from './images.js';
export * from './reindex.js';
export * from './request-id.js';
export * from './throttle.js';
