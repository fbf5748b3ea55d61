import { describe, expect, it } from 'vitest';

import { clientIp } from './client-ip.js';

describe('clientIp', () => {
  it.each([
    {
      name: 'ignores X-Forwarded-For when no proxy is trusted',
      remote: '10.0.0.2',
      xff: '6.6.6.6',
      trust: 0,
      ip: '10.0.0.2',
    },
    {
      name: 'takes the entry the one trusted proxy wrote',
      remote: '10.0.0.2',
      xff: '6.6.6.6, 203.0.113.7',
      trust: 1,
      ip: '203.0.113.7',
    },
    {
      name: 'skips entries the client wrote with two trusted proxies',
      remote: '10.0.0.2',
      xff: '6.6.6.6, 203.0.113.7, 10.0.0.9',
      trust: 2,
      ip: '203.0.113.7',
    },
    {
      name: 'stops at the leftmost entry of a short chain',
      remote: '10.0.0.2',
      xff: '203.0.113.7',
      trust: 3,
      ip: '203.0.113.7',
    },
    {
      name: 'falls back to the peer without the header',
      remote: '10.0.0.2',
      xff: undefined,
      trust: 1,
      ip: '10.0.0.2',
    },
    {
      name: 'reports IPv4-mapped IPv6 as IPv4',
      remote: '::ffff:127.0.0.1',
      xff: undefined,
      trust: 0,
      ip: '127.0.0.1',
    },
    {
      name: 'strips a port from a forwarded IPv4',
      remote: '10.0.0.2',
      xff: '203.0.113.7:4711',
      trust: 1,
      ip: '203.0.113.7',
    },
    {
      name: 'groups IPv6 clients by /56',
      remote: '2001:db8:aa:bbcc::1',
      xff: undefined,
      trust: 0,
      ip: '2001:db8:aa:bb00:0:0:0:0/56',
    },
    {
      name: 'reads repeated header lines as one list',
      remote: '10.0.0.2',
      xff: ['6.6.6.6', '203.0.113.7'],
      trust: 1,
      ip: '203.0.113.7',
    },
  ])('$name', ({ remote, xff, trust, ip }) => {
    expect(clientIp({ remoteAddress: remote, forwardedFor: xff, trustProxy: trust })).toBe(ip);
  });

  it('is undefined when the socket has no peer address', () => {
    expect(clientIp({ remoteAddress: undefined })).toBeUndefined();
  });
});
