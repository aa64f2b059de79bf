#!/usr/bin/env node
// Entry point of the `scenelab` CLI. The sources are TypeScript; tsx compiles them on load so
// the CLI runs straight from a checkout after `npm install`, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
