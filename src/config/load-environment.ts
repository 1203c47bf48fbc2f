import * as dotenv from 'dotenv';
import * as fs from 'node:fs';
import { AppConfig, loadAppConfig } from './app-config';

/** The variables from `.env` (when present) under the real environment, then `overrides`. */
export function readEnvironment(overrides: Record<string, string> = {}): Record<string, string | undefined> {
  const fromFile = fs.existsSync('.env') ? dotenv.parse(fs.readFileSync('.env')) : {};
  return { ...fromFile, ...process.env, ...overrides };
}

/** Reads `.env` (when present) under the real environment, then validates everything. */
export function loadConfigFromEnvironment(overrides: Record<string, string> = {}): AppConfig {
  return loadAppConfig(readEnvironment(overrides));
}
