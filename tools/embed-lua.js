// @ts-check
/**
 * Embeds the Lua scripts of `scripts/lua/` into `packages/distributed/src/lua.generated.ts`, each
 * with its exact source, its SHA1 (what EVALSHA and SCRIPT LOAD use), the arity its header declares
 * and the Redis commands it calls.
 *
 * Every script is linted first: the header contract (purpose, KEYS, ARGV, reply, invariants), no
 * key name built inside Lua, only literal command names (so the documented ACL can list them), no
 * KEYS/ARGV index beyond the declared arity, and `redis.replicate_commands()` before `TIME`.
 *
 * Usage: `node tools/embed-lua.js` writes the file; `node tools/embed-lua.js --check` exits 1 when
 * the committed file is stale or a script breaks a rule, and writes nothing. `--scripts <dir>` and
 * `--output <file>` point it elsewhere (its tests use them).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { argv, exit, stderr, stdout } from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @param {string} flag @param {string} fallback */
function option(flag, fallback) {
  const index = argv.indexOf(flag);
  const value = index === -1 ? undefined : argv[index + 1];
  return value === undefined ? fallback : resolve(value);
}

const scriptsDir = option('--scripts', join(root, 'scripts', 'lua'));
const outputFile = option('--output', join(root, 'packages', 'distributed', 'src', 'lua.generated.ts'));

/** Commands a hyx script must never call: they scan, wipe or reconfigure the whole server. */
const FORBIDDEN_COMMANDS = new Set([
  'KEYS',
  'SCAN',
  'FLUSHALL',
  'FLUSHDB',
  'CONFIG',
  'DEBUG',
  'SHUTDOWN',
  'EVAL',
  'EVALSHA',
  'SCRIPT',
]);

/**
 * @typedef {{ count: number, isVariadic: boolean }} Arity
 * @typedef {{ name: string, source: string, sha1: string, keys: Arity, args: Arity, commands: string[] }} Script
 */

/** @param {string} dir @returns {string[]} */
function luaFilesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      // scripts/lua/lib holds code pasted into scripts by `--#include`, not scripts of its own.
      if (entry.isDirectory()) return path === join(scriptsDir, 'lib') ? [] : luaFilesUnder(path);
      return entry.name.endsWith('.lua') ? [path] : [];
    })
    .sort();
}

/**
 * The leading block of comment and blank lines: the header contract.
 * @param {string} source
 */
function headerOf(source) {
  const lines = [];
  for (const line of source.split('\n')) {
    if (line.startsWith('--') || line.trim() === '') lines.push(line);
    else break;
  }
  return lines;
}

/**
 * Reads `-- KEYS[1]: ...`, `-- KEYS[2..]: ...` (variadic: KEYS[2] and any after it) or
 * `-- KEYS: none` from the header.
 * @param {string[]} header @param {'KEYS' | 'ARGV'} table @param {(message: string) => void} fail
 * @returns {Arity}
 */
function arityOf(header, table, fail) {
  if (header.some((line) => line.startsWith(`-- ${table}: none`))) return { count: 0, isVariadic: false };
  const pattern = new RegExp(`^-- ${table}\\[(\\d+)(\\.\\.)?\\]:`);
  let count = 0;
  let isVariadic = false;
  for (const line of header) {
    const match = pattern.exec(line);
    if (!match) continue;
    const index = Number(match[1]);
    if (isVariadic) fail(`${table}[${index}] is declared after a variadic ${table}[${count}..]`);
    if (index !== count + 1)
      fail(`${table}[${index}] should be ${table}[${count + 1}]: number them 1, 2, ...`);
    count = index;
    isVariadic = match[2] === '..';
  }
  if (count === 0)
    fail(`the header declares no ${table}: write "-- ${table}[1]: ..." lines or "-- ${table}: none."`);
  return { count, isVariadic };
}

/**
 * The code with comments removed, so rules apply to what runs.
 * @param {string} source
 */
function codeOf(source) {
  return source.replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, '').replace(/--.*$/gm, '');
}

/**
 * Replaces each `--#include lib/<name>.lua` line with that library's code: Redis scripts cannot
 * import modules, and one algorithm shared by several scripts must not be written out several
 * times. A library opens with a header of comment lines and one blank line, which are left out.
 * @param {string} source @param {(message: string) => void} fail
 */
function expandIncludes(source, fail) {
  return source.replace(/^--#include (\S+)$/gm, (_line, /** @type {string} */ path) => {
    if (!/^lib\/[a-z0-9-]+\.lua$/.test(path)) {
      fail(`--#include takes lib/<name>.lua, got ${path}`);
      return '';
    }
    const library = readFileSync(join(scriptsDir, path), 'utf8');
    const headerEnd = library.indexOf('\n\n');
    if (!library.startsWith('--') || headerEnd === -1) {
      fail(`${path} must open with a comment header and a blank line`);
      return '';
    }
    return library.slice(headerEnd + 2).replace(/\n$/, '');
  });
}

/**
 * @param {string} file
 * @param {string[]} problems collects one line per broken rule
 * @returns {Script}
 */
