// @ts-check
/**
 * Type-checks the ```ts blocks of README.md and docs/**\/*.md against the workspace's sources, so
 * the docs cannot drift from the API.
 *
 * Each block becomes its own module under `.doc-examples/` (inside the repository, so `@hyx/*`,
 * `express`, `ioredis`, ... resolve as they do for the packages) and one TypeScript program checks
 * them all with the settings of `tsconfig.base.json`, the `source` export condition and
 * `noEmit`. An error is reported at the markdown file and line it came from.
 *
 * A block that cannot stand alone (a declaration quoted from a source file, an excerpt of an
 * example) is skipped when the last non-blank line before its fence is `<!-- nocheck: reason -->`;
 * the reason is required.
 *
 * Usage: `node tools/check-doc-examples.js` checks README.md and docs/**\/*.md; with file arguments,
 * only those. `--list` prints the blocks found (and the ones skipped) without checking them;
 * `--out <dir>` writes the modules there instead of `.doc-examples/run-<pid>/` (it must be inside
 * the repository, and empty or written by this tool); `--keep` leaves them there afterwards. Exits 1 when a block does not type-check.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { argv, cwd, exit, pid, stderr, stdout } from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The languages of the fences that are checked. */
const CHECKED_LANGUAGES = new Set(['ts', 'typescript']);

/** A file the tool writes into its output directory: only such a directory is ever cleared. */
const MARKER = '.check-doc-examples';

/**
 * @typedef {{ line: number, indent: number, code: string }} Block
 *   `line`: the markdown line (1-based) of the block's first code line; `indent`: the fence's
 *   indentation, stripped from every code line.
 * @typedef {{ line: number, reason: string }} Skipped
 * @typedef {{ message: string, line: number }} Problem
 * @typedef {{ blocks: Block[], skipped: Skipped[], problems: Problem[] }} Extraction
 */

/**
 * Finds the fenced code blocks of one markdown text (CommonMark fences: three or more backticks
 * or tildes, indented by at most three spaces, closed by a fence of the same character at least
 * as long) and keeps the ```ts ones.
 * @param {string} markdown
 * @returns {Extraction}
 */
function extractBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  /** @type {Extraction} */
  const result = { blocks: [], skipped: [], problems: [] };
  for (let index = 0; index < lines.length; index++) {
    const open = /^( *)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/.exec(lines[index] ?? '');
    if (open === null) continue;
    const indent = (open[1] ?? '').length;
    const fence = open[2] ?? '```';
    const language = (open[3] ?? '').toLowerCase();
    const fenceLine = index + 1;
    const body = [];
    index++;
    for (; index < lines.length; index++) {
      const line = lines[index] ?? '';
      const close = /^( *)(`{3,}|~{3,})\s*$/.exec(line);
      if (close !== null && close[2]?.[0] === fence[0] && (close[2]?.length ?? 0) >= fence.length) break;
      body.push(stripIndent(line, indent));
    }
    if (index >= lines.length) {
      result.problems.push({ message: `the fence opened here is never closed`, line: fenceLine });
    }
    if (!CHECKED_LANGUAGES.has(language)) continue;
    const marker = markerBefore(lines, fenceLine - 1);
    if (marker === undefined) {
      result.blocks.push({ line: fenceLine + 1, indent, code: body.join('\n') });
    } else if (marker === '') {
      result.problems.push({
        message: 'a nocheck marker needs a reason: <!-- nocheck: why -->',
        line: fenceLine,
      });
    } else {
      result.skipped.push({ line: fenceLine, reason: marker });
    }
  }
  return result;
}

/**
 * Removes up to `indent` leading spaces, as CommonMark does inside an indented fence.
 * @param {string} line @param {number} indent
 */
function stripIndent(line, indent) {
  let strip = 0;
  while (strip < indent && line[strip] === ' ') strip++;
  return line.slice(strip);
}

/**
 * The reason of a `<!-- nocheck: reason -->` on the last non-blank line before the fence at
 * `fenceIndex` (0-based): `undefined` when there is none, `''` when it gives no reason.
 * @param {string[]} lines @param {number} fenceIndex
 */
function markerBefore(lines, fenceIndex) {
  let index = fenceIndex - 1;
  while (index >= 0 && (lines[index] ?? '').trim() === '') index--;
  const marker = /^\s*<!--\s*nocheck\b:?\s*(.*?)\s*-->\s*$/.exec(lines[index] ?? '');
  return marker === null ? undefined : (marker[1] ?? '');
}

/** @param {string} dir @returns {string[]} */
function markdownUnder(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return markdownUnder(path);
      return entry.name.endsWith('.md') ? [path] : [];
    })
    .sort();
}

/**
 * @typedef {{ markdown: string, block: Block }} Origin
 */

/**
 * Writes one module per block under `outDir` and a tsconfig.json that includes them all.
 * @param {string[]} files @param {string} outDir
 * @returns {{ origins: Map<string, Origin>, skipped: number, problems: string[] }}
 */
function writeModules(files, outDir) {
  /** @type {Map<string, Origin>} */
  const origins = new Map();
  /** @type {string[]} */
  const problems = [];
  let skipped = 0;
  files.forEach((file, fileIndex) => {
    const shown = relative(cwd(), file);
    const extraction = extractBlocks(readFileSync(file, 'utf8'));
    for (const problem of extraction.problems) problems.push(`${shown}:${problem.line} - ${problem.message}`);
    skipped += extraction.skipped.length;
    const fromRoot = relative(root, file);
    const base = fromRoot.startsWith('..') ? join('outside', `${fileIndex}`) : fromRoot.replace(/\.md$/, '');
    for (const block of extraction.blocks) {
      const module = join(outDir, base, `line-${block.line}.ts`);
      mkdirSync(dirname(module), { recursive: true });
      writeFileSync(module, `${block.code}\n`);
      origins.set(resolve(module), { markdown: shown, block });
    }
  });
  const config = {
    extends: relative(outDir, join(root, 'tsconfig.base.json')).split(sep).join('/'),
    compilerOptions: {
      composite: false,
      declaration: false,
      declarationMap: false,
      sourceMap: false,
      noEmit: true,
      customConditions: ['source'],
      // Every block is a module of its own, even one with no import (top-level await works).
      moduleDetection: 'force',
    },
    // The packages' own ambient declarations (redlock's missing `types`), which their sources
    // need when they are compiled through the `source` condition.
    include: ['**/*.ts', relative(outDir, join(root, 'packages/*/src/**/*.d.ts')).split(sep).join('/')],
  };
  writeFileSync(join(outDir, 'tsconfig.json'), `${JSON.stringify(config, null, 2)}\n`);
  return { origins, skipped, problems };
}

/**
 * Type-checks the modules with one program and reports each error at its markdown line.
 * @param {string} outDir @param {Map<string, Origin>} origins
 * @returns {Promise<string[]>}
 */
async function typeCheck(outDir, origins) {
  // Loaded only here: `--list` does not need the compiler.
  const { default: ts } = await import('typescript');
  const parsed = ts.getParsedCommandLineOfConfigFile(join(outDir, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (parsed === undefined) throw new Error('cannot read the generated tsconfig.json');
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = `error TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const origin = origins.get(resolve(diagnostic.file.fileName));
    if (origin === undefined)
      return `${relative(cwd(), diagnostic.file.fileName)}:${line + 1}:${character + 1} - ${message}`;
    const { markdown, block } = origin;
    return `${markdown}:${block.line + line}:${block.indent + character + 1} - ${message}`;
  });
}

