import { PostgresCatalog } from '../../src/log-storage/postgres/postgres-catalog';
import { createDatabase, dropDatabase } from '../support/postgres';
import { describeCatalogContract } from './catalog.contract';

jest.setTimeout(120_000);

describeCatalogContract(PostgresCatalog.name, async () => {
  const url = await createDatabase('catalog_contract');
  const opened: PostgresCatalog[] = [new PostgresCatalog({ url, ftsLanguage: 'simple' })];
  return {
    catalog: opened[0],
    reopen: async () => {
      const next = new PostgresCatalog({ url, ftsLanguage: 'simple' });
      opened.push(next);
      return next;
    },
    dispose: async () => {
      for (const catalog of opened) await catalog.close();
      await dropDatabase(url);
    },
  };
});
