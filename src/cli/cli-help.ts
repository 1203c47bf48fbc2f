import { CliCommand, CliFlag, EXIT } from './cli-command';

const PROGRAM = 'npm run cli --';

function flagUsage(name: string, flag: CliFlag): string {
  return flag.type === 'boolean' ? `--${name}` : `--${name} ${flag.value ?? 'VALUE'}`;
}

/** `<command> --help`: what it does, every flag, examples, the exit codes. */
export function commandHelp(command: CliCommand): string {
  const flags = Object.entries(command.flags);
  const width = Math.max(12, ...flags.map(([n, f]) => flagUsage(n, f).length)) + 2;
  return [
    `usage: ${PROGRAM} ${command.name}${flags.length ? ' [flags]' : ''}`,
    '',
    command.summary,
    '',
    'flags:',
    ...flags.map(([n, f]) => `  ${flagUsage(n, f).padEnd(width)}${f.description}`),
    `  ${'-h, --help'.padEnd(width)}this help`,
    '',
    'examples:',
    ...command.examples.map((e) => `  ${e}`),
    '',
    EXIT_CODES_TEXT,
  ].join('\n');
}

/** `--help`: every command with its flags and an example. */
export function generalHelp(commands: CliCommand[]): string {
  const blocks = commands.map((c) => {
    const flags = Object.entries(c.flags).map(([n, f]) => (f.required ? flagUsage(n, f) : `[${flagUsage(n, f)}]`));
    return [`  ${c.name}  ${c.summary}`, ...(flags.length ? [`      flags: ${flags.join(' ')}`] : []), `      e.g. ${c.examples[0]}`].join('\n');
  });
  return [
    `usage: ${PROGRAM} <command> [flags]    (run \`npm run build\` once first)`,
    '',
    'One-shot commands on the archive, without the HTTP server. Configuration comes from .env and the',
    'environment, as for the server.',
    '',
    'commands:',
    ...blocks,
    '',
    `\`${PROGRAM} <command> --help\` describes one command and its flags.`,
    '',
    EXIT_CODES_TEXT,
  ].join('\n');
}

export const EXIT_CODES_TEXT = [
  'exit codes:',
  `  ${EXIT.done}  done`,
  `  ${EXIT.failed}  failed (a source or a file had a problem, or bad configuration)`,
  `  ${EXIT.usage}  usage: unknown command or flag, or a bad flag value`,
  `  ${EXIT.locked}  locked: another server or CLI is backing up this archive`,
  `  ${EXIT.interrupted}  interrupted by SIGINT or SIGTERM`,
].join('\n');
