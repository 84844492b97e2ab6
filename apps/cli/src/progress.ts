/**
 * The reindex progress on stderr, shared by `index`, `start` and `eval`: a cli-progress bar on a
 * terminal, one line per phase (and every 10 % of the embedding) otherwise.
 */
import type { ReindexProgress } from '@lookalike/core';
import cliProgress from 'cli-progress';
import type { CliContext } from './context.js';

const PHASE_LABEL: Record<ReindexProgress['phase'], string> = {
  scanning: 'Scanning ',
  hashing: 'Hashing  ',
  removing: 'Removing ',
  embedding: 'Embedding',
  done: 'Done     ',
};

/** A cli-progress bar on a TTY; one line per phase otherwise. */
export function progressReporter(ctx: CliContext): { update(p: ReindexProgress): void; stop(): void } {
  const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true;
  let phase: string | undefined;
  if (!tty) {
    // Logs and pipes: one line per phase, and every 10 % of the embedding.
    let nextTenth = 1;
    return {
      update(p) {
        if (p.phase !== phase) {
          phase = p.phase;
          nextTenth = 1;
          if (p.phase !== 'done' && p.total > 0) ctx.stderr.write(`${PHASE_LABEL[p.phase].trim()}: ${p.total}\n`);
          return;
        }
        if (p.phase === 'embedding' && p.total > 0 && p.done >= (nextTenth * p.total) / 10) {
          while (p.done >= (nextTenth * p.total) / 10) nextTenth++;
          const eta = p.etaSeconds === null ? '?' : formatSeconds(p.etaSeconds);
          ctx.stderr.write(`  ${p.done}/${p.total} (${p.rate.toFixed(1)}/s, ETA ${eta})\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: ctx.stderr as NodeJS.WriteStream,
      format: '{phase} [{bar}] {value}/{total} | {rate}/s | ETA {eta_s}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = {
        phase: PHASE_LABEL[p.phase],
        rate: p.rate.toFixed(1),
        eta_s: p.etaSeconds === null ? '?' : formatSeconds(p.etaSeconds),
      };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else {
        if (p.phase !== phase) bar.setTotal(p.total);
        bar.update(p.done, payload);
      }
      phase = p.phase;
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
