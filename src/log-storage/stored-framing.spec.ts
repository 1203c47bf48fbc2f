import * as zlib from 'node:zlib';
import { flatten, framed, frameStored, looksWhole } from './stored-framing';

describe('stored framing', () => {
  it('flattens line breaks to spaces within the given range only', () => {
    const buf = Buffer.from('a\r\nb\nc\n');
    flatten(buf, 0, 5);
    expect(buf.toString()).toBe('a  b c\n');
  });

  it('takes an object without surrounding white space as whole', () => {
    expect(looksWhole(Buffer.from('{}'), 0, 2)).toBe(true);
    expect(looksWhole(Buffer.from('{} '), 0, 3)).toBe(false);
    expect(looksWhole(Buffer.from('[1]'), 0, 3)).toBe(false);
    expect(looksWhole(Buffer.from('{'), 0, 1)).toBe(false);
  });

  it('frames one object for JSON (leading comma) and NDJSON (one line)', () => {
    expect(framed('json', Buffer.from('{\n"a":1\n}')).toString()).toBe(',{\n"a":1\n}');
    expect(framed('ndjson', Buffer.from('{\n"a":1\n}')).toString()).toBe('{ "a":1 }\n');
  });

  it('joins passing objects into runs and sends back the others by index', () => {
    const items = [
      { key: 'a.json', size: 2 },
      { key: 'b.json.gz', size: 0 },
      { key: 'c.json', size: 5 },
      { key: 'd.json', size: 2 },
      { key: 'e.json', size: 2 },
      { key: 'f.json.gz', size: 3 },
    ];
    const gz = zlib.gzipSync('{"b":1}');
    items[1].size = gz.length;
    const stored = [Buffer.from('{}'), gz, Buffer.from('{}'), null, Buffer.from('{}'), Buffer.from('bad')];
    const segments = frameStored('json', items, stored);
    expect(segments.map((s) => (s.kind === 'bytes' ? [s.items, s.data.toString()] : s.index))).toEqual([[2, ',{},{"b":1}'], 2, 3, [1, ',{}'], 5]);
  });
});
