/**
 * Unsets these environment variables before each test of the enclosing block and puts back what
 * they were after it (for code that reads process.env itself, such as the quota plugin).
 */
export function unsetEnvForEachTest(...names: string[]): void {
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  beforeEach(() => {
    for (const name of names) delete process.env[name];
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}
