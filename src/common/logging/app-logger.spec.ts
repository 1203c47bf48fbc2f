import { AppLogger, enabledLevels, loggerOptionsFromEnv } from './app-logger';

describe(AppLogger.name, () => {
  const capture = (env: Record<string, string>) => {
    const out: { stream: string; line: string }[] = [];
    const sut = new AppLogger(loggerOptionsFromEnv(env, false), (stream, line) => out.push({ stream, line }));
    return { sut, out };
  };

  it('reads LOG_LEVEL and LOG_FORMAT, colours only on a terminal without NO_COLOR', () => {
    expect(loggerOptionsFromEnv({}, true)).toEqual({ level: 'log', format: 'text', colors: true });
    expect(loggerOptionsFromEnv({}, false).colors).toBe(false);
    expect(loggerOptionsFromEnv({ NO_COLOR: '1' }, true).colors).toBe(false);
    expect(loggerOptionsFromEnv({ LOG_FORMAT: 'json', LOG_LEVEL: 'debug' }, true)).toEqual({ level: 'debug', format: 'json', colors: false });
    expect(() => loggerOptionsFromEnv({ LOG_LEVEL: 'trace' })).toThrow('LOG_LEVEL must be one of: error, warn, log, debug, verbose');
    expect(() => loggerOptionsFromEnv({ LOG_FORMAT: 'yaml' })).toThrow('LOG_FORMAT must be one of: text, json');
    expect(enabledLevels('warn')).toEqual(['fatal', 'error', 'warn']);
  });

  it('writes one JSON object per line, errors with their stack on stderr', () => {
    const { sut, out } = capture({ LOG_FORMAT: 'json' });
    sut.log('Listening', 'Main');
    sut.error('Broke', 'Error: Broke\n    at x', 'Jobs');
    sut.debug('hidden at the default level', 'Jobs');
    expect(out).toHaveLength(2);
    expect(JSON.parse(out[0].line)).toEqual({ time: expect.any(String), level: 'log', context: 'Main', message: 'Listening' });
    expect(out[1].stream).toBe('stderr');
    expect(JSON.parse(out[1].line)).toMatchObject({ level: 'error', context: 'Jobs', message: 'Broke', stack: 'Error: Broke\n    at x' });
    expect(out.every((o) => o.line.endsWith('\n') && o.line.indexOf('\n') === o.line.length - 1)).toBe(true);
  });

  it("prints Nest's route map only at debug", () => {
    const quiet = capture({ LOG_FORMAT: 'json' });
    quiet.sut.log('Mapped {/api, GET} route', 'RouterExplorer');
    expect(quiet.out).toEqual([]);
    const loud = capture({ LOG_FORMAT: 'json', LOG_LEVEL: 'debug' });
    loud.sut.log('Mapped {/api, GET} route', 'RouterExplorer');
    expect(JSON.parse(loud.out[0].line)).toMatchObject({ level: 'debug', context: 'RouterExplorer' });
  });

  it("prints Nest's module loading and start lines only at debug, and its errors always", () => {
    const quiet = capture({ LOG_FORMAT: 'json' });
    quiet.sut.log('AppModule dependencies initialized', 'InstanceLoader');
    quiet.sut.log('Starting Nest application...', 'NestFactory');
    quiet.sut.log('Nest application successfully started', 'NestApplication');
    expect(quiet.out).toEqual([]);
    quiet.sut.error('Nest can\'t resolve dependencies', undefined, 'ExceptionHandler');
    expect(JSON.parse(quiet.out[0].line)).toMatchObject({ level: 'error', context: 'ExceptionHandler' });
    const loud = capture({ LOG_FORMAT: 'json', LOG_LEVEL: 'debug' });
    loud.sut.log('AppModule dependencies initialized', 'InstanceLoader');
    expect(JSON.parse(loud.out[0].line)).toMatchObject({ level: 'debug', context: 'InstanceLoader' });
  });
});
