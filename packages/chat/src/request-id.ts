import { randomUUID } from 'node:crypto';

/** A short request id (8 hex digits), like the ones the service makes. */
export function newRequestId(): string {
  return randomUUID().slice(0, 8);
}
