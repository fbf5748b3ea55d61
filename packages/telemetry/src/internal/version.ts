/**
 * This package's version, reported as the OpenTelemetry instrumentation scope version. A test keeps
 * it equal to package.json's.
 *
 * @internal
 */
export const TELEMETRY_VERSION = '0.1.0';
