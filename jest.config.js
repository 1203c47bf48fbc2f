process.env.TZ = 'UTC';

const common = {
  transform: { '^.+\\.ts$': 'ts-jest' },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testEnvironment: 'node',
};

module.exports = {
  // a global option: inside a project entry jest ignores it, and e2e tests fell back to 5 s on a busy machine
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', rootDir: 'src', testRegex: '.*\\.spec\\.ts$' },
    { ...common, displayName: 'e2e', rootDir: 'test', testRegex: '.*\\.e2e-spec\\.ts$' },
  ],
};
