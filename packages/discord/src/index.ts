export * from './bot.js';
export * from './commands.js';
export * from './render.js';