function readScript(file, problems) {
  const name = relative(scriptsDir, file)
    .split(sep)
    .join('/')
    .replace(/\.lua$/, '');
  /** @param {string} message */
  const fail = (message) => {
    problems.push(`scripts/lua/${name}.lua: ${message}`);
  };
  const source = expandIncludes(readFileSync(file, 'utf8'), fail);

  if (!/^[a-z0-9]+(-[a-z0-9]+)*\/[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) {
    fail('the path must be scripts/lua/<pattern>/<operation>.lua in kebab-case');
  }
  const header = headerOf(source);
  if (header[0] !== `-- ${name}`) fail(`the header must start with "-- ${name}"`);
  for (const field of ['Purpose:', 'Reply:', 'Invariants:']) {
    if (!header.some((line) => line.startsWith(`-- ${field}`)))
      fail(`the header has no "-- ${field}" section`);
  }
  const keys = arityOf(header, 'KEYS', fail);
  const args = arityOf(header, 'ARGV', fail);

  const code = codeOf(source);
  if (/hyx:/.test(code)) fail('scripts never build key names: every key comes in KEYS (DESIGN §5)');
  for (const [table, arity] of /** @type {const} */ ([
    ['KEYS', keys],
    ['ARGV', args],
  ])) {
    if (arity.isVariadic) continue;
    for (const match of code.matchAll(new RegExp(`\\b${table}\\[(\\d+)\\]`, 'g'))) {
      if (Number(match[1]) > arity.count) {
        fail(`${table}[${match[1]}] is used but the header declares ${arity.count}`);
      }
    }
  }

  const commands = new Set();
  for (const match of code.matchAll(/redis\.p?call\(\s*(?:(['"])([A-Za-z|]+)\1)?/g)) {
    const command = match[2]?.toUpperCase();
    if (command === undefined) {
      fail('redis.call needs a literal command name, so the documented ACL can list every command');
      continue;
    }
    if (FORBIDDEN_COMMANDS.has(command)) fail(`${command} is not allowed in a hyx script`);
    commands.add(command);
  }
  const timeAt = code.search(/redis\.p?call\(\s*['"]TIME['"]/i);
  const replicateAt = code.indexOf('redis.replicate_commands()');
  if (timeAt !== -1 && (replicateAt === -1 || replicateAt > timeAt)) {
    fail('call redis.replicate_commands() before TIME (Redis < 7 replicates scripts verbatim)');
  }

  const sha1 = createHash('sha1').update(source).digest('hex');
  return { name, source, sha1, keys, args, commands: [...commands].sort() };
}

/** @param {Script[]} scripts */
function render(scripts) {
  const allCommands = [...new Set(scripts.flatMap((script) => script.commands))].sort();
  /** @param {Arity} arity */
  const arity = (arity) => `{ count: ${arity.count}, isVariadic: ${arity.isVariadic} }`;
  const entries = scripts.map((script) =>
    [
      `  ${JSON.stringify(script.name)}: {`,
      `    name: ${JSON.stringify(script.name)},`,
      `    source: ${JSON.stringify(script.source)},`,
      `    sha1: ${JSON.stringify(script.sha1)},`,
      `    keys: ${arity(script.keys)},`,
      `    args: ${arity(script.args)},`,
      `    commands: ${JSON.stringify(script.commands)},`,
      '  },',
    ].join('\n'),
  );
  return [
    '// Generated by tools/embed-lua.js from scripts/lua/. Do not edit: change the .lua file and run',
    '// `npm run lua:embed`; `npm run lua:check` (part of `npm test`) fails while this file is stale.',
    "import type { EmbeddedLuaScript } from './lua-script.js';",
    '',
    '/**',
    ' * Every Lua script of `scripts/lua/`, by name (its path without `.lua`): the exact source, its',
    ' * SHA1, the arity its header declares and the Redis commands it calls.',
    ' *',
    ' * @example',
    ' * ```ts',
    " * import { LUA_SCRIPTS } from '@hyx/distributed';",
    " * const sha1: string = LUA_SCRIPTS['clock/server-time'].sha1;",
    ' * ```',
    ' */',
    'export const LUA_SCRIPTS = {',
    ...entries,
    '} as const satisfies Readonly<Record<string, EmbeddedLuaScript>>;',
    '',
    '/**',
    ' * Every Redis command that some hyx script calls: with EVALSHA and EVAL, what an ACL user',
    ' * restricted to hyx needs (see docs/distributed.md, "Security and ACL").',
    ' *',
    ' * @example',
    ' * ```ts',
    " * import { LUA_COMMANDS } from '@hyx/distributed';",
    " * const rules = LUA_COMMANDS.map((command) => `+${command.toLowerCase()}`).join(' ');",
    ' * ```',
    ' */',
    `export const LUA_COMMANDS = ${JSON.stringify(allCommands)} as const;`,
    '',
  ].join('\n');
}

function main() {
  const isCheck = argv.includes('--check');
  const problems = [];
  const scripts = luaFilesUnder(scriptsDir).map((file) => readScript(file, problems));
  if (problems.length > 0) {
    stderr.write(`embed-lua: ${problems.length} problem(s):\n${problems.map((p) => `  ${p}\n`).join('')}`);
    exit(1);
  }
  const generated = render(scripts);
  let current = '';
  try {
    current = readFileSync(outputFile, 'utf8');
  } catch {
    // No file yet: stale by definition.
  }
  const target = relative(root, outputFile);
  if (isCheck) {
    if (current !== generated) {
      stderr.write(`embed-lua: ${target} is stale: run \`npm run lua:embed\` and commit it.\n`);
      exit(1);
    }
    stdout.write(`embed-lua: ${target} is up to date (${scripts.length} scripts).\n`);
    return;
  }
  if (current !== generated) writeFileSync(outputFile, generated);
  stdout.write(`embed-lua: wrote ${target} (${scripts.length} scripts).\n`);
}

main();
