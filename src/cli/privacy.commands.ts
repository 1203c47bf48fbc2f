import { JobsService } from '../backup/jobs.service';
import { EndUserParamsDto, EraseEndUserQueryDto } from '../conversation-logs/dto/privacy.dto';
import { LogStorageService } from '../log-storage/log-storage.service';
import { JSON_FLAG, ORGANIZATION_FLAG } from './archive-flags';
import { CliCommand, CliFlag, EXIT } from './cli-command';
import { validateFlags } from './cli-flags';

const END_USER_FLAG: Record<string, CliFlag> = {
  'end-user': { type: 'string', value: 'USER', required: true, description: "the end user's Dify id or session id (the `user` string the app sent)", field: 'end_user' },
};

const ERASE_FLAGS: Record<string, CliFlag> = {
  organization: { ...ORGANIZATION_FLAG, description: "only this organization's conversations (default: every organization)" },
  app: { type: 'string', value: 'ID', description: "only this app's conversations (default: every app)", field: 'app_id' },
  'dry-run': { type: 'boolean', description: 'report what would be erased, erase nothing', field: 'dry_run' },
  json: JSON_FLAG,
};

/** `erase-user`: the API's DELETE /api/end-users/{end_user}. */
export const eraseUserCommand: CliCommand = {
  name: 'erase-user',
  replaysWrites: true,
  summary: "erase every conversation of one end user for good (files, catalog, search, stats); later backups skip them",
  flags: { ...END_USER_FLAG, ...ERASE_FLAGS },
  examples: ['npm run cli -- erase-user --end-user user-42 --dry-run', 'npm run cli -- erase-user --end-user user-42 --organization acme'],
  async run({ app: context, options, out }) {
    const { end_user } = validateFlags(EndUserParamsDto, options, END_USER_FLAG);
    const query = validateFlags(EraseEndUserQueryDto, options, ERASE_FLAGS);
    const app = await context();
    const jobs = app.get(JobsService);
    const result = await app.get(LogStorageService).eraseEndUser(end_user, {
      ...(query.organization_id !== undefined ? { organizationId: query.organization_id } : {}),
      ...(query.app_id !== undefined ? { appId: query.app_id } : {}),
      dryRun: query.dry_run ?? false,
      actor: { route: 'cli' },
      forgetPaths: (paths) => jobs.forgetArchivePaths(paths),
    });
    if (options.json) {
      out.line(JSON.stringify(result, null, 2));
      return EXIT.done;
    }
    out.line(result.message);
    out.line(`conversations ${result.conversations}, days ${result.days.length ? `${result.days[0]} to ${result.days[result.days.length - 1]}` : '-'}`);
    return EXIT.done;
  },
};
