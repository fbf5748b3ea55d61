/**
 * Test helpers for code that uses hyx: a clock you move by hand.
 *
 * @packageDocumentation
 */
export { FakeClock } from './fake-clock.js';
