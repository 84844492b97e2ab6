import type { CommandSpec } from './context.js';

/** A sub-command, loaded only when it runs (so `lookalike embed` never loads discord.js). */
export interface CommandEntry {
  name: string;
  load: () => Promise<CommandSpec>;
}

/**
 * Every sub-command of `lookalike`, in help order. Each lives in ./commands/<name>.ts.
 */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'start', load: async () => (await import('./commands/start.js')).startCommand },
  { name: 'embed', load: async () => (await import('./commands/embed.js')).embedCommand },
  { name: 'index', load: async () => (await import('./commands/index.js')).indexCommand },
  { name: 'worker', load: async () => (await import('./commands/worker.js')).workerCommand },
  { name: 'similar', load: async () => (await import('./commands/similar.js')).similarCommand },
  { name: 'demo-catalog', load: async () => (await import('./commands/demo-catalog.js')).demoCatalogCommand },
  { name: 'eval', load: async () => (await import('./commands/eval.js')).evalCommand },
  { name: 'feedback', load: async () => (await import('./commands/feedback.js')).feedbackCommand },
  { name: 'discord', load: async () => (await import('./commands/discord.js')).discordCommand },
  { name: 'models', load: async () => (await import('./commands/models.js')).modelsCommand },
  { name: 'bench', load: async () => (await import('./commands/bench.js')).benchCommand },
];
