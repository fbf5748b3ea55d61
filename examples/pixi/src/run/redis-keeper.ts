/**
 * Keeps a private redis-server for as long as the Pixi run that started it lives:
 * `redis-keeper <redis-server binary> <args...>`, forked with an IPC channel. The server stops
 * when the keeper gets SIGTERM (a normal end) or loses its channel (the run died, even by SIGKILL);
 * the keeper exits with the server, and removes the server's `--dir` folder on its way out.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

const [binary, ...args] = process.argv.slice(2);
if (binary === undefined) {
  console.error('redis-keeper: the redis-server binary must be given');
  process.exit(2);
}
const server = spawn(binary, args, { stdio: 'ignore' });
server.once('error', (error) => {
  console.error(`redis-keeper: ${binary}: ${error.message}`);
  process.exit(1);
});
// The server's --dir is a folder the run made for it alone: the keeper, which outlives a run that
// died (Ctrl-C twice, SIGKILL, a closed stdout), removes it once the server is gone.
const dirIndex = args.indexOf('--dir');
const dir = dirIndex === -1 ? undefined : args[dirIndex + 1];
server.once('exit', (code) => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
process.once('SIGTERM', () => server.kill('SIGTERM'));
process.once('SIGINT', () => server.kill('SIGTERM'));
process.once('disconnect', () => server.kill('SIGKILL'));
