/**
 * Starting Pixi's own processes: from `dist` after a build (`npm start`), or from the TypeScript
 * sources under tsx when Pixi itself runs from source (the tests).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** How long a child may take to start listening: a bound against a hang, not a speed check. */
const START_TIMEOUT_MS = 30_000;

/** A started child and where it listens. */
export interface StartedChild {
  readonly child: ChildProcess;
  readonly url: string;
}

/** The path of a sibling module of Pixi (`gateway/gateway-main`), in the form this process runs. */
export function entryPath(relativeWithoutExtension: string): {
  readonly path: string;
  readonly execArgv: string[];
} {
  const isSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(
    new URL(`../${relativeWithoutExtension}.${isSource ? 'ts' : 'js'}`, import.meta.url),
  );
  return { path, execArgv: isSource ? ['--conditions=source', '--import', 'tsx'] : [] };
}

/** Forks `entry` with `env` and waits for its `{ type: 'listening', url }` message. */
export function startChild(entry: string, env: Record<string, string>, label: string): Promise<StartedChild> {
  const { path, execArgv } = entryPath(entry);
  const child = fork(path, [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label} did not start listening within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited before listening (code ${code}, signal ${signal})`));
    });
    child.on('message', (message: unknown) => {
      if (typeof message !== 'object' || message === null) return;
      const { type, url } = message as { type?: unknown; url?: unknown };
      if (type !== 'listening' || typeof url !== 'string') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ child, url });
    });
  });
}

/** Ends a child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
