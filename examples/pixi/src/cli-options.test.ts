import { describe, expect, it } from 'vitest';

import { CliError, parseCli } from './cli-options.js';

describe('parseCli', () => {
  it('defaults: 3 instances, 60 s, every phase, a dashboard, REDIS_URL from the environment', () => {
    expect(parseCli([], { REDIS_URL: 'redis://127.0.0.1:7000' })).toEqual({
      instances: 3,
      durationMs: 60_000,
      phases: ['steady', 'surge', 'outage', 'recovery', 'leader-crash'],
      dashboard: true,
      dashboardPort: 0,
      dashboardHost: '127.0.0.1',
      lingerMs: undefined,
      redisUrl: 'redis://127.0.0.1:7000',
      external: undefined,
      json: false,
      reportPath: 'pixi-report.json',
      help: false,
    });
  });

  it('reads every flag; --redis-url wins over REDIS_URL', () => {
    const options = parseCli(
      [
        '--instances',
        '5',
        '--duration',
        '30',
        '--scenario',
        'surge,outage',
        '--no-dashboard',
        '--redis-url',
        'redis://h:1',
        '--json',
        '--report',
        'out.json',
      ],
      { REDIS_URL: 'redis://other:2' },
    );
    expect(options).toMatchObject({
      instances: 5,
      durationMs: 30_000,
      phases: ['surge', 'outage'],
      dashboard: false,
      redisUrl: 'redis://h:1',
      json: true,
      reportPath: 'out.json',
    });
  });

  it('--inventory-url with --gateway-urls: services started elsewhere, one instance per gateway URL', () => {
    const options = parseCli(
      [
        '--inventory-url',
        'http://pixi-inventory:8090/',
        '--gateway-urls',
        'http://pixi-gw-1:8080,http://pixi-gw-2:8080,https://pixi-gw-3',
        '--redis-url',
        'redis://redis:6379',
        '--dashboard-host',
        '0.0.0.0',
        '--dashboard-port',
        '8787',
        '--linger',
        '120',
      ],
      {},
    );
    expect(options).toMatchObject({
      instances: 3,
      lingerMs: 120_000,
      dashboardHost: '0.0.0.0',
      dashboardPort: 8787,
      redisUrl: 'redis://redis:6379',
      external: {
        inventoryUrl: 'http://pixi-inventory:8090',
        gatewayUrls: ['http://pixi-gw-1:8080', 'http://pixi-gw-2:8080', 'https://pixi-gw-3'],
      },
    });
    // REDIS_URL serves as well; a matching --instances is accepted.
    expect(
      parseCli(
        ['--inventory-url', 'http://i:1', '--gateway-urls', 'http://g:1,http://g:2', '--instances', '2'],
        {
          REDIS_URL: 'redis://r:6379',
        },
      ).external,
    ).toEqual({ inventoryUrl: 'http://i:1', gatewayUrls: ['http://g:1', 'http://g:2'] });
  });

  it('refuses a run its phases cannot show: too short, or one gateway for a leader crash', () => {
    expect(() => parseCli(['--duration', '10'], {})).toThrow(
      '--duration 10 is too short for steady,surge,outage,recovery,leader-crash: at these settings the phases need at least 25 s',
    );
    expect(() => parseCli(['--instances', '1'], {})).toThrow(
      '--instances 1 is too few for steady,surge,outage,recovery,leader-crash: the leader-crash phase needs at least 2',
    );
    // Without the leader crash, one gateway and a short run are fine.
    expect(
      parseCli(['--instances', '1', '--scenario', 'steady,surge', '--duration', '10'], {}),
    ).toMatchObject({
      instances: 1,
      durationMs: 10_000,
    });
  });

  it('refuses a recovery with nothing to recover from: outage must come right before it', () => {
    for (const scenario of [
      'recovery',
      'steady,recovery',
      'outage,steady,recovery',
      'leader-crash,recovery',
    ]) {
      expect(() => parseCli(['--scenario', scenario, '--duration', '60'], {})).toThrow(
        `--scenario ${scenario}: recovery heals the inventory an outage broke, so it needs outage right before it (e.g. --scenario outage,recovery)`,
      );
    }
    expect(parseCli(['--scenario', 'outage,recovery', '--duration', '60'], {}).phases).toEqual([
      'outage',
      'recovery',
    ]);
  });

  it('a negative value gets the range, not the parser\'s "ambiguous"', () => {
    expect(() => parseCli(['--instances', '-1'], {})).toThrow(
      '--instances must be an integer from 1 to 8, got "-1"',
    );
    expect(() => parseCli(['--duration', '-5'], {})).toThrow(
      '--duration must be an integer from 10 to 3600, got "-5"',
    );
  });

  const redis = ['--redis-url', 'redis://r:6379'];
  it.each([
    [
      ['--gateway-urls', 'http://g:1', ...redis],
      '--gateway-urls "http://g:1" needs --inventory-url: the inventory those gateways call',
    ],
    [
      ['--inventory-url', 'http://i:1', ...redis],
      '--inventory-url "http://i:1" needs --gateway-urls: the gateways that call it',
    ],
    [
      ['--inventory-url', 'http://i:1', '--gateway-urls', 'http://g:1'],
      '--inventory-url and --gateway-urls need --redis-url (or REDIS_URL): the Redis those services share, got none',
    ],
    [
      ['--inventory-url', 'i:1', '--gateway-urls', 'http://g:1', ...redis],
      '--inventory-url must be http:// or https:// URLs, got "i:1"',
    ],
    [
      ['--inventory-url', 'http://i:1', '--gateway-urls', 'http://g:1,,http://g:2', ...redis],
      '--gateway-urls must be http:// or https:// URLs, got ""',
    ],
    [
      ['--inventory-url', 'http://i:1', '--gateway-urls', 'http://g:1,ftp://g:2', ...redis],
      '--gateway-urls must be http:// or https:// URLs, got "ftp://g:2"',
    ],
    [
      ['--inventory-url', 'http://i:1', '--gateway-urls', 'http://g:1,http://g:1/', ...redis],
      '--gateway-urls names "http://g:1" twice, in "http://g:1,http://g:1/"',
    ],
    [
      ['--inventory-url', 'http://i:1', '--gateway-urls', Array(9).fill('http://g:1').join(','), ...redis],
      '--gateway-urls takes 1 to 8 gateways, got 9',
    ],
    [
      [
        '--inventory-url',
        'http://i:1',
        '--gateway-urls',
        'http://g:1,http://g:2',
        '--instances',
        '3',
        ...redis,
      ],
      '--instances "3" does not match the 2 --gateway-urls',
    ],
    [['--dashboard-host', ''], '--dashboard-host must be a host name or address, got ""'],
    [
      ['--dashboard-host', 'http://0.0.0.0'],
      '--dashboard-host must be a host name or address, got "http://0.0.0.0"',
    ],
  ])('services elsewhere: %j fails with a CliError naming the flag and the value', (argv, message) => {
    expect(() => parseCli(argv, {})).toThrow(CliError);
    expect(() => parseCli(argv, {})).toThrow(message);
  });

  it.each([
    [['--instances', '0'], '--instances must be an integer from 1 to 8, got "0"'],
    [['--instances', '2.5'], '--instances must be an integer from 1 to 8, got "2.5"'],
    [['--duration', '5'], '--duration must be an integer from 10 to 3600, got "5"'],
    [['--duration', 'NaN'], '--duration must be an integer from 10 to 3600, got "NaN"'],
    [['--scenario', 'steady,crash'], '--scenario: unknown phase(s) ["crash"]'],
    [
      ['--redis-url', 'localhost:6379'],
      '--redis-url (or REDIS_URL) must start with redis:// or rediss://, got "localhost:6379"',
    ],
    [['--linger', '4000'], '--linger must be an integer from 0 to 3600, got "4000"'],
    [['--dashboard-port', '70000'], '--dashboard-port must be an integer from 0 to 65535, got "70000"'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('%j fails with a CliError naming the flag and the value', (argv, message) => {
    expect(() => parseCli(argv, {})).toThrow(CliError);
    expect(() => parseCli(argv, {})).toThrow(message);
  });
});
