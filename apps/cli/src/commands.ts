import type { CommandSpec } from './context.js';

/**
 * Every sub-command of `lookalike`, in help order. Each lives in ./commands/<name>.ts.
 */
export const COMMANDS: readonly CommandSpec[] = [];
