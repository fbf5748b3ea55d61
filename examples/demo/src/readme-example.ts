import { backoff, circuitBreaker, compose, fallback, retry, timeout } from '@hyx/local';

const stockPolicy = compose(
  fallback({ value: { inStock: 0, stale: true } }), // last resort, sees the final failure
  circuitBreaker({ window: { kind: 'consecutive' }, failureCount: 5, halfOpenAfterMs: 10_000 }),
  retry({ maxAttempts: 3, backoff: backoff.exponential({ initialDelayMs: 50, maxDelayMs: 1_000 }) }),
  timeout({ timeoutMs: 300 }), // per attempt: it sits inside the retry
);

export async function getStock(item: string): Promise<{ inStock: number; stale?: boolean }> {
  return stockPolicy.execute(async ({ signal }) => {
    const response = await fetch(`http://127.0.0.1:8080/stock/${item}`, { signal });
    if (!response.ok) throw new Error(`inventory answered ${response.status}`);
    return (await response.json()) as { inStock: number };
  });
}
