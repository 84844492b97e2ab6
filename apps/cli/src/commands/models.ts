/**
 * `lookalike models fetch [--url URL] [--from FILE.h5] [--md5 HEX] [--force]`
 * `lookalike models init --untrained [--seed N] [--force]`
 * `lookalike models info [--verify] [--json]`
 * `lookalike models quantize [--calibration DIR] [--images N]`
 * Model files live in ctx.config.modelsDir: manifest.json, resnet50.onnx, tfjs/ (and
 * resnet50.int8.onnx after `quantize`).
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { asLookalikeError, isLookalikeError } from '@lookalike/core';
import {
  type ConvertStep,
  DEFAULT_CALIBRATION_IMAGES,
  DEFAULT_UNTRAINED_SEED,
  fetchWeights,
  initUntrainedModels,
  type Manifest,
  OFFICIAL_WEIGHTS_MD5,
  OFFICIAL_WEIGHTS_URL,
  type QuantizeStep,
  quantizeModels,
  readManifest,
  replaceKeepingPrevious,
  UNTRAINED_WEIGHTS_WARNING,
  weightsInfo,
} from '@lookalike/embedder';
import cliProgress from 'cli-progress';
import { type CliContext, type CommandSpec, type SubcommandHelp, subcommandLines } from '../context.js';

const USAGE =
  'models fetch [--url URL] [--from FILE.h5] [--md5 HEX] [--force] | init --untrained [--seed N] [--force] | info [--verify] [--json] | quantize [--calibration DIR] [--images N]';

const SUBCOMMANDS: readonly SubcommandHelp[] = [
  {
    name: 'fetch',
    usage: 'models fetch [--url URL] [--from FILE.h5] [--md5 HEX] [--force]',
    summary: `Download the official Keras ResNet50 notop weights (or a mirror with --url), verify the md5
and convert them into the models dir (ONNX + tfjs + manifest.json). --from converts a local
.h5 file instead (air-gapped machines). --md5 requires a given checksum. The replaced model is
kept in <models dir>/previous/: a catalog built with it answers with it until re-embedded.`,
  },
  {
    name: 'init',
    usage: 'models init --untrained [--seed N] [--force]',
    summary: 'Write random He-initialised weights (for tests and offline set-ups; results are not meaningful).',
  },
  {
    name: 'info',
    usage: 'models info [--verify] [--json]',
    summary: "Show what the models dir holds; --verify re-checks every file's sha256.",
  },
  {
    name: 'quantize',
    usage: 'models quantize [--calibration DIR] [--images N]',
    summary: `Write resnet50.int8.onnx beside the fp32 model (static QDQ: weights int8 per channel,
activations uint8 per tensor, calibrated by percentile on N catalog images, default ${DEFAULT_CALIBRATION_IMAGES}).
DIR defaults to LOOKALIKE_CATALOG_DIR, else the demo catalog. Use it with LOOKALIKE_PRECISION=int8:
its vectors are a different model, so a catalog built with fp32 is re-embedded.`,
  },
];

const HELP = `Usage:\n${subcommandLines(SUBCOMMANDS)}\n`;

const STEP_TEXT: Record<ConvertStep | 'downloading' | 'verifying', string> = {
  downloading: 'downloading',
  verifying: 'checking md5',
  generating: 'generating untrained weights (Keras HDF5 layout)',
  hashing: 'hashing the weights file',
  loading: 'loading and validating the weights',
  onnx: 'writing resnet50.onnx (batch norm folded)',
  tfjs: 'writing tfjs/model.json and shards',
  checksums: 'computing sha256 checksums',
  installing: 'installing files and writing manifest.json',
};

const QUANTIZE_STEP_TEXT: Record<QuantizeStep, string> = {
  reading: 'reading resnet50.onnx and the calibration images',
  calibrating: 'calibrating activation ranges (fp32 model on ONNX Runtime)',
  writing: 'writing resnet50.int8.onnx and manifest.json',
};

function usageError(ctx: CliContext, message: string): number {
  ctx.stderr.write(`lookalike models: ${message}\n${HELP}`);
  return 2;
}

function fail(ctx: CliContext, err: unknown, hint?: string): number {
  const e = asLookalikeError(err);
  ctx.logger.debug({ err: e }, 'models command failed');
  ctx.stderr.write(`lookalike models: ${e.code}: ${e.message}\n${hint === undefined ? '' : `${hint}\n`}`);
  return 1;
}

async function existing(modelsDir: string): Promise<Manifest | undefined> {
  try {
    return await readManifest(modelsDir);
  } catch {
    return undefined;
  }
}

function summary(m: Manifest, modelsDir: string): string {
  const info = weightsInfo(m);
  return [
    `models dir: ${modelsDir}`,
    `weights:    ${info.description}`,
    `source:     ${m.source}${m.source === 'untrained' ? '' : ` (${m.sourceName})`}, md5 ${m.sourceMd5}${m.seed === undefined ? '' : `, seed ${m.seed}`}`,
    `created:    ${m.createdAt}`,
    `parameters: ${m.parameters.toLocaleString('en-US')}`,
    `onnx:       ${m.files.onnx.path} (sha256 ${m.files.onnx.sha256.slice(0, 16)}…)`,
    `tfjs:       ${m.files.tfjs.path} + ${m.files.tfjs.shards.length} shards`,
    ...(m.files.int8 === undefined || m.quantization === undefined
      ? []
      : [
          `int8:       ${m.files.int8.path} (sha256 ${m.files.int8.sha256.slice(0, 16)}…), ${m.quantization.activations.method} ${m.quantization.activations.percentile} on ${m.quantization.calibration.images} images of ${m.quantization.calibration.dir}`,
        ]),
    `input:      ${m.preprocessing.size}x${m.preprocessing.size} ${m.preprocessing.layout}, ${m.preprocessing.channelOrder} minus mean [${m.preprocessing.mean.join(', ')}], resize ${m.preprocessing.resize}`,
    `output:     ${m.output.dimension}-d, global ${m.output.pooling} pool, ${m.output.normalize} normalised`,
  ].join('\n');
}

function stepPrinter(ctx: CliContext): (s: ConvertStep | 'downloading' | 'verifying') => void {
  return (s) => {
    if (s !== 'downloading') ctx.stderr.write(`… ${STEP_TEXT[s]}\n`);
  };
}

async function runFetch(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      from: { type: 'string' },
      md5: { type: 'string' },
      force: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) return usageError(ctx, `unexpected argument "${positionals[0]}"`);
  if (values.url !== undefined && values.from !== undefined) return usageError(ctx, 'give --url or --from, not both');
  if (values.md5 !== undefined && !/^[0-9a-fA-F]{32}$/.test(values.md5))
    return usageError(ctx, '--md5 takes 32 hex digits');
  const modelsDir = ctx.config.modelsDir;
  const present = await existing(modelsDir);
  // Untrained weights are placeholders: fetching real ones replaces them without --force.
  if (present !== undefined && present.source !== 'untrained' && values.force !== true) {
    ctx.stdout.write(
      `Model files are already present in ${modelsDir} (${weightsInfo(present).description}). Use --force to replace them.\n`,
    );
    return 0;
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: ctx.stderr,
      format: 'Downloading [{bar}] {percentage}% | {mb} MB | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let barStarted = false;
  const url = values.url ?? OFFICIAL_WEIGHTS_URL;
  if (values.from === undefined) ctx.stderr.write(`Downloading ${url}\n`);
  try {
    // The replaced model is kept in previous/: a catalog made with it answers until re-embedded.
    const fetch = () =>
      fetchWeights({
        modelsDir,
        ...(values.from === undefined ? { url } : { from: values.from }),
        ...(values.md5 === undefined ? {} : { expectedMd5: values.md5.toLowerCase() }),
        logger: ctx.logger,
        onStep: (s) => {
          if (s !== 'downloading' && barStarted) {
            bar.stop();
            barStarted = false;
          }
          stepPrinter(ctx)(s);
        },
        onProgress: ({ received, total }) => {
          const mb = (received / 1048576).toFixed(1);
          if (!barStarted) {
            bar.start(total ?? Math.max(received, 1), received, { mb });
            barStarted = true;
          } else {
            if (total !== undefined && total !== bar.getTotal()) bar.setTotal(total);
            bar.update(received, { mb });
          }
        },
      });
    const result = await replaceKeepingPrevious(modelsDir, fetch, ctx.logger);
    if (!result.official) {
      ctx.stderr.write(
        `Note: this file's md5 ${result.md5} is not the official Keras file's (${OFFICIAL_WEIGHTS_MD5}); recorded as source 'file'.\n`,
      );
    }
    ctx.stdout.write(`${summary(result.manifest, modelsDir)}\n`);
    return 0;
  } catch (err) {
    if (barStarted) bar.stop();
    const hint =
      isLookalikeError(err) && err.code === 'DOWNLOAD_FAILED'
        ? 'Offline? Copy the .h5 file here and run `lookalike models fetch --from FILE.h5`, or use `lookalike models init --untrained`. Run again to resume a partial download.'
        : undefined;
    return fail(ctx, err, hint);
  }
}

async function runInit(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { untrained: { type: 'boolean' }, seed: { type: 'string' }, force: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) return usageError(ctx, `unexpected argument "${positionals[0]}"`);
  if (values.untrained !== true) {
    return usageError(
      ctx,
      'init only writes untrained weights: pass --untrained (use `models fetch` for the real ones)',
    );
  }
  const seed = values.seed === undefined ? DEFAULT_UNTRAINED_SEED : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff)
    return usageError(ctx, '--seed must be 0–4294967295');
  const modelsDir = ctx.config.modelsDir;
  const present = await existing(modelsDir);
  if (present !== undefined && values.force !== true) {
    if (present.source === 'untrained' && present.seed === seed) {
      ctx.stdout.write(`Untrained weights (seed ${seed}) are already present in ${modelsDir}.\n`);
      ctx.stderr.write(`${UNTRAINED_WEIGHTS_WARNING}\n`);
      return 0;
    }
    ctx.stderr.write(
      `lookalike models: ${modelsDir} already holds ${weightsInfo(present).description}. Use --force to replace them.\n`,
    );
    return 1;
  }
  try {
    const result = await replaceKeepingPrevious(
      modelsDir,
      () => initUntrainedModels({ modelsDir, seed, logger: ctx.logger, onStep: stepPrinter(ctx) }),
      ctx.logger,
    );
    ctx.stderr.write(`${UNTRAINED_WEIGHTS_WARNING}\n`);
    ctx.stdout.write(`${summary(result.manifest, modelsDir)}\n`);
    return 0;
  } catch (err) {
    return fail(ctx, err);
  }
}

async function runInfo(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { verify: { type: 'boolean' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) return usageError(ctx, `unexpected argument "${positionals[0]}"`);
  const modelsDir = ctx.config.modelsDir;
  try {
    const m = await readManifest(modelsDir, { verify: values.verify === true });
    if (m.source === 'untrained') ctx.stderr.write(`${UNTRAINED_WEIGHTS_WARNING}\n`);
    ctx.stdout.write(values.json === true ? `${JSON.stringify(m, null, 2)}\n` : `${summary(m, modelsDir)}\n`);
    if (values.verify === true && values.json !== true) ctx.stdout.write('checksums:  all files match\n');
    return 0;
  } catch (err) {
    const e = asLookalikeError(err);
    return fail(ctx, e, e.code === 'MODEL_NOT_FOUND' ? e.userMessage : undefined);
  }
}

/** The calibration folder: --calibration, else LOOKALIKE_CATALOG_DIR, else the demo catalog. */
function calibrationDir(ctx: CliContext, given: string | undefined): string | undefined {
  if (given !== undefined) return given;
  if (ctx.config.catalog.imagesDir !== undefined) return ctx.config.catalog.imagesDir;
  const demo = join(ctx.config.dataDir, 'demo-catalog', 'images');
  return existsSync(demo) ? demo : undefined;
}

