import { exitOnStartUpFailure } from './start-up';

// Loaded on demand: importing the modules reads the cron settings, and a bad one must end as one line too.
if (require.main === module) {
  import('./server').then(({ startServer }) => startServer()).catch(exitOnStartUpFailure);
}
