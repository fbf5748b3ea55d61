import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const tool = fileURLToPath(new URL('../../tools/embed-lua.js', import.meta.url));

const header = (
  name: string,
  keys = '-- KEYS[1]: the counter, an integer.',
  args = '-- ARGV[1]: step, an integer.',
) =>
  [
    `-- ${name}`,
    '--',
    '-- Purpose: adds a step.',
    '--',
    keys,
    args,
    '--',
    '-- Reply: integer.',
    '-- Invariants: none.',
  ]
    .concat('')
    .join('\n');

const validScript = `${header('counter/add')}return redis.call('INCRBY', KEYS[1], ARGV[1])\n`;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('tools/embed-lua.js', () => {
  let dir: string;
  let scripts: string;
  let output: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hyx-embed-lua-'));
    scripts = path.join(dir, 'lua');
    output = path.join(dir, 'lua.generated.ts');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, source: string) => {
    mkdirSync(path.dirname(path.join(scripts, `${name}.lua`)), { recursive: true });
    writeFileSync(path.join(scripts, `${name}.lua`), source);
  };

  const run = (...flags: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(
        process.execPath,
        [tool, '--scripts', scripts, '--output', output, ...flags],
        (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
        },
      );
    });

  it('embeds each script with its exact source, SHA1, arity and commands', async () => {
    write('counter/add', validScript);
    expect((await run()).code).toBe(0);
    const generated = readFileSync(output, 'utf8');
    expect(generated).toContain(`source: ${JSON.stringify(validScript)}`);
    expect(generated).toContain(`sha1: "${createHash('sha1').update(validScript).digest('hex')}"`);
    expect(generated).toContain('keys: { count: 1, isVariadic: false }');
    expect(generated).toContain('commands: ["INCRBY"]');
    expect(generated).toContain('export const LUA_COMMANDS = ["INCRBY"] as const;');
  });

  it('--check passes on a fresh file and fails, writing nothing, once a script changed', async () => {
    write('counter/add', validScript);
    await run();
    expect((await run('--check')).code).toBe(0);

    write('counter/add', validScript.replace('return', 'return  '));
    const before = readFileSync(output, 'utf8');
    const check = await run('--check');
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('is stale: run `npm run lua:embed`');
    expect(readFileSync(output, 'utf8')).toBe(before);
  });

  it.each([
    [
      'a header without its name',
      'counter/add',
      validScript.replace('-- counter/add\n', '-- other\n'),
      'the header must start with "-- counter/add"',
    ],
    [
      'a header without Reply',
      'counter/add',
      validScript.replace('-- Reply: integer.\n', ''),
      'no "-- Reply:" section',
    ],
    [
      'no KEYS declared',
      'counter/add',
      validScript.replace('-- KEYS[1]: the counter, an integer.\n', ''),
      'declares no KEYS',
    ],
    [
      'KEYS numbered with a gap',
      'counter/add',
      `${header('counter/add', '-- KEYS[2]: x.')}return 1\n`,
      'KEYS[2] should be KEYS[1]: number them 1, 2, ...',
    ],
    [
      'a KEYS index beyond the header',
      'counter/add',
      `${header('counter/add')}return redis.call('GET', KEYS[2])\n`,
      'KEYS[2] is used but the header declares 1',
    ],
    [
      'a key name built in Lua',
      'counter/add',
      `${header('counter/add')}return redis.call('GET', 'hyx:' .. ARGV[1])\n`,
      'scripts never build key names',
    ],
    [
      'a command that is not a literal',
      'counter/add',
      `${header('counter/add')}local c = 'GET'\nreturn redis.call(c, KEYS[1])\n`,
      'needs a literal command name',
    ],
    [
      'a forbidden command',
      'counter/add',
      `${header('counter/add')}return redis.call('KEYS', ARGV[1])\n`,
      'KEYS is not allowed',
    ],
    [
      'TIME before replicate_commands',
      'counter/add',
      `${header('counter/add')}local t = redis.call('TIME')\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])\n`,
      'call redis.replicate_commands() before TIME',
    ],
    [
      'a path outside <pattern>/<operation>',
      'Counter_Add',
      validScript.replace('counter/add', 'Counter_Add'),
      'scripts/lua/<pattern>/<operation>.lua in kebab-case',
    ],
  ])('rejects %s', async (_, name, source, message) => {
    write(name, source);
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it('accepts a variadic KEYS tail and comments mentioning hyx: keys', async () => {
    write(
      'counter/add-all',
      header('counter/add-all', '-- KEYS[1..]: counters (hyx:{...}:counter), integers.') +
        "for _, key in ipairs(KEYS) do redis.call('INCRBY', key, ARGV[1]) end\nreturn #KEYS\n",
    );
    expect((await run()).code).toBe(0);
    expect(readFileSync(output, 'utf8')).toContain('keys: { count: 1, isVariadic: true }');
  });

  it('pastes a lib/ file where a script says --#include, leaving out its header, and lints the result', async () => {
    write('lib/step', '-- lib/step.lua\n-- Purpose: the shared step.\n\nlocal step = tonumber(ARGV[1])\n');
    const script = `${header('counter/add')}--#include lib/step.lua\nreturn redis.call('INCRBY', KEYS[1], step)\n`;
    write('counter/add', script);
    expect((await run()).code).toBe(0);
    const expanded = script.replace('--#include lib/step.lua', 'local step = tonumber(ARGV[1])');
    const generated = readFileSync(output, 'utf8');
    expect(generated).toContain(`source: ${JSON.stringify(expanded)}`);
    expect(generated).toContain(`sha1: "${createHash('sha1').update(expanded).digest('hex')}"`);
    expect(generated).not.toContain('lib/step');
  });

  it('rejects an --include outside lib/', async () => {
    write('counter/add', `${header('counter/add')}--#include ../secret.lua\nreturn 1\n`);
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--#include takes lib/<name>.lua, got ../secret.lua');
  });
});
