/**
 * `npm start`: a short tour of hyx. A simulated flaky `inventory` service is called through one
 * composed pipeline, scenario by scenario, and every line says what a policy did.
 */
import {
  backoff,
  circuitBreaker,
  compose,
  fallback,
  hedge,
  retry,
  systemClock,
  timeout,
  type Policy,
  type ResilienceEvent,
} from '@hyx/local';

import { FlakyService, type Behaviour } from './flaky-service.js';
import { formatEvent } from './format-event.js';

const CACHED_ANSWER = { item: 'widget', inStock: 5, stale: true } as const;

interface Scenario {
  readonly title: string;
  readonly explains: string;
  readonly script: readonly Behaviour[];
  readonly calls: number;
  /** Send a second attempt when the first is slow (only where the tail is the problem). */
  readonly isHedged?: boolean;
}

const scenarios: readonly Scenario[] = [
  {
    title: 'healthy',
    explains: 'the service answers at once: no policy has anything to do',
    script: [{ kind: 'ok', latencyMs: 5 }],
    calls: 1,
  },
  {
    title: 'flaky',
    explains: 'two 503s, then an answer: retry with exponential backoff and full jitter',
    script: [
      { kind: 'fail', latencyMs: 5, status: 503 },
      { kind: 'fail', latencyMs: 5, status: 503 },
      { kind: 'ok', latencyMs: 5 },
    ],
    calls: 1,
  },
  {
    title: 'slow',
    explains: 'the first attempt hangs: the per-attempt timeout aborts it, the retry succeeds',
    script: [{ kind: 'hang' }, { kind: 'ok', latencyMs: 5 }],
    calls: 1,
  },
  {
    title: 'tail latency',
    explains: 'one attempt is slow but not broken: a hedged attempt after 40 ms wins the race',
    script: [
      { kind: 'ok', latencyMs: 120 },
      { kind: 'ok', latencyMs: 10 },
    ],
    calls: 1,
    isHedged: true,
  },
  {
    title: 'outage',
    explains: 'every call fails: retries run out, the breaker opens, the fallback answers from cache',
    script: Array.from({ length: 12 }, (): Behaviour => ({ kind: 'fail', latencyMs: 5, status: 500 })),
    calls: 4,
  },
];

function buildPipeline(scenario: Scenario): Policy<typeof CACHED_ANSWER> {
  const perAttempt = timeout({ name: 'per-attempt', timeoutMs: 80 });
  const innermost = scenario.isHedged
    ? compose(perAttempt, hedge({ name: 'inventory', delayMs: 40, maxHedgedAttempts: 1 }))
    : perAttempt;
  return compose(
    fallback({ name: 'cached-stock', value: CACHED_ANSWER }),
    circuitBreaker({
      name: 'inventory',
      window: { kind: 'consecutive' },
      failureCount: 3,
      halfOpenAfterMs: 1_000,
    }),
    retry({
      name: 'inventory',
      maxAttempts: 3,
      backoff: backoff.exponential({ initialDelayMs: 20, factor: 2, maxDelayMs: 200, jitter: 'full' }),
    }),
    innermost,
  );
}

async function runScenario(scenario: Scenario, index: number): Promise<void> {
  const service = new FlakyService(scenario.script);
  const pipeline = buildPipeline(scenario);
  const startedMs = systemClock.now();
  const print = (line: string): void => {
    const elapsed = `+${String(systemClock.now() - startedMs).padStart(4)} ms`;
    process.stdout.write(`   ${elapsed}  ${line}\n`);
  };
  pipeline.onEvent((event: ResilienceEvent) => {
    const line = formatEvent(event);
    if (line !== undefined) print(line);
  });

  process.stdout.write(`\n${index + 1}. ${scenario.title}: ${scenario.explains}\n`);
  for (let call = 0; call < scenario.calls; call++) {
    const answer = await pipeline.execute(({ signal }) => service.stock('widget', signal));
    const origin = 'stale' in answer ? 'from cache' : 'live';
    print(`=> ${answer.inStock} in stock (${origin})`);
  }
  print(`service saw ${service.calls} call(s)`);
}

process.stdout.write(
  'hyx demo: fallback > circuitBreaker > retry > timeout (per attempt) [> hedge in scenario 4], around a flaky service\n',
);
for (const [index, scenario] of scenarios.entries()) await runScenario(scenario, index);
process.stdout.write('\nDone. Every timer was cleared, so the process exits by itself.\n');