async function runQuantize(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { calibration: { type: 'string' }, images: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) return usageError(ctx, `unexpected argument "${positionals[0]}"`);
  const images = values.images === undefined ? DEFAULT_CALIBRATION_IMAGES : Number(values.images);
  if (!Number.isSafeInteger(images) || images < 1 || images > 100_000)
    return usageError(ctx, '--images must be 1–100000');
  const dir = calibrationDir(ctx, values.calibration);
  if (dir === undefined) {
    return usageError(
      ctx,
      'no calibration images: pass --calibration DIR (catalog photos), set LOOKALIKE_CATALOG_DIR, or draw the demo catalog (`lookalike demo-catalog data/demo-catalog`)',
    );
  }
  const modelsDir = ctx.config.modelsDir;
  try {
    const result = await quantizeModels({
      modelsDir,
      calibrationDir: dir,
      images,
      preprocessing: { resize: ctx.config.embedder.resize, exif: ctx.config.embedder.exif },
      logger: ctx.logger,
      onStep: (s) => ctx.stderr.write(`… ${QUANTIZE_STEP_TEXT[s]}\n`),
    });
    const m = result.manifest;
    if (m.source === 'untrained') {
      ctx.stderr.write(
        `${UNTRAINED_WEIGHTS_WARNING}\nNote: untrained weights have other activation statistics than trained ones; the percentile clipping keeps the calibration robust to both, but re-run \`models quantize\` after \`models fetch\`.\n`,
      );
    }
    if (result.skipped > 0) ctx.stderr.write(`Skipped ${result.skipped} unreadable calibration image(s).\n`);
    ctx.stdout.write(
      `${summary(m, modelsDir)}\n` +
        `wrote:      ${relative(process.cwd(), result.path) || result.path} (calibrated on ${result.used.length} images of ${dir})\n` +
        'Use it with LOOKALIKE_PRECISION=int8 (or `lookalike embed --precision int8`).\n',
    );
    return 0;
  } catch (err) {
    const e = asLookalikeError(err);
    return fail(ctx, e, e.code === 'MODEL_NOT_FOUND' ? e.userMessage : undefined);
  }
}

export const modelsCommand: CommandSpec = {
  name: 'models',
  summary: 'fetch, convert, initialise or quantize the ResNet50 model files',
  usage: USAGE,
  subcommands: SUBCOMMANDS,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    try {
      if (sub === 'fetch') return await runFetch(rest, ctx);
      if (sub === 'init') return await runInit(rest, ctx);
      if (sub === 'info') return await runInfo(rest, ctx);
      if (sub === 'quantize') return await runQuantize(rest, ctx);
    } catch (err) {
      // parseArgs errors (unknown option, missing value) are usage errors.
      if (!isLookalikeError(err) && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
        return usageError(ctx, (err as Error).message);
      }
      throw err;
    }
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      ctx.stdout.write(HELP);
      return sub === undefined ? 2 : 0;
    }
    return usageError(ctx, `unknown sub-command "${sub}"`);
  },
};
