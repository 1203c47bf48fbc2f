import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CATALOG_FILE } from '../../src/log-storage/sqlite/catalog-schema';
import { SqliteCatalog } from '../../src/log-storage/sqlite/sqlite-catalog';
import { describeCatalogContract } from './catalog.contract';

jest.setTimeout(60_000);

describeCatalogContract(SqliteCatalog.name, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-catalog-contract-'));
  const file = path.join(dir, CATALOG_FILE);
  const opened: SqliteCatalog[] = [new SqliteCatalog(file)];
  return {
    catalog: opened[0],
    reopen: async () => {
      const next = new SqliteCatalog(file);
      opened.push(next);
      return next;
    },
    dispose: async () => {
      for (const catalog of opened) await catalog.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
