/**
 * Property tests explore new random inputs on every local run. Under CI they run with one fixed
 * seed (override with HYX_FC_SEED), so a red CI run is reproducible and a landing never depends
 * on the luck of the draw; a counterexample found locally becomes a table test.
 */
import fc from 'fast-check';

if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
  fc.configureGlobal({ seed: Number(process.env.HYX_FC_SEED ?? 20_261_203) });
}
