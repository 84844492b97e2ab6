export * from './catalog.js';
export * from './csv.js';
export * from './demo.js';
export * from './eval.js';
export * from './scan.js';
export { blobToVector, SCHEMA_VERSION, vectorToBlob } from './store.js';
