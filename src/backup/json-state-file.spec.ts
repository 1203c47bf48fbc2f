import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonStateFile } from './json-state-file';

describe(JsonStateFile.name, () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'state-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads null before the first write, then the last written document, leaving no temp file', async () => {
    const sut = new JsonStateFile<{ n: number }>(path.join(dir, 'state', 'x.json'));
    expect(await sut.read()).toBeNull();
    await Promise.all([sut.write({ n: 1 }), sut.write({ n: 2 }), sut.write({ n: 3 })]);
    expect(await sut.read()).toEqual({ n: 3 });
    expect(fs.readdirSync(path.join(dir, 'state'))).toEqual(['x.json']);
  });

  it('moves a corrupt file aside instead of failing', async () => {
    const file = path.join(dir, 'x.json');
    fs.writeFileSync(file, '{"n": 1');
    const sut = new JsonStateFile<{ n: number }>(file);
    expect(await sut.read()).toBeNull();
    expect(fs.readdirSync(dir).some((f) => f.startsWith('x.json.corrupt-'))).toBe(true);
  });
});
