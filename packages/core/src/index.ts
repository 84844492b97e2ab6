export * from './config.js';
export * from './errors.js';
export * from './ports.js';
export * from './service-types.js';
