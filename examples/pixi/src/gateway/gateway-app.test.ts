import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startInProcessServices, type Services } from '../run/services.js';
import { PIXI_SETTINGS } from '../settings.js';

describe('a gateway (in-process services)', () => {
  let services: Services;
  let gateway: string;

  beforeAll(async () => {
    services = await startInProcessServices(2, PIXI_SETTINGS);
    gateway = services.gateways[0]?.url ?? '';
  });

  afterAll(async () => {
    await services.stop();
  });

  const stock = (item: string, apiKey = 'key-alpha') =>
    fetch(`${gateway}/stock/${item}`, { headers: { 'x-api-key': apiKey } });

  it('answers from the inventory, with rate-limit headers, and 404 for an item not in the catalogue', async () => {
    const response = await stock('sku-1');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ item: 'sku-1', inStock: expect.any(Number) as unknown });
    expect(response.headers.get('ratelimit-policy')).toContain(`${PIXI_SETTINGS.limitPerKey}`);
    expect((await stock('sku-404')).status).toBe(404);
  });

  it('answers the last good answer, marked stale, when the inventory fails', async () => {
    await stock('sku-2');
    await fetch(`${services.inventoryUrl}/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 1 }),
    });
    const response = await stock('sku-2', 'key-beta');
    expect(await response.json()).toMatchObject({ item: 'sku-2', stale: true });
    // Nothing cached for this one: the retries' last error decides (the inventory's 503 → 502).
    expect((await stock('sku-3', 'key-beta')).status).toBe(502);
    await fetch(`${services.inventoryUrl}/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 0 }),
    });
  });

  it('refuses a key over the shared limit on any gateway: the instances share one limiter', async () => {
    const [first, second] = services.gateways;
    const statuses: number[] = [];
    // Two windows' worth and one: refused at least once even if the requests straddle a window edge.
    for (let index = 0; index < PIXI_SETTINGS.limitPerKey * 2 + 1; index++) {
      const url = index % 2 === 0 ? first?.url : second?.url;
      const response = await fetch(`${url}/stock/sku-4`, { headers: { 'x-api-key': 'key-gamma' } });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
  });

  it('serves Prometheus metrics of its policies, the fallback included', async () => {
    const text = await (await fetch(`${gateway}/metrics`)).text();
    expect(text).toContain('hyx_events_total');
    expect(text).toContain('policy_name="pixi-cached-stock"');
    expect(text).toContain('policy_name="pixi-local-inventory"');
  });

  it('rejects a bad control request naming the value', async () => {
    const response = await fetch(`${services.inventoryUrl}/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errorRate: 2 }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'errorRate must be a number in [0, 1], got 2' });
  });
});
