import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const tool = fileURLToPath(new URL('../../tools/check-doc-examples.js', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const fence = '```';

// Line numbers matter below: the tests assert on them.
const guide = [
  '# Guide', // 1
  '', // 2
  `${fence}ts`, // 3
  "import { timeout } from '@hyx/local';", // 4: first code line of the first block
  'const fast = timeout({ timeoutMs: 100 });', // 5
  "console.log(await fast.execute(() => 'ok'));", // 6
  fence, // 7
  '', // 8
  `${fence}sh`, // 9
  'npm test', // 10
  fence, // 11
  '', // 12
  '- a list item:', // 13
  '', // 14
  `  ${fence}typescript`, // 15
  "  const count: number = 'three';", // 16: an error at column 7 of the block, 9 of the file
  `  ${fence}`, // 17
  '', // 18
  '<!-- nocheck: quotes a declaration from the sources -->', // 19
  '', // 20
  `${fence}ts`, // 21
  'interface Quoted extends Missing {}', // 22
  fence, // 23
  '', // 24
  '````md', // 25: a longer fence around a fence
  `${fence}ts`, // 26
  'not checked: inside an md block', // 27
  fence, // 28
  '````', // 29
].join('\n');

describe('tools/check-doc-examples.js', () => {
  let dir: string;
  let out: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hyx-doc-examples-'));
    out = path.join(repositoryRoot, 'test-output', path.basename(dir));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  const write = (name: string, markdown: string) => {
    writeFileSync(path.join(dir, name), markdown);
  };

  const run = (...args: string[]) =>
    new Promise<Run>((resolve) => {
      execFile(process.execPath, [tool, ...args], { cwd: dir }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      });
    });

  it('finds ts blocks, indented ones too, skips other languages and nocheck blocks', async () => {
    write('guide.md', guide);

    const { code, stdout } = await run('--list', 'guide.md');

    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      'guide.md:4 checked',
      'guide.md:16 checked',
      'guide.md:21 nocheck: quotes a declaration from the sources',
    ]);
  });

  it('asks for a reason on a nocheck marker', async () => {
    write('bare.md', ['<!-- nocheck -->', `${fence}ts`, 'broken(', fence].join('\n'));

    const { stdout } = await run('--list', 'bare.md');

    expect(stdout).toContain('bare.md:2 problem: a nocheck marker needs a reason: <!-- nocheck: why -->');
  });

  it('type-checks each block as a module and reports errors at their markdown line and column', async () => {
    write('guide.md', guide);

    const { code, stdout, stderr } = await run('--out', out, 'guide.md');

    expect(stdout).toBe('');
    expect(stderr).toContain(
      "guide.md:16:9 - error TS2322: Type 'string' is not assignable to type 'number'.",
    );
    expect(stderr.match(/error TS/g)).toHaveLength(1); // top-level await and @hyx/local resolve
    expect(stderr).toContain('2 block(s) checked in 1 file(s), 1 marked nocheck; 1 error(s)');
    expect(code).toBe(1);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('refuses an output directory outside the repository, where the packages would not resolve', async () => {
    write('good.md', '');

    const { code, stderr } = await run('--out', dir, 'good.md');

    expect(code).toBe(2);
    expect(stderr).toContain('--out must name a directory inside');
  });

  it('never clears a directory it did not write', async () => {
    write('good.md', '');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'keep-me.txt'), 'mine');

    const { code, stderr } = await run('--out', out, 'good.md');

    expect(code).toBe(2);
    expect(stderr).toContain('holds files this tool did not write');
    expect(existsSync(path.join(out, 'keep-me.txt'))).toBe(true);
  });
});
