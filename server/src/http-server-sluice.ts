#!/usr/bin/env node
// The `http-server-sluice` command: http-server's command line, served by
// sluice (`sluice --compat http-server`).
import { main } from './cli';

main(['--compat', 'http-server', ...process.argv.slice(2)]);
