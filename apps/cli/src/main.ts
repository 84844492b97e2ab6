/**
 * The `lookalike` process entry (bin/lookalike.js runs the built copy): runs the command line
 * (cli.ts) and exits with its code.
 */
import { runLookalike } from './cli.js';

process.exitCode = await runLookalike(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
