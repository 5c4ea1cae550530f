/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // End-to-end suites start real Envoy processes; two workers fit this machine's two cores.
  maxWorkers: 2,
  testTimeout: 60000,
  verbose: false,
};
