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
      redisUrl: 'redis://127.0.0.1:7000',
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
    [['--dashboard-port', '70000'], '--dashboard-port must be an integer from 0 to 65535, got "70000"'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('%j fails with a CliError naming the flag and the value', (argv, message) => {
    expect(() => parseCli(argv, {})).toThrow(CliError);
    expect(() => parseCli(argv, {})).toThrow(message);
  });
});
