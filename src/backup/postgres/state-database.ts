import { Client } from 'pg';
import { redactDatabaseUrl } from '../../common/database-url';
import { CONNECT_TIMEOUT_MS, MigratedPool } from '../../log-storage/postgres/migrated-pool';

/** The connection to DATABASE_URL that the state every replica shares goes through (the catalog has its own). */
export const STATE_DATABASE = Symbol('STATE_DATABASE');

/** the answer time of a statement (pooled or on a dedicated session) when no REPLICA_TIMEOUT_SECONDS is given */
const QUERY_TIMEOUT_S = 30;

/**
 * A pool on DATABASE_URL for job history, checkpoints, lock holders and replicas, with the schema brought
 * up to date (under the migration lock) before the first query. Dedicated connections — for session-level
 * advisory locks and LISTEN — are plain clients: when the process dies they close, and the database
 * releases what they held.
 */
export class StateDatabase extends MigratedPool {
  /**
   * `deadPeerSeconds`: how soon the database should notice that a dedicated connection's replica is gone
   * without closing it (a lost machine, a cut network), and release its locks and leadership. A killed
   * process closes its connections at once; a silent peer is only found by TCP keepalives, whose server
   * defaults take hours, so each dedicated session asks for its own.
   */
  constructor(
    url: string,
    private readonly deadPeerSeconds?: number,
  ) {
    // job history, checkpoints, lock holders and heartbeats: short statements, given the dedicated sessions' time
    super(url, { context: StateDatabase.name, max: 5, applicationName: 'dify-log-vault-state', queryTimeoutMs: (deadPeerSeconds ?? QUERY_TIMEOUT_S) * 1000 });
  }

  /** A connection of its own (not pooled), for advisory locks held by the session or for LISTEN. */
  async dedicated(name: string): Promise<Client> {
    await this.migrated();
    const client = new Client({
      connectionString: this.deadPeerSeconds ? withSessionOptions(this.url, deadPeerOptions(this.deadPeerSeconds)) : this.url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // these sessions run only short statements (try a lock, SELECT 1, LISTEN): one that does not answer
      // in time is a hung server or a cut network, and must not hold up the leader's tick forever
      query_timeout: (this.deadPeerSeconds ?? QUERY_TIMEOUT_S) * 1000,
      application_name: `dify-log-vault-${name}`,
    });
    client.on('error', (error) => this.logger.warn(`The ${name} connection to PostgreSQL failed: ${this.scrub(error)}`));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new Error(`PostgreSQL at ${redactDatabaseUrl(this.url)} cannot be reached: ${this.scrub(error)}`);
    }
    return client;
  }

  /** Answers within the timeout or throws: readiness. */
  async ping(timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.pool.query('SELECT 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Server-side session settings that find a silent peer in about `seconds`: keepalive probes from half of
 * it, then three probes a sixth of it apart (the locks' connections are idle between queries); and, for a
 * session whose data the peer stopped acknowledging (which keepalives do not cover), `tcp_user_timeout`.
 */
export function deadPeerOptions(seconds: number): string {
  const idle = Math.max(1, Math.floor(seconds / 2));
  const interval = Math.max(1, Math.floor(seconds / 6));
  return [
    `-c tcp_keepalives_idle=${idle}`,
    `-c tcp_keepalives_interval=${interval}`,
    '-c tcp_keepalives_count=3',
    `-c tcp_user_timeout=${Math.max(1, Math.round(seconds * 1000))}`,
  ].join(' ');
}

/**
 * DATABASE_URL with `options` added to the session options it already has (`?options=...`): pg lays the
 * URL's parameters over a client's own settings, so options given beside the URL would be dropped. The
 * URL's own settings come last and win over ours for the same name.
 */
export function withSessionOptions(url: string, options: string): string {
  const parsed = new URL(url);
  const own = parsed.searchParams.get('options');
  parsed.searchParams.set('options', own ? `${options} ${own}` : options);
  return parsed.toString();
}
