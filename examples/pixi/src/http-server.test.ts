import express from 'express';
import { describe, expect, it } from 'vitest';

import { listen, urlHost } from './http-server.js';

describe('listen', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '127.0.0.1'],
    ['::', '[::1]'],
    ['::1', '[::1]'],
    ['gateway-1', 'gateway-1'],
  ])('a server bound to %j is reached at host %j', (host, shown) => {
    expect(urlHost(host)).toBe(shown);
  });

  it('bound to every interface (as in a container), reports a URL that answers', async () => {
    const app = express();
    app.get('/ping', (_request, response) => {
      response.json({ pong: true });
    });
    const server = await listen(app, 0, '0.0.0.0');
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
      const body: unknown = await (await fetch(`${server.url}/ping`)).json();
      expect(body).toEqual({ pong: true });
    } finally {
      await server.close();
    }
  });
});