async function main() {
  const args = argv.slice(2);
  let list = false;
  let keep = false;
  // One directory per run, so that two checks in the same checkout do not clear each other's files.
  const defaultOut = join(root, '.doc-examples', `run-${pid}`);
  let outDir = defaultOut;
  /** @type {string[]} */
  const named = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--list') list = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--out') {
      const out = resolve(args[++index] ?? root);
      const fromRoot = relative(root, out);
      if (fromRoot === '' || fromRoot.startsWith('..')) {
        stderr.write(`--out must name a directory inside ${root}, so that the workspace packages resolve\n`);
        return 2;
      }
      outDir = out;
    } else named.push(resolve(arg));
  }
  const files = named.length > 0 ? named : [join(root, 'README.md'), ...markdownUnder(join(root, 'docs'))];

  if (list) {
    for (const file of files) {
      const shown = relative(cwd(), file);
      const extraction = extractBlocks(readFileSync(file, 'utf8'));
      for (const block of extraction.blocks) stdout.write(`${shown}:${block.line} checked\n`);
      for (const skip of extraction.skipped) stdout.write(`${shown}:${skip.line} nocheck: ${skip.reason}\n`);
      for (const problem of extraction.problems)
        stdout.write(`${shown}:${problem.line} problem: ${problem.message}\n`);
    }
    return 0;
  }

  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !existsSync(join(outDir, MARKER))) {
    stderr.write(`${outDir} holds files this tool did not write: choose another --out\n`);
    return 2;
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, MARKER), '');
  try {
    const { origins, skipped, problems } = writeModules(files, outDir);
    const errors = origins.size === 0 ? [] : await typeCheck(outDir, origins);
    for (const line of [...problems, ...errors]) stderr.write(`${line}\n`);
    const summary = `doc examples: ${origins.size} block(s) checked in ${files.length} file(s), ${skipped} marked nocheck`;
    if (problems.length + errors.length > 0) {
      stderr.write(`${summary}; ${problems.length + errors.length} error(s)\n`);
      return 1;
    }
    stdout.write(`${summary}\n`);
    return 0;
  } finally {
    if (!keep) {
      rmSync(outDir, { recursive: true, force: true });
      if (outDir === defaultOut) {
        try {
          rmdirSync(dirname(outDir)); // .doc-examples/, when no other run is using it
        } catch {
          // another run is using it
        }
      }
    }
  }
}

if (resolve(argv[1] ?? '') === fileURLToPath(import.meta.url)) exit(await main());
