/**
 * Data that must cross a thread boundary (error details, log fields) as something structured
 * clone accepts, whatever the caller put in it: functions, sockets, cycles, bigints.
 */

/** What JSON keeps of `value`: bigints as strings, errors as their fields, repeated objects cut. */
function jsonSafe(value: unknown): unknown {
  const seen = new WeakSet<object>();
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return String(v);
      if (typeof v !== 'object' || v === null) return v;
      if (seen.has(v)) return '[circular]';
      seen.add(v);
      return v instanceof Error
        ? { name: v.name, message: v.message, ...(v as unknown as Record<string, unknown>) }
        : v;
    }) ?? 'null',
  );
}

/**
 * `record` as cloneable data: itself when structured clone accepts it, else what JSON keeps
 * (functions dropped, cycles cut), else `{ unserializable: note }`. Never throws.
 */
export function cloneableRecord(record: Readonly<Record<string, unknown>>, note: string): Record<string, unknown> {
  try {
    return structuredClone({ ...record });
  } catch {
    // Not cloneable (a function, a socket…): try what JSON keeps.
  }
  try {
    const plain = jsonSafe(record);
    if (typeof plain === 'object' && plain !== null && !Array.isArray(plain)) return plain as Record<string, unknown>;
  } catch {
    // A getter or toJSON that throws: only the note is left.
  }
  return { unserializable: note };
}
